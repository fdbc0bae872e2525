"""The Dockerfile checks and fixes on real Dockerfiles of public projects
(tests/realworld), without an image: no LS501 on manifest-first copies, fix
texts that keep every step, no fix for a stage the target does not build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from layerscope.dockerfile.parser import Dockerfile, parse
from layerscope.fix.planner import plan
from layerscope.fix.verify import _source_dir, _touch
from layerscope.rules.order import check_dockerfile
from layerscope.shell.commands import split_commands
from layerscope.shell.ecosystems import installs, is_manifest_source, pip_without_cache
from layerscope.stages import roles
from tests.cli import layerscope
from tests.realworld import ROOT, load


def _df(name: str) -> Dockerfile:
    return parse(load(name).dockerfile, f"{name}/Dockerfile")


def _rules(name: str, target: str | None = None) -> list[tuple[str, int]]:
    return [(f.rule, f.location[1]) for f in check_dockerfile(_df(name), target) if f.location]


@pytest.mark.parametrize(
    "source", ["package*.json", "./package*.json", "requirements*.txt", "Gemfile*", "go.*",
               "requirements.txt", "*.csproj", "poetry.lock", "./requirements", "requirements/"],
)  # fmt: skip
def test_manifest_globs_are_manifests(source: str) -> None:
    assert is_manifest_source(source)


@pytest.mark.parametrize("source", ["*.json", "src*", "*", "pack*", "app.py", "src/", "."])
def test_other_globs_are_not(source: str) -> None:
    assert not is_manifest_source(source)


@pytest.mark.parametrize("name", ["node-web-app", "voting-result", "voting-vote", "django-dev"])
def test_manifest_first_is_no_cache_bust(name: str) -> None:
    """COPY package*.json ./ (or requirements.txt), install, then COPY . .: no LS501."""
    assert [r for r in _rules(name) if r[0] == "LS501"] == []


def test_install_and_build_in_one_run_after_the_source() -> None:
    """welcome-to-docker: manifests first, then src/ and public/, then one RUN that
    installs, builds and removes node_modules. The fix moves the installs up and
    keeps the build and the rm; it copies no manifest again (line 8 did)."""
    (f,) = [f for f in check_dockerfile(_df("welcome-to-docker")) if f.rule == "LS501"]
    assert f.location is not None and f.location[1] == 11  # COPY ./src ./src
    assert f.fix.startswith(
        "Install the dependencies before the source is copied, every other step kept: "
        "RUN npm install && npm install -g serve; COPY ./src ./src; COPY ./public ./public; "
        "RUN npm run build && rm -fr node_modules."
    )
    assert "separate stage" in f.fix  # the split keeps node_modules in a layer: said
    assert "COPY package" not in f.fix and "./src/" not in f.fix


def test_source_before_pip_wheel_in_a_builder_stage() -> None:
    """django-on-docker Dockerfile.prod: COPY . before pip wheel -r requirements.txt
    (pip install --upgrade pip and flake8 before it install named packages only)."""
    df = _df("django-prod")
    (f,) = [f for f in check_dockerfile(df) if f.rule == "LS501"]
    assert f.location is not None and f.location[1] == 22
    assert "pip wheel" in f.message
    assert f.fix.endswith(
        "COPY ./requirements.txt .; RUN pip wheel --no-cache-dir --no-deps --wheel-dir "
        "/usr/src/app/wheels -r requirements.txt; COPY . /usr/src/app/; "
        "RUN flake8 --ignore=E501,F401 ."
    )
    assert "builder stage: the fix does not change the final image; it speeds up builds" in (
        f.message
    )


def test_named_installs_do_not_read_manifests() -> None:
    (a,) = installs("pip install --upgrade pip")
    (b,) = installs("npm install -g serve")
    (c,) = installs("pip wheel --wheel-dir /w -r requirements.txt")
    (d,) = installs("npm ci")
    assert a.named and b.named and not c.named and not d.named
    assert c.manifests == ("requirements.txt",)


def test_stage_roles() -> None:
    df = _df("voting-vote")  # base, dev FROM base, final FROM base
    r = roles(df)
    assert r.final == {0, 2} and r.built == {0, 2}
    assert roles(df, "dev").final == {0, 1}
    prod = _df("django-prod")  # builder, final COPY --from=builder
    r = roles(prod)
    assert r.final == {1} and r.built == {0, 1} and r.builder(prod.stages[0])


@pytest.mark.parametrize(
    ("name", "line", "target"),
    [("voting-vote", 18, "dev"), ("voting-result", 28, "development")],
)
def test_no_fix_for_a_stage_the_target_does_not_build(name: str, line: int, target: str) -> None:
    """The dev stage's RUN (pip install watchdog, npm install -g nodemon) is fixed only
    when the build's target is that stage."""
    df = _df(name)
    assert line not in [f.line for f in plan(df)]
    assert line in [f.line for f in plan(df, target=target)]


def test_builder_stage_gets_no_byte_fixes() -> None:
    """django-prod: the builder's apt-get and pip lines get no no-cache fix (their
    bytes never reach the image); the final stage's do."""
    lines = {f.line for f in plan(_df("django-prod"))}
    assert not lines & {16, 20, 21}
    assert {52, 55} <= lines


def test_pip_no_cache_abbreviation() -> None:
    for text, want in [
        ("pip install --no-cache /wheels/*", True),
        ("pip install --no-cache-dir x", True),
        ("pip install --no-cac x", True),
        ("PIP_NO_CACHE_DIR=1 pip install x", True),
        ("pip install --no-compile x", False),
        ("pip install --no-c x", False),
    ]:
        (c,) = split_commands(text)
        assert pip_without_cache(c) is want, text


def test_check_passes_with_pip_no_cache(tmp_path: Path) -> None:
    """The django-prod final stage's install line: --no-cache already keeps pip's cache
    out, so there is nothing to fix and --check exits 0."""
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11\nCOPY --from=wheels /w /wheels\nRUN pip install --no-cache /wheels/*\n"
    )
    proc = layerscope("fix", "--dockerfile", "Dockerfile", "--check", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to fix" in proc.stderr


def test_verify_touches_a_source_file_not_a_glob(tmp_path: Path) -> None:
    """welcome-to-docker copies package*.json, then ./src: the touched file is in
    src/; a COPY whose source is a glob or a file touches the context root."""
    ctx = tmp_path / "ctx"
    shutil.copytree(ROOT / "welcome-to-docker", ctx)
    df = _df("welcome-to-docker")
    assert _source_dir(df, None) == "src"
    assert _touch(str(ctx), "src") == "src/index.js"
    glob = parse("FROM x\nCOPY package*.json ./\nCOPY app*.js ./\nRUN npm ci\n")
    assert _source_dir(glob, None) == ""
    # Even when given a glob or a file, the touch lands in a real directory.
    for under in ("package*.json", "package.json", "../x"):
        rel = _touch(str(ctx), under)
        assert (ctx / rel).is_file() and not rel.startswith(("package", ".."))


def test_go_multistage_from_the_docker_docs() -> None:
    """docker/docker-gs-ping Dockerfile.multistage: go mod download before COPY *.go,
    a test stage the release target does not build: nothing to report or fix."""
    df = _df("go-multistage")
    r = roles(df)
    assert r.final == {2} and r.built == {0, 2}  # run-test-stage (1) is not built
    assert check_dockerfile(df) == [] and plan(df) == []
    # Built as the test stage, its FROM chain is the image; still nothing wrong.
    assert roles(df, "run-test-stage").final == {0, 1}
    assert check_dockerfile(df, "run-test-stage") == []


def test_java_maven_wrapper_is_copied_with_the_manifests() -> None:
    """The Docker docs' Java guide: COPY .mvn/ .mvn and COPY mvnw pom.xml ./ before
    ./mvnw dependency:resolve is the manifest-first pattern (it was an LS501 whose
    fix added a download step before any pom.xml was copied)."""
    df = _df("java-maven")
    assert check_dockerfile(df) == []
    assert plan(df, context=str(ROOT / "java-maven")) == []
    assert roles(df).built == {0, 2, 3} and roles(df).final == {3}  # not development


def test_java_without_the_manifest_first_gets_no_download_step_before_its_pom() -> None:
    """Source first, pom.xml later, then an install that builds the project: the
    patcher must not add a dependency download above the COPY of pom.xml."""
    df = parse(
        "FROM maven\nWORKDIR /app\nCOPY src ./src\nCOPY mvnw pom.xml ./\nRUN ./mvnw package\n"
    )
    for fix in plan(df):
        assert fix.kind != "reorder"


def test_apt_heavy_buildpack_style() -> None:
    """One RUN: update, install, remove the lists: nothing to fix in the text."""
    df = _df("apt-heavy")
    assert check_dockerfile(df) == [] and plan(df) == []


def test_verify_report_sets_measured_against_predicted() -> None:
    from layerscope.fix.model import Fix
    from layerscope.fix.verify import FixSaving, Rebuild, Verification, report

    fix = Fix("no-cache", "LS210", 15, "keep the npm cache out", (), bytes=4000)
    same = FixSaving(fix, 10_000, 4000)
    short = FixSaving(Fix("no-cache", "LS201", 3, "apt", (), bytes=5000), 10_000, 4900)
    r = Rebuild(5, 3, 1, True)
    text = report(Verification("classic", 14_000, 10_000, (same, short), "src/a.js", r, r))
    assert "line 15 no-cache: saves 4000 bytes (as predicted)" in text
    assert "line 3 no-cache: saves 4900 bytes (predicted 5000, -100: the rebuilt steps" in text


def test_ls501_fix_moves_whole_installs_and_keeps_env_and_updates() -> None:
    """An apt RUN (update, install, cleanup) moves whole; a Go build keeps its
    CGO_ENABLED=0 and gets go mod download before the source."""
    apt = parse(
        "FROM x\nWORKDIR /app\nCOPY . .\n"
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "RUN pip install -r requirements.txt\n"
    )
    (f,) = check_dockerfile(apt)
    assert f.fix.endswith(
        "COPY requirements.txt ./; RUN apt-get update && apt-get install -y curl && "
        "rm -rf /var/lib/apt/lists/*; RUN pip install -r requirements.txt; COPY . ."
    )
    go = parse("FROM golang\nWORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out ./cmd\n")
    (g,) = check_dockerfile(go)
    assert g.fix.endswith(
        "COPY go.mod go.sum ./; RUN go mod download; COPY . .; "
        "RUN CGO_ENABLED=0 go build -o /out ./cmd"
    )


def test_verify_counts_the_installs_of_the_stages_the_target_needs() -> None:
    """voting-result with the classic builder runs the development stage too; its
    npm install -g nodemon after COPY . . must not make the production build's
    npm ci look rebuilt."""
    from layerscope.fix.verify import Built, _rebuild

    df = _df("voting-result")
    ci = "RUN npm ci  && npm cache clean --force  && mv /app/node_modules /node_modules"
    steps = (ci, "COPY . .", "RUN npm install -g nodemon")
    built = Built("t", steps, cached=(ci,))
    r = _rebuild(df, built)
    assert (r.dependency_steps, r.dependency_cached) == (1, True)
    dev = _rebuild(df, built, "development")
    assert (dev.dependency_steps, dev.dependency_cached) == (2, False)


def test_ls501_fix_keeps_the_venv_before_the_install_and_the_copy_flags() -> None:
    """awesome-compose nginx-wsgi-flask: COPY --chown=nonroot:nonroot . . (line 19),
    then ENV VIRTUAL_ENV, RUN python -m venv, ENV PATH, RUN pip install. The fix
    must make the venv before the install that runs its pip (it moved the install
    above the venv: pip ran as nonroot outside it), and keep the COPY's --chown."""
    (f,) = [f for f in check_dockerfile(_df("compose-wsgi-flask")) if f.rule == "LS501"]
    assert f.location is not None and f.location[1] == 19
    assert f.fix.endswith(
        "COPY --chown=nonroot:nonroot requirements.txt ./; "
        "ENV VIRTUAL_ENV=/home/app/venv; RUN python -m venv $VIRTUAL_ENV; "
        'ENV PATH="/home/app/venv/bin:$PATH"; RUN export FLASK_APP=app.py; '
        "RUN pip install -r requirements.txt; COPY --chown=nonroot:nonroot . ."
    ), f.fix


def test_ls501_fix_runs_the_dependency_step_in_the_copy_destination() -> None:
    """A WORKDIR between the source COPY (absolute destination) and the install moves
    up with it: dotnet restore must run where the project file was copied."""
    df = parse(
        "FROM sdk AS build\nCOPY . /src\nWORKDIR /src\nRUN ls\n"
        'RUN dotnet build "app.csproj" -c Release -o /app/build\n'
        "FROM runtime\nCOPY --from=build /app/build /app\n"
    )
    (f,) = [f for f in check_dockerfile(df) if f.rule == "LS501"]
    assert "WORKDIR /src; RUN dotnet restore; COPY . /src; RUN ls; RUN dotnet build" in f.fix


def test_ls501_offers_no_cargo_fetch_before_the_sources_exist() -> None:
    """awesome-compose wasmedge-mysql-nginx: COPY Cargo.toml, COPY src, cargo build.
    cargo fetch without src/main.rs fails (no target in the manifest): no such step
    is proposed, and the finding says why no automatic reorder is given."""
    df = parse(
        "FROM rust AS build\nWORKDIR /src\nCOPY Cargo.toml .\nCOPY src ./src\n"
        "RUN cargo build --release\nFROM scratch\nCOPY --from=build /src/target/x /x\n"
    )
    for f in check_dockerfile(df):
        assert "cargo fetch" not in f.fix, f.fix
    assert all(fix.kind != "reorder" for fix in plan(df))


def test_apk_update_then_add_no_cache_removes_the_index_too() -> None:
    """awesome-compose's dev-envs stages run apk update, then apk add git. --no-cache
    on the add keeps no index, but the one apk update stored stays: the fix also
    removes /var/cache/apk, and where it cannot append (a heredoc without set -e)
    it offers nothing rather than a flag that saves nothing."""
    df = _df("compose-flask")  # the default target is the dev-envs stage
    assert roles(df).final == {0, 1}
    assert plan(df) == []
    assert plan(df, target="builder") == []
    (fix,) = plan(parse("FROM alpine\nRUN apk update && apk add git\n"))
    text = "".join(e.text for e in fix.edits)
    assert "--no-cache" in text and "rm -rf /var/cache/apk/*" in text
    (alone,) = plan(parse("FROM alpine\nRUN apk add git\n"))
    assert "rm -rf" not in "".join(e.text for e in alone.edits)


def test_verify_touches_no_file_the_dockerignore_leaves_out(tmp_path: Path) -> None:
    """awesome-compose's Node apps ignore node_modules (and build/, **/*.md): a context
    with node_modules installed must not get its change there, where the build never
    sees it and every rebuild looks cached."""
    from layerscope.fix.verify import pick_source_file

    (tmp_path / ".dockerignore").write_text("node_modules\n**/*.md\nbuild/\n/dist\n")
    for rel in ("node_modules/a/index.js", "README.md", "docs/x.md", "build/y.js",
                "dist/z.js", "public/sub/README.md", "src/app.js"):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    assert pick_source_file(str(tmp_path)) == "src/app.js"


def test_a_requirements_directory_copied_first_is_manifest_first() -> None:
    """cookiecutter-django's production Dockerfile: COPY ./requirements . then pip wheel
    -r ${BUILD_ENVIRONMENT}.txt (production.txt reads -r base.txt). The directory
    holds requirement files only: no LS501, and no reorder that would copy
    ${BUILD_ENVIRONMENT}.txt from the context root, where it is not."""
    from layerscope.shell.ecosystems import is_manifest_file

    df = parse(
        "FROM python:3.12-slim AS python-build-stage\nARG BUILD_ENVIRONMENT=production\n"
        "RUN apt-get update && apt-get install --no-install-recommends -y build-essential\n"
        "COPY ./requirements .\n"
        "RUN pip wheel --wheel-dir /usr/src/app/wheels -r ${BUILD_ENVIRONMENT}.txt\n"
        "FROM python:3.12-slim AS python-run-stage\nWORKDIR /app\n"
        "COPY --from=python-build-stage /usr/src/app/wheels /wheels/\n"
        "RUN pip install --no-cache-dir --no-index --find-links=/wheels/ /wheels/* "
        "&& rm -rf /wheels/\nCOPY . /app\n"
    )
    assert [f for f in check_dockerfile(df) if f.rule == "LS501"] == []
    assert all(f.kind != "reorder" for f in plan(df))
    assert is_manifest_file("requirements/base.txt") and is_manifest_file("app/requirements/x.in")
    assert not is_manifest_file("requirements/notes.md") and not is_manifest_file("src/base.txt")


def test_ls501_fix_keeps_the_user_of_the_install() -> None:
    """COPY . ., USER app, pip install --user: the install must still run as app."""
    df = parse(
        "FROM python\nWORKDIR /home/app\nCOPY . .\nUSER app\n"
        "RUN pip install --user -r requirements.txt\n"
    )
    (f,) = [f for f in check_dockerfile(df) if f.rule == "LS501"]
    assert f.fix.endswith(
        "COPY requirements.txt ./; USER app; RUN pip install --user -r requirements.txt; COPY . ."
    ), f.fix


def test_verify_reads_dockerignore_exceptions(tmp_path: Path) -> None:
    """An allow-list .dockerignore (``*``, then ``!src``): the change must land in src/,
    the only part of the context the build sees."""
    from layerscope.fix.verify import pick_source_file

    (tmp_path / ".dockerignore").write_text("*\n!src\n!package.json\n")
    for rel in ("a.js", "lib/b.js", "src/app.js"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    assert pick_source_file(str(tmp_path)) == "src/app.js"


def test_compose_spring_postgres_maven_multistage() -> None:
    """awesome-compose spring-postgres: pom.xml, mvn dependency:go-offline, then src and
    mvn install in the builder; a heredoc dev-envs stage; prepare-production unpacks
    the jar; the final stage copies three trees through ARG DEPENDENCY. Manifest
    first everywhere: nothing to report or fix for any target, and the final image
    is stage 3 alone (dev-envs is never built for it)."""
    df = _df("compose-spring-postgres")
    r = roles(df)
    assert r.final == {3} and r.built == {0, 2, 3}
    context = str(ROOT / "compose-spring-postgres")
    for target in (None, "builder", "dev-envs", "prepare-production"):
        assert check_dockerfile(df, target) == []
        assert plan(df, target=target, context=context) == []


def test_verify_copies_a_context_holding_a_named_pipe(tmp_path: Path) -> None:
    """A build context with a named pipe (a dev server's socket dir, a mkfifo left
    behind): fix --verify crashed with shutil.Error copying it (and reading a pipe
    waits for ever). The pipe is recreated, a socket left out, files copied."""
    import socket
    import stat

    from layerscope.fix.verify import _copy_context

    src = tmp_path / "ctx"
    (src / "src").mkdir(parents=True)
    (src / "src" / "app.js").write_text("x\n")
    os.mkfifo(src / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "dev.sock"))
    try:
        _copy_context(str(src), str(tmp_path / "copy"))
    finally:
        sock.close()
    assert (tmp_path / "copy" / "src" / "app.js").read_text() == "x\n"
    assert stat.S_ISFIFO(os.lstat(tmp_path / "copy" / "pipe").st_mode)
    assert not (tmp_path / "copy" / "dev.sock").exists()


def test_verify_with_an_unusable_context_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    proc = layerscope(
        "fix", "--dockerfile", "Dockerfile", "--verify", "--context", "missing-dir",
        "--builder", "classic", cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_verify_never_writes_through_a_symlink(tmp_path: Path) -> None:
    """A context whose first source file is a link out of it (a shared config linked
    into src/): the change goes to a real file of the copy, never the link's target."""
    from layerscope.fix.verify import _touch

    outside = tmp_path / "outside.js"
    outside.write_text("keep\n")
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "src" / "a.js").symlink_to(outside)
    (ctx / "src" / "b.js").write_text("x\n")
    assert _touch(str(ctx), "src") == "src/b.js"
    assert outside.read_text() == "keep\n"

"""Real Dockerfiles of public projects (tests/realworld), built on local Debian
bases with both builders, read back and checked with their Dockerfile: no
advice that would break the app, no LS501 on manifest-first copies, fixes only
for the stages the target builds, ``fix --verify`` that measures what it
predicts. npm and pip fetch from the real registries (``--network host``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.base.attribution import Origin, finding_origin
from layerscope.dockerfile.layer_map import map_image
from layerscope.dockerfile.parser import parse
from layerscope.fix.model import Evidence, Fix
from layerscope.fix.planner import plan
from layerscope.fix.verify import verify
from layerscope.pipeline import Request, run, with_dockerfile
from layerscope.rules import Finding
from layerscope.sources.interface import SourceOptions
from layerscope.sources.rehash import open_image_with_digests
from layerscope.stages import roles
from tests.cli import layerscope

from .imagebuild import _buildkit_docker, _docker
from .realworld_build import PREFIX, build, verify_project

pytestmark = pytest.mark.slow
BUILDERS = pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])


def _analyzed(
    name: str, buildkit: bool, tmp: Path, target: str | None = None
) -> tuple[Analysis, str]:
    """The image with its (adapted) Dockerfile, as ``layerscope IMAGE --dockerfile``."""
    _, text, tag = build(name, buildkit=buildkit, target=target)
    path = tmp / "Dockerfile"
    path.write_text(text)
    result = analyze(open_image_with_digests(tag, source="docker", options=SourceOptions()))
    return with_dockerfile(result, str(path), target), text


def _own(result: Analysis, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def _no_harmful_advice(result: Analysis) -> None:
    for f in result.findings:
        assert "dir:" not in f.message and "multi:" not in f.message, f.message
        if f.rule == "LS401":
            assert "ln -s" not in f.fix and "symlink" not in f.fix, f.fix
        if f.rule == "LS102":
            assert "drop the earlier copy" not in f.fix or not f.paths[0].endswith(
                ("package.json", "package-lock.json", "requirements.txt")
            ), f.fix


@BUILDERS
@pytest.mark.parametrize("name", ["node-web-app", "voting-result", "voting-vote"])
def test_manifest_first_images(name: str, buildkit: bool, tmp_path: Path) -> None:
    """COPY package*.json ./ (or requirements.txt), install, COPY . .: no LS501, no
    LS102 on the manifests copied twice, and (BuildKit's EXPOSE map[80/tcp:{}])
    every line pairs with its history entry exactly."""
    result, text = _analyzed(name, buildkit, tmp_path)
    assert _own(result, "LS501") == []
    for f in _own(result, "LS102"):
        assert not all(p.endswith(("package.json", "requirements.txt")) for p in f.paths), f
    _no_harmful_advice(result)
    _, _, tag = build(name, buildkit=buildkit)
    image = open_image_with_digests(tag, source="docker", options=SourceOptions())
    mapping = map_image(image, parse(text))
    assert mapping.inexact == () and mapping.warnings() == []


@BUILDERS
def test_npm_install_rewriting_the_lock_file_says_npm_ci(buildkit: bool, tmp_path: Path) -> None:
    """node-web-app: npm install rewrites package-lock.json (layer of COPY package*.json,
    then the RUN, then COPY . .): the advice is npm ci, not to drop a copy."""
    result, _ = _analyzed("node-web-app", buildkit, tmp_path)
    locks = [f for f in _own(result, "LS102") if f.paths == ("/usr/src/app/package-lock.json",)]
    assert locks and all("use npm ci" in f.fix for f in locks)
    assert {f.location[1] for f in locks if f.location} <= {9, 11}


@BUILDERS
def test_welcome_to_docker(buildkit: bool, tmp_path: Path) -> None:
    """LS501 on COPY ./src (line 11) before the RUN that installs and builds: the fix
    keeps npm run build and the rm, the finding names the copied files; the
    duplicates inside node_modules get no link advice."""
    result, _ = _analyzed("welcome-to-docker", buildkit, tmp_path)
    (f,) = _own(result, "LS501")
    assert f.location is not None and f.location[1] == 11
    assert f.message.startswith("line 11 (COPY ./src ./src) copies the source")
    assert "RUN npm run build && rm -fr node_modules" in f.fix
    assert f.paths[0] == "/app/src" and "/app/src/index.js" in f.paths
    assert f.bytes > 0  # the bytes rebuilt, from the layers
    _no_harmful_advice(result)
    for dup in _own(result, "LS401"):
        assert dup.fix.startswith("No fix is proposed"), dup.fix


@BUILDERS
def test_django_prod(buildkit: bool, tmp_path: Path) -> None:
    """testdrivenio's Dockerfile.prod: wheels built in a builder stage, copied with
    COPY --from, installed with pip install --no-cache, chown -R of the app home."""
    result, text = _analyzed("django-prod", buildkit, tmp_path)
    (archive,) = _own(result, "LS302")
    assert (
        "+RUN --mount=type=bind,from=builder,source=/usr/src/app/wheels,target=/wheels "
        "pip install --no-cache /wheels/*"
    ) in archive.fix
    chown = [
        f for f in _own(result, "LS102") if f.extra and dict(f.extra)["cause"] == "chown-later"
    ]
    assert chown and all("drop the recursive chown" not in f.fix for f in chown)
    assert all("<src>" not in f.fix for f in chown)  # COPY . $APP_HOME, from the Dockerfile
    assert any("/home/app/web/staticfiles" in f.fix for f in chown)
    # COPY ./entrypoint.prod.sh ., sed, chmod, then COPY . $APP_HOME copies it again:
    # a .dockerignore entry would break the first COPY, so it is not advised bare.
    (undone,) = [f for f in _own(result, "LS102") if f.location and f.location[1] == 61]
    assert "make the change after that COPY" in undone.fix
    assert "applies to every COPY" in undone.fix
    (bust,) = _own(result, "LS501")  # the builder stage, from the Dockerfile
    assert bust.location is not None and bust.location[1] == 22
    assert "speeds up builds" in bust.message
    _no_harmful_advice(result)
    # The fixes: none in the builder stage (its bytes never reach the image),
    # and pip's --no-cache is left alone.
    df = parse(text)
    _, _, tag = build("django-prod", buildkit=buildkit)
    image = open_image_with_digests(tag, source="docker", options=SourceOptions())
    fixes = plan(df, Evidence(analyze(image), map_image(image, df)))
    assert fixes and all(f.line > 30 for f in fixes)
    assert 56 not in [f.line for f in fixes]


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_verify_welcome_to_docker(builder: str, tmp_path: Path) -> None:
    """fix --verify on COPY package*.json ./ then COPY ./src (it crashed touching a
    glob); the npm fix removes the cache and the logs: measured == predicted."""
    project, text, _ = build("welcome-to-docker", buildkit=builder == "buildkit")
    v, fixes = verify_project(project, text, tmp_path / "ctx", builder, "welcome")
    assert v.touched == "src/index.js"
    assert [(f.kind, f.line) for f in fixes] == [("no-cache", 15)]
    assert fixes[0].bytes > 0 and v.saved_bytes == fixes[0].bytes


def test_failed_verify_build_prints_its_log_as_lines(busybox_base: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_base}\nRUN echo layerscope-first-line && echo layerscope-second && false\n"
    )
    proc = layerscope(
        "fix", "--dockerfile", "Dockerfile", "--verify", "--context", ".", "--builder",
        "classic", "--docker", _docker(), "--network", "none", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(line.startswith("layerscope: error: docker build of") for line in lines)
    assert any(line.strip() == "layerscope-second" for line in lines), proc.stderr
    assert "\\n" not in proc.stderr


@BUILDERS
def test_pip_bytecode_against_pythondontwritebytecode(buildkit: bool, tmp_path: Path) -> None:
    """django-on-docker's dev Dockerfile sets PYTHONDONTWRITEBYTECODE 1, then pip
    installs pip and the requirements: both layers hold the .pyc pip compiled
    (the bytes counted from docker save), and the fix is pip install --no-compile."""
    from .test_rules_real import layer_files

    result, _ = _analyzed("django-dev", buildkit, tmp_path)
    found = {f.location[1]: f for f in _own(result, "LS307") if f.location}
    assert sorted(found) == [15, 17]
    _, _, tag = build("django-dev", buildkit=buildkit)
    for line, pip in ((15, "pip install --upgrade pip"), (17, "pip install -r requirements.txt")):
        f = found[line]
        assert f.layer is not None
        files = layer_files(tag, tmp_path, f.layer)
        pyc = sum(n for p, n in files.items() if p.endswith(".pyc") and "__pycache__/" in p)
        assert f.bytes == pyc > 0
        assert f"+RUN {pip.replace('install', 'install --no-compile')}" in f.fix


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_apt_heavy_fix_verifies(builder: str, tmp_path: Path) -> None:
    """buildpack-deps style: one RUN updates, installs and removes the lists. On a
    base without the official images' docker-clean hook the .debs and pkgcache
    stay in /var/cache/apt: LS201 counts them (from docker save), the patch adds
    apt-get clean, and --verify measures exactly the predicted bytes. The base's
    package database rewrite is the base's, with no 'drop' advice."""
    from .test_rules_real import layer_files

    buildkit = builder == "buildkit"
    result, text = _analyzed("apt-heavy", buildkit, tmp_path)
    (cache,) = _own(result, "LS201")
    _, _, tag = build("apt-heavy", buildkit=buildkit)
    assert cache.layer is not None
    files = layer_files(tag, tmp_path, cache.layer)
    assert cache.bytes == sum(n for p, n in files.items() if p.startswith("var/cache/apt/"))
    for f in _own(result, "LS102"):
        assert "drop" not in f.fix.lower() and "slim" not in f.fix, f.fix
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(text)
    docker = _buildkit_docker() if buildkit else _docker()
    v, fixes = verify(
        parse(text, "Dockerfile"), str(ctx), builder=builder, docker=docker, network="host",
        keep=True, tag_prefix=f"{PREFIX}verify-apt-{builder}-",
    )  # fmt: skip
    assert [(f.kind, f.line) for f in fixes] == [("no-cache", 3)]
    assert v.saved_bytes == fixes[0].bytes == cache.bytes


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_verify_rebuilds_compare_fresh_changes(
    builder: str, busybox_base: str, tmp_path: Path
) -> None:
    """The install sits in a builder stage the patch leaves alone (the fix is in the
    final stage). After the source change each rebuild must see a change of its
    own: the patched rebuild must not reuse the original rebuild's builder stage
    and report the install as reused."""
    text = (
        f"FROM {busybox_base} AS build\nWORKDIR /src\nCOPY . .\n"
        "RUN pip install -r requirements.txt || mkdir -p /out && cp app.py /out/\n"
        f"FROM {busybox_base}\nRUN mkdir /tmp/x && dd if=/dev/zero of=/tmp/x/big bs=1k count=64\n"
        "RUN rm -rf /tmp/x\nCOPY --from=build /out /app\n"
    )
    (tmp_path / "Dockerfile").write_text(text)
    (tmp_path / "requirements.txt").write_text("idna==3.7\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    docker = _buildkit_docker() if builder == "buildkit" else _docker()
    v, fixes = verify(
        parse(text, "Dockerfile"), str(tmp_path), builder=builder, docker=docker,
        network="none", keep=True, tag_prefix=f"{PREFIX}verify-fresh-{builder}-",
    )  # fmt: skip
    assert [f.kind for f in fixes] == ["merge-cleanup"]
    assert v.saved_bytes == 64 * 1024
    assert v.touched == "app.py"
    for r in (v.original_rebuild, v.patched_rebuild):
        assert r.dependency_steps == 1 and not r.dependency_cached


def _own_findings(name: str, buildkit: bool, tmp: Path, target: str | None = None) -> list[Finding]:
    """The findings about the project's own layers, not the base image's, as
    ``layerscope IMAGE --dockerfile`` splits them (the base from the FROM line)."""
    _, text, tag = build(name, buildkit=buildkit, target=target)
    path = tmp / "Dockerfile.own"
    path.write_text(text)
    result = run(Request(target=tag, source="docker", dockerfile=str(path), stage=target))
    return [f for f in result.findings if finding_origin(result, f) is Origin.OWN]


def _fixes_with_image(name: str, buildkit: bool, text: str, target: str | None = None) -> list[Fix]:
    df = parse(text)
    _, _, tag = build(name, buildkit=buildkit, target=target)
    image = open_image_with_digests(tag, source="docker", options=SourceOptions())
    mapping = map_image(image, df, target)
    assert mapping.inexact == () and mapping.warnings() == [], mapping.warnings()
    return plan(df, Evidence(analyze(image), mapping), target=target)


def test_compose_flask_pip_under_a_cache_mount(tmp_path: Path) -> None:
    """awesome-compose flask/app, built as its compose file does (--target builder;
    BuildKit: RUN --mount=type=cache,target=/root/.cache/pip). pip's cache is in
    the mount, not the image: no LS205 and no --no-cache-dir; COPY requirements.txt
    /app then COPY . /app is manifest-first; the heredoc dev-envs stage, which the
    target does not build, gets no fix. Every line pairs with its history entry."""
    result, text = _analyzed("compose-flask", True, tmp_path, target="builder")
    assert _own(result, "LS205") == [] and _own(result, "LS501") == []
    assert _own_findings("compose-flask", True, tmp_path, "builder") == []
    _no_harmful_advice(result)
    assert _fixes_with_image("compose-flask", True, text, target="builder") == []


@BUILDERS
def test_compose_express_backend(buildkit: bool, tmp_path: Path) -> None:
    """awesome-compose react-express-mysql/backend, --target development: package.json
    and package-lock.json copied one by one, npm ci, HEALTHCHECK over two lines,
    EXPOSE $PORT 9229 9230, COPY . /code. The npm cache is the one finding with a
    fix; no LS501; node_modules duplicates get no link advice; HEALTHCHECK and
    EXPOSE pair with their history entries (no "differ" warning)."""
    result, text = _analyzed("compose-express-backend", buildkit, tmp_path, "development")
    assert _own(result, "LS501") == []
    (cache,) = _own(result, "LS210")
    assert cache.location is not None and cache.location[1] == 21
    assert "npm cache clean --force && rm -rf /root/.npm/_logs" in cache.fix
    _no_harmful_advice(result)
    assert not any("differ from the image history" in w for w in result.warnings)
    fixes = _fixes_with_image("compose-express-backend", buildkit, text, "development")
    assert [(f.kind, f.line, f.bytes) for f in fixes] == [("no-cache", 21, cache.bytes)]


@BUILDERS
def test_compose_react_frontend(buildkit: bool, tmp_path: Path) -> None:
    """awesome-compose react-express-mysql/frontend: npm ci in the development stage,
    npm run build in the builder stage, the final (nginx) stage copies /code/build.
    The npm cache never reaches the image: no finding and no fix for those stages;
    the heredoc dev-envs stage is not built either."""
    _, text = _analyzed("compose-react-frontend", buildkit, tmp_path)
    assert _own_findings("compose-react-frontend", buildkit, tmp_path) == []
    assert _fixes_with_image("compose-react-frontend", buildkit, text) == []
    df = parse(text)
    assert roles(df).final == {3} and roles(df).built == {0, 1, 3}


def test_compose_nginx_golang(tmp_path: Path) -> None:
    """awesome-compose nginx-golang/backend (BuildKit: Go caches in mounts), the binary
    copied into scratch: no finding, no fix, exact pairing."""
    result, text = _analyzed("compose-nginx-golang", True, tmp_path)
    assert _own_findings("compose-nginx-golang", True, tmp_path) == []
    assert _own(result, "LS501") == []
    assert _fixes_with_image("compose-nginx-golang", True, text) == []


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_voting_seed_data(builder: str, tmp_path: Path) -> None:
    """example-voting-app seed-data: apt in one RUN with the lists removed (the .debs
    and pkgcache stay on a base without docker-clean: LS201, from docker save),
    COPY . ., RUN python make-data.py (no install: no LS501). --verify measures
    the apt-get clean fix at exactly its prediction."""
    from .test_rules_real import layer_files

    buildkit = builder == "buildkit"
    result, text = _analyzed("voting-seed-data", buildkit, tmp_path)
    assert _own(result, "LS501") == []
    (cache,) = _own(result, "LS201")
    _, _, tag = build("voting-seed-data", buildkit=buildkit)
    assert cache.layer is not None
    files = layer_files(tag, tmp_path, cache.layer)
    assert cache.bytes == sum(n for p, n in files.items() if p.startswith("var/cache/apt/"))
    _no_harmful_advice(result)
    project, _, _ = build("voting-seed-data", buildkit=buildkit)
    v, fixes = verify_project(project, text, tmp_path / "ctx", builder, "seed")
    assert [(f.kind, f.line) for f in fixes] == [("no-cache", 5)]
    assert v.saved_bytes == fixes[0].bytes == cache.bytes


def test_docker_init_python(tmp_path: Path) -> None:
    """docker init's Python template (the Docker docs' guide): pip under a cache mount
    and a bind-mounted requirements.txt, PYTHONDONTWRITEBYTECODE=1, USER, COPY . .,
    a shell-form CMD. pip compiled .pyc anyway (LS307, counted from docker save);
    its fix keeps both mounts (without the bind mount the install has no
    requirements.txt); no LS205, no LS501; every line pairs with its entry."""
    from .test_rules_real import layer_files

    result, text = _analyzed("docker-init-python", True, tmp_path)
    assert _own(result, "LS205") == [] and _own(result, "LS501") == []
    (pyc,) = _own(result, "LS307")
    assert pyc.location is not None and pyc.location[1] == 38
    assert (
        "+RUN --mount=type=cache,target=/root/.cache/pip "
        "--mount=type=bind,source=requirements.txt,target=requirements.txt "
        "python -m pip install --no-compile -r requirements.txt"
    ) in pyc.fix
    _, _, tag = build("docker-init-python", buildkit=True)
    assert pyc.layer is not None
    files = layer_files(tag, tmp_path, pyc.layer)
    assert pyc.bytes == sum(n for p, n in files.items() if p.endswith(".pyc")) > 0
    assert not any("differ from the image history" in w for w in result.warnings)
    # `fix` offers the same flag (no-compile), and the engine measures what it predicts:
    # the .pyc, and the line pip's RECORD holds for each.
    fixes = _fixes_with_image("docker-init-python", True, text)
    assert [(f.kind, f.line) for f in fixes] == [("no-compile", 38)]
    assert fixes[0].bytes > pyc.bytes
    project, _, _ = build("docker-init-python", buildkit=True)
    v, verified = verify_project(project, text, tmp_path / "ctx", "buildkit", "init-python")
    assert [(f.kind, f.line) for f in verified] == [("no-compile", 38)]
    assert v.saved_bytes == verified[0].bytes == fixes[0].bytes


def test_docker_init_node(tmp_path: Path) -> None:
    """docker init's Node template: npm ci --omit=dev with bind-mounted manifests and
    the npm cache in a mount, USER node, COPY . .: nothing in the image to fix, no
    LS501, the shell-form CMD pairs; --verify changes a file the guide's
    .dockerignore lets through (not README.md, not node_modules)."""
    result, text = _analyzed("docker-init-node", True, tmp_path)
    assert _own(result, "LS210") == [] and _own(result, "LS501") == []
    _no_harmful_advice(result)
    assert not any("differ from the image history" in w for w in result.warnings)
    assert _fixes_with_image("docker-init-node", True, text) == []
    project, _, _ = build("docker-init-node", buildkit=True)
    ctx = tmp_path / "ctx"
    for rel, data in project.files.items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_bytes(data)
    (ctx / "node_modules" / "x").mkdir(parents=True)
    (ctx / "node_modules" / "x" / "index.js").write_text("module.exports = 1\n")
    from layerscope.fix.verify import pick_source_file

    assert pick_source_file(str(ctx)) == "src/index.js"


@BUILDERS
def test_requirements_directory_copied_first(buildkit: bool, tmp_path: Path) -> None:
    """cookiecutter-django's pattern: COPY ./requirements . (base.txt, production.txt
    reading -r base.txt), pip install -r production.txt, then COPY . .. The classic
    builder's history says COPY dir:<hash> in /app and the layer holds base.txt and
    production.txt: that is the manifest-first copy, not a cache bust (LS501 said
    so, with a fix copying production.txt alone)."""
    from .realworld_build import bases, cached

    python = bases()["python:3.11-slim"]
    text = (
        f"FROM {python}\nWORKDIR /app\nCOPY ./requirements .\n"
        "RUN pip install --no-cache-dir -r production.txt\nCOPY . .\n"
    )
    files = {
        "requirements/base.txt": b"idna==3.7\n",
        "requirements/production.txt": b"-r base.txt\n",
        "app.py": b"print('hi')\n",
    }
    tag = cached("requirements-dir", text, files, buildkit=buildkit)
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = analyze(open_image_with_digests(tag, source="docker", options=SourceOptions()))
    assert _own(result, "LS501") == []
    assert _own(with_dockerfile(result, str(path)), "LS501") == []

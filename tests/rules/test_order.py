"""LS5xx cache-busting order: history lines of both builders, crafted layers, Dockerfiles."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.dockerfile.parser import parse
from layerscope.rules import Finding, Kind, all_rules
from layerscope.rules.order import check_dockerfile
from layerscope.shell.ecosystems import any_manifest, concern, installs, is_manifest
from tests.builders import F, docker_archive, file, layer_tar, read_archive

BK = "buildkit.dockerfile.v0"
MB = 1 << 20


def build(steps: Sequence[tuple[str, Sequence[F] | None]], comment: str | None = None) -> Analysis:
    """Analyze an image whose history is ``steps``: (created_by, layer members or None
    for an empty-layer entry). The first step is the base image's."""
    history: list[dict[str, object]] = []
    layers: list[bytes] = []
    for n, (created_by, members) in enumerate(steps):
        entry: dict[str, object] = {"created_by": created_by}
        if members is None:
            entry["empty_layer"] = True
        else:
            layers.append(layer_tar(members))
        if comment is not None and n > 0:
            entry["comment"] = comment
        history.append(entry)
    return analyze(read_archive(docker_archive(layers, history)))


def order(result: Analysis, rule_id: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule_id]


BASE = (
    "/bin/sh -c #(nop) ADD file:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071 in / ",
    [file("bin/sh", 1000)],
)
SOURCE = [file("app/requirements.txt", 20), file("app/main.py", 300), file("app/lib/x.py", 50)]
SITE = [file("usr/lib/python3/site-packages/big.so", 3 * MB)]
COMPILED = [file("app/__pycache__/main.pyc", 500)]


@pytest.mark.parametrize(
    ("copy", "install", "compile_", "comment"),
    [
        (
            "COPY . . # buildkit",
            "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
            "RUN /bin/sh -c python -m compileall . # buildkit",
            BK,
        ),
        (
            "/bin/sh -c #(nop) COPY dir:3f1e0c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f in . ",
            "/bin/sh -c pip install -r requirements.txt",
            "/bin/sh -c python -m compileall .",
            None,
        ),
    ],
    ids=["buildkit", "classic"],
)
def test_ls501_source_copied_before_pip_install(
    copy: str, install: str, compile_: str, comment: str | None
) -> None:
    workdir = "WORKDIR /app" if comment else "/bin/sh -c #(nop) WORKDIR /app"
    result = build(
        [BASE, (workdir, []), (copy, SOURCE), (install, SITE), (compile_, COMPILED)], comment
    )
    (f,) = order(result, "LS501")
    assert f.kind is Kind.CACHE_BUST
    assert f.layer == 2
    assert f.bytes == 3 * MB + 500  # the layers after the COPY, rebuilt on every change
    extra = dict(f.extra)
    assert extra["install_layers"] == "3"
    assert extra["install_bytes"] == str(3 * MB)
    assert extra["rebuilt_layers"] == "2"
    assert extra["manifests"] == "requirements.txt"
    assert f.ecosystem == "pip"
    assert "COPY requirements.txt ./" in f.fix and "RUN pip install -r requirements.txt" in f.fix
    assert "2 layers (3146228 bytes)" in f.message


def test_ls501_quiet_when_manifests_are_installed_first() -> None:
    result = build(
        [
            BASE,
            ("WORKDIR /app", []),
            ("COPY requirements.txt ./ # buildkit", [file("app/requirements.txt", 20)]),
            ("RUN /bin/sh -c pip install -r requirements.txt # buildkit", SITE),
            ("COPY . . # buildkit", SOURCE),
            ("RUN /bin/sh -c pip install --no-deps . # buildkit", [file("usr/lib/app.py", 9)]),
        ],
        BK,
    )
    assert order(result, "LS501") == []


def test_ls501_a_copy_holding_only_manifests_is_not_the_source() -> None:
    # classic `multi:`: two files copied at once, both manifests
    result = build(
        [
            BASE,
            (
                "/bin/sh -c #(nop) COPY multi:9f8e7d6c5b4a39281706f5e4d3c2b1a0 in ./ ",
                [file("package.json", 10), file("package-lock.json", 10)],
            ),
            ("/bin/sh -c npm ci", [file("node_modules/a/index.js", 5000)]),
        ]
    )
    assert order(result, "LS501") == []


def test_ls501_system_packages_after_the_source_and_go_build() -> None:
    result = build(
        [
            BASE,
            ("COPY . /src # buildkit", [file("src/go.mod", 30), file("src/main.go", 400)]),
            ("RUN /bin/sh -c apt-get install -y git # buildkit", [file("usr/bin/git", MB)]),
            ("RUN /bin/sh -c go build -o /app . # buildkit", [file("app", 2 * MB)]),
        ],
        BK,
    )
    (f,) = order(result, "LS501")
    assert f.ecosystem == "apt,go"
    assert dict(f.extra)["install_layers"] == "2,3"
    assert "COPY go.mod /src/" in f.fix and "RUN go mod download" in f.fix
    assert "RUN apt-get install -y git" in f.fix


def test_ls501_absolute_buildkit_source_says_multi_stage() -> None:
    result = build(
        [
            BASE,
            ("COPY /out/site /srv # buildkit", [file("srv/index.html", 100)]),
            ("RUN /bin/sh -c npm install # buildkit", [file("srv/node_modules/x.js", 1000)]),
        ],
        BK,
    )
    (f,) = order(result, "LS501")
    assert "COPY --from" in f.message and "final stage" in f.message


def test_ls502_update_alone_then_install() -> None:
    lists = [file("var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", 2 * MB)]
    result = build(
        [
            BASE,
            ("/bin/sh -c apt-get update", lists),
            ("/bin/sh -c apt-get install -y curl", [file("usr/bin/curl", 300)]),
        ]
    )
    (f,) = order(result, "LS502")
    assert (f.layer, f.bytes, f.ecosystem) == (1, 2 * MB, "apt")
    assert dict(f.extra)["install_layer"] == "2"
    assert "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*" in f.fix


def test_ls502_quiet_when_each_install_updates_itself() -> None:
    result = build(
        [
            BASE,
            ("RUN /bin/sh -c apt-get update # buildkit", [file("var/lib/apt/lists/a", 10)]),
            (
                "RUN /bin/sh -c apt-get update && apt-get install -y x # buildkit",
                [file("usr/bin/x", 10)],
            ),
        ],
        BK,
    )
    assert order(result, "LS502") == []


def test_ls503_volatile_arg_before_expensive_runs_classic() -> None:
    sha = "0" * 39 + "1"
    result = build(
        [
            BASE,
            ("/bin/sh -c #(nop)  ARG GIT_SHA", None),
            (f"|1 GIT_SHA={sha} /bin/sh -c apt-get install -y gcc", [file("usr/bin/gcc", 4 * MB)]),
            (f"|1 GIT_SHA={sha} /bin/sh -c echo $GIT_SHA > /version", [file("version", 41)]),
        ]
    )
    (f,) = order(result, "LS503")
    assert f.layer is None
    assert dict(f.extra)["history_index"] == "1"
    assert dict(f.extra)["variable"] == "GIT_SHA"
    assert f.bytes == 4 * MB  # only the layer that does not use it
    assert "ARG GIT_SHA" in f.fix and "echo $GIT_SHA" in f.fix


def test_ls503_quiet_when_declared_just_before_its_use() -> None:
    result = build(
        [
            BASE,
            ("RUN /bin/sh -c apt-get install -y gcc # buildkit", [file("usr/bin/gcc", MB)]),
            ("ARG BUILD_DATE", None),
            ("RUN |1 BUILD_DATE=2024-05-01 /bin/sh -c echo $BUILD_DATE > /d # buildkit",
             [file("d", 11)]),
        ],
        BK,
    )  # fmt: skip
    assert order(result, "LS503") == []


def test_ls503_env_with_a_volatile_value_buildkit() -> None:
    result = build(
        [
            BASE,
            ("ENV RELEASE=2024-05-01T10:00:00Z", None),
            ("RUN /bin/sh -c make deps # buildkit", [file("deps/a", MB)]),
        ],
        BK,
    )
    (f,) = order(result, "LS503")
    assert dict(f.extra)["variable"] == "RELEASE" and f.bytes == MB


@pytest.mark.parametrize(
    ("add", "comment"),
    [
        ("ADD https://example.com/tool.tgz /opt/ # buildkit", BK),
        ("/bin/sh -c #(nop) ADD 3f1e0c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f00112233 in /opt/ ", None),
    ],
    ids=["buildkit", "classic"],
)
def test_ls504_remote_add_early(add: str, comment: str | None) -> None:
    run = (
        "RUN /bin/sh -c apt-get install -y python3 # buildkit"
        if comment
        else ("/bin/sh -c apt-get install -y python3")
    )
    result = build(
        [BASE, (add, [file("opt/tool.tgz", 1000)]), (run, [file("usr/bin/python3", 2 * MB)])],
        comment,
    )
    (f,) = order(result, "LS504")
    assert (f.layer, f.bytes) == (1, 2 * MB)


def test_ls505_three_runs_of_one_concern() -> None:
    result = build(
        [
            BASE,
            ("/bin/sh -c apt-get update", [file("var/lib/apt/lists/a", 100)]),
            ("/bin/sh -c #(nop)  ENV DEBIAN_FRONTEND=noninteractive", None),
            ("/bin/sh -c apt-get install -y curl", [file("usr/bin/curl", 200)]),
            ("/bin/sh -c rm -rf /var/lib/apt/lists/*", [file("var/lib/apt/.wh.lists")]),
            ("/bin/sh -c useradd app", [file("etc/passwd", 10)]),
        ]
    )
    (f,) = order(result, "LS505")
    assert f.layer == 1 and f.ecosystem == "apt"
    assert dict(f.extra)["layers"] == "1,2,3"
    assert f.bytes == 300
    assert f.fix.splitlines() == [
        "Merge them into one RUN (the ENV lines between them go above it):",
        "-RUN apt-get update",
        "-RUN apt-get install -y curl",
        "-RUN rm -rf /var/lib/apt/lists/*",
        "+RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    ]  # whole: a fix is pasted, nothing is cut


def test_ls505_fix_from_the_dockerfile_is_whole() -> None:
    long = "apt-get install -y --no-install-recommends " + " ".join(f"pkg{i}" for i in range(20))
    df = parse(
        "FROM debian\nRUN apt-get update\n"
        f"RUN {long} \\\n    pkg-last\n"
        "RUN rm -rf /var/lib/apt/lists/*\n"
    )
    (f,) = [f for f in check_dockerfile(df) if f.rule == "LS505"]
    assert f.fix.splitlines()[-1] == (
        f"+RUN apt-get update && {long} pkg-last && rm -rf /var/lib/apt/lists/*"
    )
    heredoc = parse(
        "FROM debian\nRUN apt-get update\nRUN <<EOF\napt-get install -y curl\nEOF\n"
        "RUN rm -rf /var/lib/apt/lists/*\n"
    )
    fixes = [f.fix for f in check_dockerfile(heredoc) if f.rule == "LS505"]
    assert fixes and all("+RUN" not in fix and "heredoc" in fix for fix in fixes)
    mounts = parse(
        "FROM debian\nRUN --mount=type=cache,target=/var/cache/apt apt-get update\n"
        "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y curl\n"
        "RUN --mount=type=bind,source=x,target=/x apt-get install -y /x/a.deb\n"
    )
    (f,) = [f for f in check_dockerfile(mounts) if f.rule == "LS505"]
    assert f.fix.splitlines()[-1] == (
        "+RUN --mount=type=cache,target=/var/cache/apt --mount=type=bind,source=x,target=/x "
        "apt-get update && apt-get install -y curl && apt-get install -y /x/a.deb"
    )
    assert "-RUN --mount=type=bind,source=x,target=/x apt-get install -y /x/a.deb" in (
        f.fix.splitlines()
    )


def test_ls505_two_runs_or_mixed_concerns_are_fine() -> None:
    result = build(
        [
            BASE,
            ("/bin/sh -c apt-get update && apt-get install -y curl", [file("a", 1)]),
            ("/bin/sh -c pip install flask", [file("b", 1)]),
            ("/bin/sh -c npm ci", [file("c", 1)]),
            ("/bin/sh -c apt-get install -y git", [file("d", 1)]),
            ("/bin/sh -c apt-get install -y vim", [file("e", 1)]),
        ]
    )
    assert order(result, "LS505") == []


def test_every_order_rule_is_registered_with_a_doc() -> None:
    rules = {r.id: r for r in all_rules() if r.id.startswith("LS5")}
    assert sorted(rules) == ["LS501", "LS502", "LS503", "LS504", "LS505"]
    for r in rules.values():
        assert r.kind is Kind.CACHE_BUST
        assert "Bad::" in r.doc and "Good::" in r.doc


# -- the Dockerfile alone ------------------------------------------------------------------


def test_check_dockerfile_every_stage_with_locations() -> None:
    df = parse(
        "FROM golang AS build\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN go build -o /app .\n"
        "FROM debian\n"
        "ARG BUILD_DATE\n"
        "RUN apt-get update\n"
        "RUN apt-get install -y ca-certificates\n"
        "COPY --from=build /app /app\n"
        "RUN npm ci\n",
        "ci/Dockerfile",
    )
    found = [(f.rule, f.location) for f in check_dockerfile(df)]
    assert found == [
        ("LS501", ("ci/Dockerfile", 3)),
        ("LS503", ("ci/Dockerfile", 6)),
        ("LS502", ("ci/Dockerfile", 7)),
    ]
    assert all(f.bytes == 0 for f in check_dockerfile(df))


def test_check_dockerfile_heredoc_script_is_read() -> None:
    df = parse("FROM debian\nCOPY . /app\nRUN <<EOF\nset -e\ncd /app\nnpm ci\nEOF\n")
    (f,) = check_dockerfile(df)
    assert f.rule == "LS501" and f.ecosystem == "npm" and f.location == ("Dockerfile", 2)
    assert "COPY package.json package-lock.json /app/" in f.fix


# -- the building blocks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install -r requirements.txt -c constraints.txt",
         [("pip", ("requirements.txt", "constraints.txt"), False)]),
        ("python3 -m pip install --no-cache-dir .", [("pip", (), True)]),
        ("pip install -e ./lib flask", [("pip", (), True)]),
        ("uv pip install -r req.txt", [("pip", ("req.txt",), False)]),
        ("uv sync --frozen", [("uv", ("pyproject.toml", "uv.lock"), True)]),
        ("uv sync --no-install-project", [("uv", ("pyproject.toml", "uv.lock"), False)]),
        ("poetry install --no-root", [("poetry", ("pyproject.toml", "poetry.lock"), False)]),
        ("npm ci && npm run build", [("npm", ("package.json", "package-lock.json"), False)]),
        ("yarn", [("yarn", ("package.json", "yarn.lock"), False)]),
        ("yarn --frozen-lockfile", [("yarn", ("package.json", "yarn.lock"), False)]),
        ("yarn global add serve", [("yarn", ("package.json", "yarn.lock"), False)]),
        ("yarn build", []),
        ("yarn global bin", []),
        ("go mod download && go build ./...",
         [("go", ("go.mod", "go.sum"), False), ("go", ("go.mod", "go.sum"), True)]),
        ("cargo fetch", [("cargo", ("Cargo.toml", "Cargo.lock"), False)]),
        ("./mvnw -B dependency:go-offline", [("maven", ("pom.xml",), False)]),
        ("bundle install", [("bundler", ("Gemfile", "Gemfile.lock"), False)]),
        ("sudo -E apt-get install -y curl", [("apt", (), False)]),
        ("echo pip install x", []),
    ],
)  # fmt: skip
def test_installs(script: str, expected: list[tuple[str, tuple[str, ...], bool]]) -> None:
    assert [(i.ecosystem, i.manifests, i.needs_source) for i in installs(script)] == expected


@pytest.mark.parametrize(
    "path",
    [
        "app/requirements-dev.txt",
        "requirements.txt",
        "/src/go.sum",
        "x/App.csproj",
        ".csproj",
        "a/package.json/",
        "a/b/Cargo.lock//",
        "a/requirements\n.txt",  # a newline: the per-path fallback
    ],
)
def test_any_manifest_finds_each_manifest(path: str) -> None:
    assert is_manifest(path)
    assert any_manifest(["main.py", path, "src/lib.rs"])
    assert any_manifest([path])


@pytest.mark.parametrize(
    "paths",
    [
        [],
        [""],
        ["/", "//"],
        ["main.py", "xgo.mod", "go.mod.bak", "requirements.txt/x", "App.csproj.user"],
        ["go.mod\nx", "package.json.orig"],
        ["requirements-dev.txt.old", "constraints.txt2", "a/b.sln/c"],
    ],
)
def test_any_manifest_agrees_with_is_manifest(paths: list[str]) -> None:
    assert not any(is_manifest(p) for p in paths)
    assert not any_manifest(paths)


def test_is_manifest_and_concern() -> None:
    assert is_manifest("app/requirements-dev.txt") and is_manifest("/src/go.sum")
    assert is_manifest("x/App.csproj") and not is_manifest("main.py")
    assert concern("apt-get update && apt-get install -y x") == "apt"
    assert concern("rm -rf /tmp/* && echo done") == "neutral"
    assert concern("apt-get install x && pip install y") == "mixed"
    assert concern("set -eux; pip3 install x; python3 -m pip check") == "python"


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ("yarn global add serve", True),
        ("yarn add left-pad", True),
        ("yarn --frozen-lockfile", False),
    ],
)
def test_yarn_installs_named_or_from_the_manifest(script: str, named: bool) -> None:
    (inst,) = installs(script)
    assert inst.named is named


def test_a_copy_units_files_are_its_layers_regular_files_read_at_each_use() -> None:
    from layerscope.model import Entry, EntryType
    from layerscope.rules.order_units import LayerFiles

    entries = (
        Entry("app", EntryType.DIR),
        Entry("app/package.json", EntryType.FILE, 10),
        Entry("app/link", EntryType.SYMLINK, linkname="package.json"),
        Entry("app/src/index.js", EntryType.FILE, 20),
    )
    files = LayerFiles(entries)
    assert list(files) == ["app/package.json", "app/src/index.js"] == list(files)
    assert len(files) == 2 and files and files[1] == "app/src/index.js"
    assert files[:1] == ("app/package.json",)
    empty = LayerFiles(entries[:1] + entries[2:3])
    assert not empty and len(empty) == 0 and list(empty) == []

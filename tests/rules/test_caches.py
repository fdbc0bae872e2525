"""LS2xx package caches on crafted layers: every ecosystem's paths, both fates,
the traps (hard links, PnP, poetry virtualenvs, apk's database), fixes."""

from __future__ import annotations

import pytest

from layerscope.rules import Kind
from layerscope.rules.context import Options
from layerscope.rules.types import Severity
from tests.builders import file, hard, wh

from .helpers import cause, of, run

KB = 1024

# (rule, ecosystem, cache files, env, the RUN that made them, expected text in the fix)
CASES = [
    (
        "LS201",
        "apt",
        [
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            "var/cache/apt/archives/curl_7.88_amd64.deb",
            "var/cache/apt/pkgcache.bin",
            "var/cache/apt/srcpkgcache.bin",
        ],
        (),
        "apt-get update && apt-get install -y curl",
        "apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*",
    ),
    (
        "LS202",
        "apk",
        ["var/cache/apk/APKINDEX.abc.tar.gz", "etc/apk/cache/curl-8.apk"],
        (),
        "apk update && apk add curl",
        "+RUN apk add --no-cache curl",
    ),
    ("LS203", "dnf", ["var/cache/dnf/fedora.solv"], (), "dnf install -y gcc", "dnf clean all"),
    (
        "LS203",
        "dnf",
        ["var/cache/yum/x86_64/repodata/a.xml"],
        (),
        "yum install -y gcc",
        "yum clean",
    ),
    ("LS203", "dnf", ["var/cache/libdnf5/metadata/a"], (), "microdnf install x", "microdnf clean"),
    ("LS203", "dnf", ["var/log/dnf.librepo.log", "var/log/hawkey.log"], (), "dnf install x", ""),
    ("LS204", "zypper", ["var/cache/zypp/raw/repo/a"], (), "zypper in -y x", "zypper clean -a"),
    (
        "LS205",
        "pip",
        ["root/.cache/pip/http-v2/a/b/c", "root/.cache/pip/wheels/ab/x.whl"],
        (),
        "pip install flask",
        "+RUN pip install --no-cache-dir flask",
    ),
    (
        "LS205",
        "pip",
        ["home/app/.cache/pip/http/a"],
        (),
        "python3 -m pip install --user flask",
        "-m pip install --no-cache-dir --user flask",
    ),
    ("LS205", "pip", ["srv/.cache/pip/http/a"], ("HOME=/srv",), "pip install x", "--no-cache-dir"),
    ("LS205", "pip", ["cache/pip/a"], ("PIP_CACHE_DIR=/cache/pip",), "pip install x", ""),
    ("LS205", "pip", ["xdg/pip/a"], ("XDG_CACHE_HOME=/xdg",), "pip install x", ""),
    ("LS206", "uv", ["root/.cache/uv/wheels-v1/a"], (), "uv pip install x", "uv --no-cache pip"),
    ("LS206", "uv", ["opt/uvc/archive-v0/a"], ("UV_CACHE_DIR=/opt/uvc",), "uv sync", ""),
    (
        "LS207",
        "poetry",
        ["root/.cache/pypoetry/cache/repositories/a", "root/.cache/pypoetry/artifacts/b"],
        (),
        "poetry install",
        "rm -rf /root/.cache/pypoetry/artifacts /root/.cache/pypoetry/cache",
    ),
    ("LS208", "pipenv", ["root/.cache/pipenv/http/a"], (), "pipenv install", "rm -rf"),
    (
        "LS209",
        "conda",
        ["opt/conda/pkgs/numpy-1.26.tar.bz2"],
        (),
        "conda install -y numpy",
        "conda clean -afy",
    ),
    ("LS209", "conda", ["root/.conda/pkgs/a.conda"], (), "mamba install x", "mamba clean -afy"),
    (
        "LS209",
        "conda",
        ["opt/mm/pkgs/a.conda"],
        ("MAMBA_ROOT_PREFIX=/opt/mm",),
        "micromamba install -y x",
        "micromamba clean --all --yes",
    ),
    (
        "LS210",
        "npm",
        ["root/.npm/_cacache/content-v2/sha512/ab/cd", "root/.npm/_logs/2024-debug-0.log"],
        (),
        "npm ci",
        "npm ci && npm cache clean --force && rm -rf /root/.npm/_logs",
    ),
    (
        "LS211",
        "yarn",
        ["usr/local/share/.cache/yarn/v6/npm-a/index.js"],
        (),
        "yarn install --frozen-lockfile",
        "yarn cache clean",
    ),
    ("LS211", "yarn", ["home/node/.cache/yarn/v6/a"], (), "yarn", "yarn cache clean"),
    (
        "LS212",
        "yarn-berry",
        ["root/.yarn/berry/cache/lodash-npm-4.zip"],
        (),
        "yarn install --immutable",
        "yarn cache clean --all",
    ),
    ("LS212", "yarn-berry", ["app/.yarn/cache/lodash-npm-4.zip"], (), "yarn install", ""),
    ("LS213", "pnpm", ["root/.local/share/pnpm/store/v3/files/ab/cd"], (), "pnpm i", "rm -rf"),
    ("LS213", "pnpm", ["pnpm/store/v3/files/ab"], ("PNPM_HOME=/pnpm",), "pnpm i", ""),
    ("LS213", "pnpm", [".pnpm-store/v3/files/ab"], (), "pnpm i", ""),
    (
        "LS214",
        "go",
        ["root/.cache/go-build/ab/cd-d", "go/pkg/mod/cache/download/x/@v/v1.zip"],
        ("GOPATH=/go",),
        "go build -o /app .",
        "go clean -cache -modcache",
    ),
    (
        "LS215",
        "cargo",
        ["usr/local/cargo/registry/cache/index/serde-1.0.crate", "usr/local/cargo/git/db/x/a"],
        ("CARGO_HOME=/usr/local/cargo",),
        "cargo build --release",
        "rm -rf /usr/local/cargo/git /usr/local/cargo/registry",
    ),
    (
        "LS215",
        "cargo",
        ["src/target/release/deps/libserde-ab.rlib", "src/target/release/.fingerprint/a/b"],
        (),
        "cargo build --release",
        "/src/target/release/deps",
    ),
    ("LS216", "maven", ["root/.m2/repository/org/a/a.jar"], (), "mvn -B package", "--from"),
    (
        "LS217",
        "gradle",
        ["home/gradle/.gradle/caches/modules-2/a.jar", "root/.gradle/wrapper/dists/g/a.zip"],
        (),
        "gradle build",
        "target=/home/gradle/.gradle",
    ),
    ("LS218", "gem", ["usr/local/bundle/cache/rails-7.gem"], (), "bundle install", "rm -rf"),
    ("LS218", "gem", ["var/lib/gems/3.1.0/cache/rake.gem"], (), "gem install rake", ""),
    ("LS218", "gem", ["root/.gem/specs/rubygems.org/a"], (), "gem install rake", ""),
    (
        "LS219",
        "composer",
        ["tmp/cache/files/a.zip"],
        ("COMPOSER_HOME=/tmp",),
        "composer install --no-dev",
        "composer clear-cache",
    ),
    ("LS219", "composer", ["root/.composer/cache/files/a.zip"], (), "composer install", ""),
    (
        "LS220",
        "nuget",
        ["root/.nuget/packages/newtonsoft.json/13.0/a.nupkg", "root/.local/share/NuGet/v3-cache/a"],
        (),
        "dotnet restore",
        "dotnet nuget locals all --clear",
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "ecosystem", "paths", "env", "cmd", "fix_text"),
    CASES,
    ids=[f"{c[0]}-{c[2][0]}" for c in CASES],
)
def test_every_ecosystem_path_is_found_with_exact_bytes(
    rule_id: str, ecosystem: str, paths: list[str], env: tuple[str, ...], cmd: str, fix_text: str
) -> None:
    sizes = [5 * KB + 17 * i for i in range(len(paths))]
    cache = [file(p, n) for p, n in zip(paths, sizes, strict=True)]
    result = run(
        [file("usr/bin/tool", 3 * KB)],
        [*cache, file("usr/lib/app/main", 9 * KB)],
        history=["", f"/bin/sh -c {cmd}"],
        env=tuple(
            {**{"PATH": "/usr/bin", "HOME": "/root"}, **dict(e.split("=", 1) for e in env)}.items()
        ),
    )
    found = of(result, "LS2")
    assert [f.rule for f in found] == [rule_id]
    f = found[0]
    assert f.kind is Kind.PACKAGE_CACHE
    assert f.ecosystem == ecosystem
    assert f.bytes == sum(sizes)
    assert f.path_count == len(paths)
    assert f.layer == 1 and f.hidden_by is None and f.reclaimable
    assert cause(f) == "left-in-image"
    assert set(f.paths) == {"/" + p for p in paths}
    assert f.claims == frozenset(paths)
    assert f"-RUN {cmd}\n+RUN " in f.fix
    assert fix_text in f.fix
    assert "--mount=type=cache,target=/" in f.fix or ecosystem == "dnf"
    assert result.summary.reclaimable_bytes == sum(sizes)


def test_cleanup_in_a_later_run_is_wasted_and_names_both_layers() -> None:
    lists = [file(f"var/lib/apt/lists/l{i}_Packages", 20 * KB + i) for i in range(3)]
    result = run(
        [*lists, file("usr/bin/curl", 9 * KB)],
        [wh("var/lib/apt/lists")],
        history=[
            "/bin/sh -c apt-get update && apt-get install -y curl",
            "/bin/sh -c rm -rf /var/lib/apt/lists",
        ],
    )
    (f,) = of(result, "LS2")
    assert f.bytes == 3 * 20 * KB + 3
    assert (f.layer, f.hidden_by, f.reclaimable) == (0, 1, False)
    assert cause(f) == "cleanup-in-later-run"
    assert not f.claims
    assert "+RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists" in f.fix
    # the cache rule owns these bytes: LS101 does not report them again
    assert of(result, "LS101") == []
    assert result.summary.reclaimable_bytes == result.summary.wasted_bytes == f.bytes


def test_cleanup_in_the_same_run_leaves_nothing_to_report() -> None:
    result = run(
        [file("usr/bin/curl", 90 * KB), file("var/lib/apt/extended_states", 5 * KB)],
        history=[
            "/bin/sh -c apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"
        ],
    )
    assert of(result, "LS2") == []


def test_a_second_apt_run_rewriting_the_cache_is_reported_as_rewritten() -> None:
    result = run(
        [file("var/cache/apt/pkgcache.bin", 30 * KB), file("usr/bin/a", 5 * KB)],
        [file("var/cache/apt/pkgcache.bin", 31 * KB), file("usr/bin/b", 5 * KB)],
        history=["/bin/sh -c apt-get install -y a", "/bin/sh -c apt-get install -y b"],
    )
    found = {(f.layer, f.hidden_by): f for f in of(result, "LS201")}
    assert set(found) == {(0, 1), (1, None)}
    assert cause(found[(0, 1)]) == "rewritten-later"
    assert found[(0, 1)].bytes == 30 * KB
    assert found[(1, None)].bytes == 31 * KB
    assert of(result, "LS102") == []


def test_severity_grows_with_bytes_and_the_floor_is_4_kib() -> None:
    def pip_finding(size: int) -> list[object]:
        result = run([file("root/.cache/pip/http/a", size)], history=["/bin/sh -c pip install x"])
        return [f.severity for f in of(result, "LS205")]

    assert pip_finding(4 * KB - 1) == []
    assert pip_finding(4 * KB) == [Severity.INFO]
    assert pip_finding(200 * KB) == [Severity.LOW]
    assert pip_finding(6 << 20) == [Severity.MEDIUM]
    assert pip_finding(51 << 20) == [Severity.HIGH]


def test_threshold_is_configurable_per_rule() -> None:
    layer = [file("root/.cache/pip/http/a", 1000), file("root/.npm/_logs/x.log", 1000)]
    default = run(layer, history=["/bin/sh -c pip install x && npm i"])
    assert of(default, "LS2") == []
    low = run(
        layer,
        history=["/bin/sh -c pip install x && npm i"],
        options=Options(min_bytes={"LS205": 1}),
    )
    assert [f.rule for f in of(low, "LS2")] == ["LS205"]


@pytest.mark.parametrize(
    "path",
    [
        "lib/apk/db/installed",  # apk's installed-package database
        "root/.cache/pypoetry/virtualenvs/app-py3.12/lib/site.py",  # poetry's venv
        "var/lib/apt/extended_states",  # apt state, not cache
        "var/cache/debconf/templates.dat",
        "usr/share/doc/yarn/cache/readme",
        "app/target/release/app",  # the built binary, not cargo's intermediates
        "app/node_modules/.cache/x/a",  # not a package-manager cache we claim
    ],
)
def test_state_and_lookalikes_are_not_caches(path: str) -> None:
    result = run([file(path, 50 * KB)], history=["/bin/sh -c install"])
    assert of(result, "LS2") == []


def test_yarn_berry_project_cache_with_pnp_is_the_dependency_store() -> None:
    layer = [file("app/.yarn/cache/lodash.zip", 50 * KB), file("app/.pnp.cjs", 5 * KB)]
    assert of(run(layer, history=["/bin/sh -c yarn install"]), "LS212") == []
    no_pnp = run(layer[:1], history=["/bin/sh -c yarn install"])
    assert [f.bytes for f in of(no_pnp, "LS212")] == [50 * KB]


def test_hard_linked_store_files_are_counted_once_and_not_as_cache() -> None:
    # pnpm: node_modules/.pnpm links the store's files; the tar stores the data once.
    store = "root/.local/share/pnpm/store/v3/files/ab/cdef"
    result = run(
        [
            file(store, 40 * KB),
            hard("app/node_modules/.pnpm/lodash/index.js", store),
            file("root/.local/share/pnpm/store/v3/files/zz/unused", 8 * KB),
        ],
        history=["/bin/sh -c pnpm install"],
    )
    (f,) = of(result, "LS213")
    assert f.bytes == 8 * KB  # only the file nothing outside the store uses
    assert result.summary.reclaimable_bytes == 8 * KB


def test_conda_pkgs_linked_into_an_env_are_not_counted() -> None:
    pkg = "opt/conda/pkgs/numpy-1.26/lib/libnumpy.so"
    result = run(
        [file(pkg, 60 * KB), hard("opt/conda/lib/libnumpy.so", pkg)],
        history=["/bin/sh -c conda install -y numpy"],
    )
    assert of(result, "LS209") == []


def test_cache_copied_from_the_context_gets_a_dockerignore_fix() -> None:
    result = run(
        [file("app/x", 5 * KB), file("root/.npm/_cacache/index-v5/a", 9 * KB)],
        history=["COPY . / # buildkit"],
    )
    (f,) = of(result, "LS210")
    assert ".dockerignore" in f.fix


def test_cache_in_a_layer_without_history_says_so() -> None:
    result = run([file("var/cache/apk/APKINDEX.a.tar.gz", 9 * KB)], history=[""])
    (f,) = of(result, "LS202")
    assert "no build history" in f.fix


def test_non_root_cache_mount_carries_the_owner() -> None:
    result = run(
        [file("home/app/.cache/pip/http/a", 9 * KB, uid=1000, gid=1000)],
        history=["RUN /bin/sh -c pip install --user x # buildkit"],
    )
    (f,) = of(result, "LS205")
    assert "--mount=type=cache,target=/home/app/.cache/pip,uid=1000,gid=1000" in f.fix


def test_multistage_ecosystems_lead_with_the_multistage_fix() -> None:
    result = run(
        [file("root/.m2/repository/a.jar", 90 * KB)], history=["/bin/sh -c mvn -B package"]
    )
    (f,) = of(result, "LS216")
    assert f.fix.startswith("Best: build in a separate stage")
    assert "--mount=type=cache,target=/root/.m2 mvn -B package" in f.fix


def test_one_finding_per_layer_and_fate() -> None:
    result = run(
        [file(f"root/.cache/pip/http/{i}", 5 * KB) for i in range(50)],
        [file(f"root/.cache/pip/http/x{i}", 5 * KB) for i in range(3)],
        history=["/bin/sh -c pip install a", "/bin/sh -c pip install b"],
    )
    found = of(result, "LS205")
    assert [(f.layer, f.path_count, f.bytes, len(f.paths)) for f in found] == [
        (0, 50, 250 * KB, 5),
        (1, 3, 15 * KB, 3),
    ]

"""Waste rules on images built with real package managers (Debian's apt, pip
and npm from Debian packages, fetching from the real mirrors and registries).

Expected bytes come from the layer tarballs themselves (read with Python's
tarfile from ``docker save``), not from layerscope. Images are tagged with a
hash of their Dockerfile and reused when present, so re-runs are quick.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.rules import Finding, Kind
from layerscope.sources.interface import SourceOptions
from layerscope.sources.rehash import open_image_with_digests

from .imagebuild import build_image, docker_save, image_exists

pytestmark = pytest.mark.slow

WASTE_KINDS = {
    Kind.REMOVED_LATER,
    Kind.OVERWRITTEN_LATER,
    Kind.PACKAGE_CACHE,
    Kind.LEFTOVER,
    Kind.DUPLICATE_CONTENT,
}
APT_CACHE = ("var/lib/apt/lists/", "var/cache/apt/")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends tree"


def cached_build(
    name: str,
    dockerfile: str,
    *,
    buildkit: bool = False,
    network: str = "host",
    context: dict[str, bytes] | None = None,
) -> str:
    """Build once per Dockerfile and context: the tag carries a hash of them."""
    h = hashlib.sha256(f"{buildkit}\n{dockerfile}".encode())
    for key, data in sorted((context or {}).items()):
        h.update(key.encode() + b"\0" + data)
    tag = f"layerscope-test/rules-{name}:{h.hexdigest()[:12]}"
    if not image_exists(tag):
        build_image(tag, dockerfile, context, buildkit=buildkit, network=network)
    return tag


def analyzed(tag: str) -> Analysis:
    """The image from the engine, read the way the CLI reads it."""
    return analyze(open_image_with_digests(tag, source="docker", options=SourceOptions()))


def layer_files(tag: str, tmp: Path, index: int) -> dict[str, int]:
    """Regular files of layer ``index`` and their sizes, from ``docker save``."""
    archive = docker_save(tag, tmp / "image.tar")
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        member = outer.extractfile(manifest[0]["Layers"][index])
        assert member is not None
        with tarfile.open(fileobj=member) as layer:
            return {m.name.lstrip("./"): m.size for m in layer if m.isreg()}


def waste(result: Analysis) -> list[Finding]:
    return [f for f in result.findings if f.kind in WASTE_KINDS]


def cause(f: Finding) -> str:
    return dict(f.extra).get("cause", "")


BUILDERS = pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])


# -- apt -------------------------------------------------------------------------------


@BUILDERS
def test_apt_install_without_cleanup(debian_base: str, buildkit: bool, tmp_path: Path) -> None:
    tag = cached_build("apt-nocleanup", f"FROM {debian_base}\nRUN {INSTALL}\n", buildkit=buildkit)
    result = analyzed(tag)
    files = layer_files(tag, tmp_path, 1)
    expected = {p: n for p, n in files.items() if p.startswith(APT_CACHE) and n > 0}
    assert sum(expected.values()) > 1 << 20  # real package lists, not a stub
    (f,) = [f for f in result.findings if f.rule == "LS201"]
    assert (f.layer, f.hidden_by, f.ecosystem, cause(f)) == (1, None, "apt", "left-in-image")
    assert f.bytes == sum(expected.values())
    assert f.claims == frozenset(expected)
    assert f.reclaimable
    assert (
        f"-RUN {INSTALL}\n+RUN {INSTALL} && apt-get clean && rm -rf /var/lib/apt/lists/*" in (f.fix)
        or f"+RUN {INSTALL} && rm -rf /var/lib/apt/lists/*" in f.fix
    )
    assert "target=/var/lib/apt,sharing=locked" in f.fix and "docker-clean" in f.fix
    assert result.summary.reclaimable_bytes >= f.bytes


@BUILDERS
def test_apt_cleanup_in_a_later_run(debian_base: str, buildkit: bool, tmp_path: Path) -> None:
    tag = cached_build(
        "apt-latercleanup",
        f"FROM {debian_base}\nRUN {INSTALL}\nRUN apt-get clean && rm -rf /var/lib/apt/lists/*\n",
        buildkit=buildkit,
    )
    result = analyzed(tag)
    files = layer_files(tag, tmp_path, 1)
    expected = sum(n for p, n in files.items() if p.startswith(APT_CACHE))
    apt = [f for f in result.findings if f.rule == "LS201"]
    assert apt, "the hidden apt cache must be reported"
    assert all((f.layer, f.hidden_by) == (1, 2) for f in apt)
    assert {cause(f) for f in apt} == {"cleanup-in-later-run"}
    assert not any(f.reclaimable for f in apt)
    assert sum(f.bytes for f in apt) == expected
    assert "layer 2 (RUN apt-get clean" in apt[0].message
    # the fix moves that cleanup into the install RUN
    assert f"+RUN {INSTALL} && apt-get clean && rm -rf /var/lib/apt/lists/*" in apt[0].fix
    # ... and LS101 does not report the same bytes again
    assert not [f for f in result.findings if f.rule == "LS101" and f.layer == 1]


@BUILDERS
def test_apt_cleanup_in_the_same_run(debian_base: str, buildkit: bool) -> None:
    tag = cached_build(
        "apt-samerun",
        f"FROM {debian_base}\nRUN {INSTALL} && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
        buildkit=buildkit,
    )
    result = analyzed(tag)
    assert [f for f in result.findings if f.kind is Kind.PACKAGE_CACHE] == []


def test_second_apt_run_rewrites_dpkg_state(debian_base: str) -> None:
    clean = "apt-get clean && rm -rf /var/lib/apt/lists/*"
    tag = cached_build(
        "apt-tworuns",
        f"FROM {debian_base}\nRUN {INSTALL} && {clean}\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends less && {clean}\n",
    )
    result = analyzed(tag)
    state = [f for f in result.findings if f.rule == "LS102" and f.hidden_by == 2]
    assert state and {cause(f) for f in state} >= {"package-manager-state"}
    assert any("install all packages in one RUN" in f.fix for f in state)


# -- pip ----------------------------------------------------------------------------


def host_ca_bundle() -> bytes:
    """The host's CA bundle: where TLS to PyPI and npm is intercepted, the
    containers need the interceptor's CA to reach them."""
    path = Path("/etc/ssl/certs/ca-certificates.crt")
    return path.read_bytes() if path.exists() else b""


@pytest.fixture(scope="module")
def net_base(debian_base: str) -> str:
    """The debian base plus the host's CA bundle (one small COPY layer)."""
    return cached_build(
        "net-base",
        f"FROM {debian_base}\nCOPY host-ca.crt /etc/ssl/certs/host-ca.crt\n"
        "ENV PIP_CERT=/etc/ssl/certs/host-ca.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.crt\n",
        context={"host-ca.crt": host_ca_bundle()},
        network="none",
    )


@pytest.fixture(scope="module")
def pip_base(net_base: str) -> str:
    return cached_build(
        "pip-base",
        f"FROM {net_base}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " python3-pip && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
    )


# Built from the sdist: pip then always caches the wheel it built (~/.cache/pip/wheels).
# Its HTTP cache depends on the index's cache headers, which a TLS-intercepting proxy
# may change; the wheel cache does not.
PIP_ARGS = "--break-system-packages --no-binary idna idna==3.7"
PIP = f"pip install {PIP_ARGS}"


def test_pip_without_no_cache_dir(pip_base: str, tmp_path: Path) -> None:
    tag = cached_build("pip-cache", f"FROM {pip_base}\nRUN {PIP}\n")
    result = analyzed(tag)
    last = len(result.image.layers) - 1
    files = layer_files(tag, tmp_path, last)
    expected = sum(n for p, n in files.items() if p.startswith("root/.cache/pip/"))
    assert expected > 4096
    (f,) = [f for f in result.findings if f.rule == "LS205"]
    assert (f.layer, f.ecosystem, f.bytes) == (last, "pip", expected)
    assert f"+RUN pip install --no-cache-dir {PIP_ARGS}" in f.fix
    assert "--mount=type=cache,target=/root/.cache/pip" in f.fix


def test_pip_with_no_cache_dir(pip_base: str) -> None:
    tag = cached_build(
        "pip-nocache", f"FROM {pip_base}\nRUN pip install --no-cache-dir {PIP_ARGS}\n"
    )
    result = analyzed(tag)
    assert [f for f in result.findings if f.kind is Kind.PACKAGE_CACHE] == []


# -- npm -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def npm_base(net_base: str) -> str:
    return cached_build(
        "npm-base",
        f"FROM {net_base}\nRUN apt-get update && apt-get install -y --no-install-recommends"
        " npm && apt-get clean && rm -rf /var/lib/apt/lists/*\n",
    )


NPM = "mkdir /app && cd /app && npm install --no-audit --no-fund is-number@7.0.0"


def test_npm_install_leaves_its_cache(npm_base: str, tmp_path: Path) -> None:
    tag = cached_build("npm-cache", f"FROM {npm_base}\nRUN {NPM}\n")
    result = analyzed(tag)
    last = len(result.image.layers) - 1
    files = layer_files(tag, tmp_path, last)
    expected = sum(
        n for p, n in files.items() if p.startswith(("root/.npm/_cacache/", "root/.npm/_logs/"))
    )
    (f,) = [f for f in result.findings if f.rule == "LS210"]
    assert (f.layer, f.ecosystem, f.bytes) == (last, "npm", expected)
    assert any("/_cacache/" in p for p in f.paths)
    assert f"+RUN {NPM} && npm cache clean --force" in f.fix


def test_npm_install_with_the_cache_cleaned(npm_base: str) -> None:
    tag = cached_build(
        "npm-clean",
        f"FROM {npm_base}\nRUN {NPM} && npm cache clean --force && rm -rf /root/.npm/_logs\n",
    )
    result = analyzed(tag)
    assert [f for f in result.findings if f.kind is Kind.PACKAGE_CACHE] == []


# -- false positives -------------------------------------------------------------------


@BUILDERS
def test_clean_multistage_image_has_no_waste(debian_base: str, buildkit: bool) -> None:
    tag = cached_build(
        "multistage",
        f"FROM {debian_base} AS build\nRUN {INSTALL}\n"
        f"FROM {debian_base}\nCOPY --from=build /usr/bin/tree /usr/local/bin/tree\n"
        'CMD ["/usr/local/bin/tree", "/"]\n',
        buildkit=buildkit,
    )
    result = analyzed(tag)
    assert waste(result) == []
    assert result.summary.wasted_bytes == 0
    assert result.summary.reclaimable_bytes == 0


def test_engine_and_archive_reads_agree_on_duplicates(busybox_base: str, tmp_path: Path) -> None:
    tag = cached_build(
        "dups",
        f"FROM {busybox_base}\n"
        "RUN mkdir -p /opt/a /srv/b && dd if=/dev/urandom of=/opt/a/blob bs=1k count=200"
        " && cp /opt/a/blob /srv/b/blob && dd if=/dev/urandom of=/opt/a/other bs=1k count=200\n",
        network="none",
    )
    from_engine = analyzed(tag)
    archive = docker_save(tag, tmp_path / "dups.tar")
    from_archive = analyze(
        open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    )
    for result in (from_engine, from_archive):
        (f,) = [f for f in result.findings if f.rule == "LS401"]
        assert (f.bytes, f.paths, f.layer) == (200 * 1024, ("/srv/b/blob",), 1)
    assert from_engine.summary.reclaimable_bytes == from_archive.summary.reclaimable_bytes

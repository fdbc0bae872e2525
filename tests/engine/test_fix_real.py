"""``layerscope fix --verify`` on real builds of the golden Dockerfiles.

The patches are built with the engine, both images analyzed, and the bytes
each fix saves compared with what the first image promised; a touched source
file shows whether the dependency install is rebuilt. The multi-stage case
runs on the busybox base with both builders (no network); the Python case
uses Debian's python3-pip and PyPI, the apt case the Debian mirror
(``--network host``), with the classic builder. Images are kept under
``layerscope-test/fix-*`` tags so later runs hit the engine's cache.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.dockerfile.layer_map import map_image
from layerscope.dockerfile.parser import parse
from layerscope.fix.verify import Verification, verify
from layerscope.pipeline import with_dockerfile
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.cli import layerscope

from .imagebuild import _buildkit_docker, _docker

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "dockerfiles"
STATIC = bytes(range(256)) * 800  # 204,800 bytes


def _context(tmp: Path, case: str, files: dict[str, bytes]) -> Path:
    ctx = tmp / case
    ctx.mkdir()
    shutil.copy(GOLDEN / case / "Dockerfile", ctx / "Dockerfile")
    for name, data in files.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_bytes(data)
    return ctx


def _verify(ctx: Path, builder: str, network: str, prefix: str) -> tuple[Verification, list]:  # type: ignore[type-arg]
    df = parse((ctx / "Dockerfile").read_text(), "Dockerfile")
    docker = _buildkit_docker() if builder == "buildkit" else _docker()
    return verify(
        df, str(ctx), builder=builder, docker=docker, network=network, keep=True,
        tag_prefix=f"layerscope-test/fix-{prefix}-{builder}-",
    )  # fmt: skip


@pytest.fixture(scope="module", params=["classic", "buildkit"])
def multistage(
    request: pytest.FixtureRequest, busybox_base: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Verification, list, str]:  # type: ignore[type-arg]
    ctx = _context(
        tmp_path_factory.mktemp("ms"),
        "multi-stage",
        {"src/index.html": b"<h1>hi</h1>\n", "static/app.js": STATIC},
    )
    v, fixes = _verify(ctx, request.param, "none", "ms")
    return v, fixes, request.param


def test_multistage_fixes_save_exactly_what_the_image_promised(
    multistage: tuple[Verification, list, str],  # type: ignore[type-arg]
) -> None:
    v, fixes, _ = multistage
    assert [(f.kind, f.line) for f in fixes] == [("merge-cleanup", 7), ("copy-chown", 12)]
    by_kind = {s.fix.kind: s for s in v.fixes}
    # 512 KiB made and deleted in two RUNs; every file under /srv stored twice by chown -R
    assert by_kind["merge-cleanup"].saved_bytes == 512 * 1024 == fixes[0].bytes
    srv = len(STATIC) + len(b"<h1>hi</h1>\n") + len(b"built\n")
    assert by_kind["copy-chown"].saved_bytes == srv == fixes[1].bytes
    assert v.saved_bytes == 512 * 1024 + srv
    assert v.patched_bytes == v.original_bytes - v.saved_bytes


def test_multistage_source_change_rebuilds_only_what_follows(
    multistage: tuple[Verification, list, str],  # type: ignore[type-arg]
) -> None:
    v, _, _ = multistage
    assert v.touched == "static/app.js"
    # No dependency install in this Dockerfile; the steps before COPY static/ come from cache.
    for r in (v.original_rebuild, v.patched_rebuild):
        assert r.dependency_steps == 0
        assert 0 < r.cached < r.steps


def test_multistage_layers_map_to_their_lines(
    multistage: tuple[Verification, list, str],  # type: ignore[type-arg]
) -> None:
    _, _, builder = multistage
    text = (GOLDEN / "multi-stage" / "Dockerfile").read_text()
    df = parse(text, "Dockerfile")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    tag = f"layerscope-test/fix-ms-{builder}-{digest}:original"
    image = open_image(tag, source="docker", options=SourceOptions())
    mapping = map_image(image, df)
    lines = [None if (s := mapping.step_for_layer(image, i)) is None else s.line
             for i in range(len(image.layers))]  # fmt: skip
    assert lines[0] is None  # the base
    assert [x for x in lines if x is not None] == [7, 8, 9, 10, 11, 12]
    assert mapping.inexact == () and mapping.unmatched == ()
    result = analyze(image)
    assert {f.rule for f in result.findings} >= {"LS101", "LS102"}


def test_fix_cli_patch_applies_and_builds(
    busybox_base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed patch applies with patch -p0 and the result builds (classic)."""
    if shutil.which("patch") is None:
        pytest.skip("no patch")
    ctx = _context(
        tmp_path, "multi-stage", {"src/index.html": b"<h1>hi</h1>\n", "static/app.js": STATIC}
    )
    proc = layerscope("fix", "--dockerfile", "Dockerfile", cwd=ctx, timeout=120)
    proc.check_returncode()
    subprocess.run(
        ["patch", "-p0", "--batch"], cwd=ctx, input=proc.stdout, text=True, check=True,
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert "COPY --chown=app:app static/ ./static/" in (ctx / "Dockerfile").read_text()
    build = subprocess.run(
        [_docker(), "build", "--network", "none", "-q", "-t", "layerscope-test/fix-ms-applied:1",
         str(ctx)],
        capture_output=True, text=True, timeout=600, check=False,
        env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run(
        [_docker(), "run", "--rm", "--network", "none", "layerscope-test/fix-ms-applied:1",
         "stat", "-c", "%U", "/srv/static/app.js", "/srv"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert run.stdout.split() == ["app", "app"]  # the same owners as with chown -R


PYTHON_DOCKERFILE = """\
FROM layerscope-test/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip \\
    && rm -rf /var/lib/apt/lists/*
COPY wheels/ /wheels/
WORKDIR /app
COPY . .
ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels
RUN pip install --break-system-packages -r requirements.txt
CMD ["python3", "app.py"]
"""


def _wheel(name: str, version: str, module: bytes) -> tuple[str, bytes]:
    """A pure-Python wheel made by hand: pip installs it with no index and no network."""
    import base64
    import io
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: layerscope-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in files.items():
            z.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
    return f"{name}-{version}-py3-none-any.whl", buf.getvalue()


@pytest.mark.slow
def test_python_reorder_reuses_the_install_after_a_source_change(
    debian_base: str, tmp_path: Path
) -> None:
    """Debian's real pip installs a wheel from the context: the reorder fix makes a
    source-only change reuse the install layer."""
    wheel, data = _wheel("lsdemo", "1.0", b"VALUE = 42\n" * 2000)
    ctx = tmp_path / "python"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(PYTHON_DOCKERFILE)
    (ctx / "wheels").mkdir()
    (ctx / "wheels" / wheel).write_bytes(data)
    (ctx / "requirements.txt").write_text("lsdemo==1.0\n")
    (ctx / "app.py").write_text("import lsdemo\nprint(lsdemo.VALUE)\n")
    v, fixes = _verify(ctx, "classic", "host", "py")
    kinds = {f.kind: f for f in fixes}
    assert kinds["reorder"].line == 6
    assert v.touched == "app.py"
    # before: the source COPY busts the pip install; after: it comes from the cache
    assert v.original_rebuild.dependency_steps == 2  # apt and pip
    assert not v.original_rebuild.dependency_cached
    assert v.patched_rebuild.dependency_steps == 2
    assert v.patched_rebuild.dependency_cached
    savings = {s.fix.kind: s.saved_bytes for s in v.fixes}
    # the manifest COPY stores requirements.txt once more, and that is all it costs
    assert savings["reorder"] == -len(b"lsdemo==1.0\n")
    if "no-cache" in kinds:
        assert savings["no-cache"] == kinds["no-cache"].bytes > 0
    # the history of the original image tells the same story, located in the Dockerfile
    digest = hashlib.sha256(PYTHON_DOCKERFILE.encode()).hexdigest()[:12]
    image = open_image(
        f"layerscope-test/fix-py-classic-{digest}:original", source="docker",
        options=SourceOptions(),
    )  # fmt: skip
    result = with_dockerfile(analyze(image), str(ctx / "Dockerfile"))
    (bust,) = [f for f in result.findings if f.rule == "LS501" and f.layer is not None]
    assert bust.location == (str(ctx / "Dockerfile"), 6)
    assert bust.ecosystem == "pip" and dict(bust.extra)["manifests"] == "requirements.txt"
    pip_layer = int(dict(bust.extra)["install_layers"])
    assert bust.bytes == result.layers[pip_layer].content_bytes > 10_000


@pytest.mark.slow
def test_debian_apt_merges_save_the_lists(debian_base: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "debian-apt", {})
    v, fixes = _verify(ctx, "classic", "host", "apt")
    kinds = [(f.kind, f.line) for f in fixes]
    assert ("merge-update", 4) in kinds and ("merge-cleanup", 4) in kinds
    assert ("no-cache", 4) in kinds  # this base keeps .debs and *.bin: apt-get clean
    assert v.saved_bytes > 1 << 20  # the package lists are no longer stored
    # the fixes' shares, as the first image predicted them, add up to what the build saved
    assert sum(f.bytes for f in fixes) == v.saved_bytes
    alone = {s.fix.kind: s.saved_bytes for s in v.fixes}
    # on its own, the cleanup moves into a RUN that never made the lists: nothing saved
    assert alone["merge-cleanup"] == 0

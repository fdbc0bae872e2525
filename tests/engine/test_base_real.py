"""Base attribution on real images: an app built FROM a local multi-layer base
that itself leaves waste, with both builders, through every signal."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.base.attribution import Origin, attribute, finding_origin, split
from layerscope.base.boundary import Boundary, Signal, from_history
from layerscope.base.resolve import LocalImages, find_base
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.cli import layerscope

from .imagebuild import build_image, docker_save

KIB = 1024
BASE_TAG = "layerscope-test/base-multi:1"
BASE_BK_TAG = "layerscope-test/base-multi:bk"
OTHER_TAG = "layerscope-test/base-other:1"

# Four layers: busybox, then three RUNs. 48 KiB written and deleted by the
# next layer (the base's own waste); 16 KiB of data the app will delete.
BASE_DOCKERFILE = """\
FROM {busybox}
LABEL layerscope.test=base-multi
RUN dd if=/dev/zero of=/var/tmp/junk.bin bs=1k count=48 && echo a > /etc/base-a
RUN rm /var/tmp/junk.bin && echo b > /etc/base-b
ENV BASE_MULTI=1
RUN mkdir -p /opt && dd if=/dev/zero of=/opt/base-data bs=1k count=16
CMD ["/bin/sh"]
"""
BASE_LAYERS = 4
BASE_WASTE = 48 * KIB

# Own waste: 24 KiB deleted by a later RUN. It also deletes the base's 16 KiB.
APP_DOCKERFILE = """\
FROM {base}
RUN dd if=/dev/zero of=/tmp/build.bin bs=1k count=24 && echo app > /app.txt
COPY hello.txt /app/hello.txt
RUN rm /tmp/build.bin /opt/base-data
CMD ["/bin/cat", "/app.txt"]
"""
APP_LAYERS = 3
OWN_WASTE = 24 * KIB
BASE_DATA = 16 * KIB


def rmi(*tags: str) -> None:
    subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def base_multi(busybox_base: str) -> Iterator[str]:
    """``layerscope-test/base-multi:1`` (classic builder)."""
    yield build_image(BASE_TAG, BASE_DOCKERFILE.format(busybox=busybox_base))
    rmi(BASE_TAG)


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "buildkit"])
def app(request: pytest.FixtureRequest, base_multi: str) -> Iterator[tuple[str, bool]]:
    buildkit: bool = request.param
    tag = f"layerscope-test/base-app:{'buildkit' if buildkit else 'classic'}"
    build_image(
        tag, APP_DOCKERFILE.format(base=base_multi), {"hello.txt": b"hello\n"}, buildkit=buildkit
    )
    yield tag, buildkit
    rmi(tag)


def read(target: str) -> Analysis:
    return analyze(open_image(target, options=SourceOptions()))


def test_base_multi_itself_leaves_waste_and_sits_on_busybox(base_multi: str) -> None:
    result = read(base_multi)
    assert len(result.image.layers) == BASE_LAYERS
    assert result.summary.wasted_bytes == BASE_WASTE
    boundary = find_base(result.image)
    assert boundary == Boundary(1, Signal.LOCAL_IMAGE, "layerscope-test/busybox:1")
    # From the history alone: the busybox layer is an imported rootfs.
    assert from_history(result.image) == Boundary(1, Signal.IMPORTED)


def test_with_base_flag(app: tuple[str, bool]) -> None:
    tag, _ = app
    plain = read(tag)
    boundary = find_base(plain.image, base=BASE_TAG)
    assert boundary == Boundary(BASE_LAYERS, Signal.FLAG, BASE_TAG)
    result = attribute(plain, boundary)
    parts = split(result)
    assert (parts.base.layer_count, parts.own.layer_count) == (BASE_LAYERS, APP_LAYERS)
    # The base's waste: its own deleted file, and its data the app deleted.
    assert parts.base.wasted_bytes == BASE_WASTE + BASE_DATA
    assert parts.own.wasted_bytes == OWN_WASTE
    assert parts.base.wasted_bytes + parts.own.wasted_bytes == plain.summary.wasted_bytes
    assert parts.own.total_bytes == OWN_WASTE + len(b"app\n") + len(b"hello\n")

    before = {(f.rule, f.layer, f.paths): f for f in plain.findings}
    origins = {}
    for f in result.findings:
        if f.kind.value == "cache-bust":  # the base's consecutive RUNs (LS505)
            assert finding_origin(result, f) is Origin.BASE and "Nothing to change" in f.fix
            continue
        origins[f.paths[0]] = finding_origin(result, f)
        old = before[(f.rule, f.layer, f.paths)]
        if finding_origin(result, f) is Origin.OWN:
            assert f.fix == old.fix
        else:
            # No tag is invented: the -slim variant is not a local image.
            assert BASE_TAG in f.fix and f"{BASE_TAG}-slim" not in f.fix
            assert "a -slim or -alpine tag of the same version" in f.fix
            assert f"{f.bytes:,} bytes" in f.fix
    assert origins["/var/tmp/junk.bin"] is Origin.BASE
    assert origins["/opt/base-data"] is Origin.BASE
    assert origins["/tmp/build.bin"] is Origin.OWN
    hidden = next(f for f in result.findings if f.paths[:1] == ("/opt/base-data",))
    assert hidden.hidden_by == BASE_LAYERS + 2 and "Your layer" in hidden.fix


def test_base_flag_as_an_archive(app: tuple[str, bool], tmp_path: Path) -> None:
    tag, _ = app
    archive = docker_save(BASE_TAG, tmp_path / "base.tar")
    image = open_image(tag, options=SourceOptions())
    assert find_base(image, base=str(archive)) == Boundary(BASE_LAYERS, Signal.FLAG, str(archive))


def test_local_image_prefix_match(app: tuple[str, bool], tmp_path: Path) -> None:
    tag, _ = app
    image = open_image(tag, options=SourceOptions())
    expected = Boundary(BASE_LAYERS, Signal.LOCAL_IMAGE, BASE_TAG)
    assert find_base(image) == expected
    # The same image read from an archive matches the engine's base too.
    saved = open_image(str(docker_save(tag, tmp_path / "app.tar")), options=SourceOptions())
    assert find_base(saved) == expected
    assert find_base(saved, local=False).signal is not Signal.LOCAL_IMAGE


def test_local_match_from_a_listing_made_ahead(app: tuple[str, bool]) -> None:
    """The CLI lists the engine's images while the export is prepared: the
    listing must match the base as the live queries do."""
    tag, _ = app
    listing = LocalImages("docker")
    image = open_image(tag, options=SourceOptions())
    rows = listing.rows(timeout=60)
    assert rows is not None
    assert any(BASE_TAG in tags and len(layers) == BASE_LAYERS for _, tags, layers in rows)
    expected = Boundary(BASE_LAYERS, Signal.LOCAL_IMAGE, BASE_TAG)
    assert find_base(image, listing=listing) == expected == find_base(image)


def test_history_only(app: tuple[str, bool]) -> None:
    tag, buildkit = app
    image = open_image(tag, options=SourceOptions())
    signal = Signal.BUILDER_CHANGE if buildkit else Signal.BASE_CMD
    assert from_history(image) == Boundary(BASE_LAYERS, signal)


def test_dockerfile_from_resolved_in_the_engine(app: tuple[str, bool], tmp_path: Path) -> None:
    tag, _ = app
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(APP_DOCKERFILE.format(base=BASE_TAG))
    image = open_image(tag, options=SourceOptions())
    found = find_base(image, dockerfile=str(dockerfile))
    assert found == Boundary(BASE_LAYERS, Signal.DOCKERFILE, BASE_TAG, (str(dockerfile), 1))
    # A FROM the engine has but that is not this image's base: a warning, and
    # the next signal decides.
    other = build_image(OTHER_TAG, "FROM layerscope-test/busybox:1\nRUN echo other > /o\n")
    try:
        dockerfile.write_text(APP_DOCKERFILE.format(base=other))
        found = find_base(image, dockerfile=str(dockerfile))
    finally:
        rmi(OTHER_TAG)
    assert found.signal is Signal.LOCAL_IMAGE and found.layer_count == BASE_LAYERS
    assert found.reference == BASE_TAG and found.from_location == (str(dockerfile), 1)
    assert found.warnings and "is not this image's base: its layer 1" in found.warnings[0]


def test_history_of_a_buildkit_base(busybox_base: str) -> None:
    base = build_image(BASE_BK_TAG, BASE_DOCKERFILE.format(busybox=busybox_base), buildkit=True)
    tag = "layerscope-test/base-app:bk-on-bk"
    try:
        build_image(tag, APP_DOCKERFILE.format(base=base), {"hello.txt": b"hello\n"}, buildkit=True)
        image = open_image(tag, options=SourceOptions())
        assert from_history(image) == Boundary(BASE_LAYERS, Signal.BASE_CMD)
        assert find_base(image) == Boundary(BASE_LAYERS, Signal.LOCAL_IMAGE, BASE_BK_TAG)
    finally:
        rmi(tag, BASE_BK_TAG)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return layerscope(*args)


def test_cli_report_and_default_verdict(app: tuple[str, bool]) -> None:
    tag, _ = app
    with_flag = cli(tag, "--format", "json", "--base", BASE_TAG)
    assert with_flag.returncode == 0, with_flag.stderr
    without = cli(tag, "--format", "json")
    assert without.returncode == 0, without.stderr
    a, b = json.loads(with_flag.stdout), json.loads(without.stdout)
    assert a["base"] == {"reference": BASE_TAG, "layer_count": BASE_LAYERS, "signal": "base-flag"}
    assert b["base"] == {"reference": BASE_TAG, "layer_count": BASE_LAYERS, "signal": "local-image"}
    for report in (a, b):
        assert [layer["origin"] for layer in report["layers"]] == ["base"] * 4 + ["own"] * 3
        assert report["summary"]["own"]["wasted_bytes"] == OWN_WASTE
        assert report["summary"]["base"]["wasted_bytes"] == BASE_WASTE + BASE_DATA
    assert a["summary"] == b["summary"]
    # The default verdict judges own layers: 30 KiB of waste allowed passes
    # (24 KiB own), the same limit on the whole image (88 KiB) fails.
    assert cli(tag, "--ci", "--max-wasted", "30KiB").returncode == 0
    assert cli(tag, "--ci", "--max-own-wasted", "30KiB").returncode == 0
    whole = cli(tag, "--ci", "--max-image-wasted", "30KiB")
    assert whole.returncode == 1 and "FAIL  max_image_wasted" in whole.stdout
    base = cli(tag, "--ci", "--max-base-wasted", "30KiB", "--base", BASE_TAG)
    assert base.returncode == 1 and "FAIL  max_base_wasted" in base.stdout
    # Every layer own: the whole image's waste is judged.
    scratch = cli(tag, "--ci", "--max-wasted", "30KiB", "--base", "scratch")
    assert scratch.returncode == 1
    wrong = cli(tag, "--base", "layerscope-test/busybox:1-nope")
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1

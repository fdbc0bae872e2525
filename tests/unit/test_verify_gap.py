"""fix --verify explains a measured saving that differs from the prediction: the
steps the fix left alone that wrote other bytes when rebuilt, and what the
changed steps saved (crafted images through the real archive reader)."""

from __future__ import annotations

from layerscope.analysis import Analysis, analyze
from layerscope.fix.model import Fix
from layerscope.fix.verify import _fix_saving, _saving
from tests.builders import docker_archive, file, layer_tar, read_archive

_BASE = "/bin/sh -c #(nop) ADD file:" + "a" * 64 + " in / "


def _image(layers: list[tuple[str, int]]) -> Analysis:
    tars = [layer_tar([file(f"f{n}", size)]) for n, (_, size) in enumerate(layers)]
    history = [{"created_by": text} for text, _ in layers]
    return analyze(read_archive(docker_archive(tars, history)))


def test_a_gap_names_the_steps_rebuilt_otherwise() -> None:
    """The npm install step saved what was predicted; the later steps' logs took
    other timings: the line says so, step by step."""
    original = _image(
        [(_BASE, 100), ("/bin/sh -c npm install", 5000), ("/bin/sh -c npm run build", 300),
         ("/bin/sh -c npm install -g serve", 900)]
    )  # fmt: skip
    rebuilt = _image(
        [(_BASE, 100), ("/bin/sh -c npm install && npm cache clean --force", 1000),
         ("/bin/sh -c npm run build", 298), ("/bin/sh -c npm install -g serve", 883)]
    )  # fmt: skip
    fix = Fix("no-cache", "LS210", 7, "keep the npm cache out", (), bytes=4000)
    s = _fix_saving(fix, original, rebuilt)
    assert s.saved_bytes == 4019
    assert s.steps == (("RUN npm install -g serve", 17), ("RUN npm run build", 2), ("", 4000))
    assert _saving(s) == (
        "  line 7 no-cache: saves 4019 bytes (predicted 4000, +19: the patched step(s) saved "
        "4000 bytes; steps the fix did not change wrote other bytes when rebuilt (logs with "
        "other timings, newer versions): RUN npm install -g serve +17; RUN npm run build +2)"
    )


def test_as_predicted_keeps_no_steps() -> None:
    original = _image([(_BASE, 100), ("/bin/sh -c npm install", 5000)])
    rebuilt = _image([(_BASE, 100), ("/bin/sh -c npm ci", 1000)])
    s = _fix_saving(Fix("no-cache", "LS210", 2, "t", (), bytes=4000), original, rebuilt)
    assert s.steps == () and _saving(s).endswith("(as predicted)")

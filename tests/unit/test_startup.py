"""`layerscope --version` loads almost nothing (start-up target: under 150 ms).
The import set is tested, not the time: timings are for benchmarks/."""

from __future__ import annotations

import subprocess
import sys

from tests.cli import layerscope

LIGHT = {
    "layerscope",
    "layerscope.cli",
    "layerscope.cli.entry",
    "layerscope.errors",
    "layerscope.__main__",
}


def _run(code: str) -> tuple[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    first, _, rest = out.partition("\n")
    return first, set(rest.split())


def test_version_imports_only_the_cli() -> None:
    code = "from layerscope.cli import main\nrc = main(['--version'])\nassert rc == 0, rc"
    first, loaded = _run(code)
    assert first == "layerscope " + __import__("layerscope").__version__
    ours = {m for m in loaded if m.split(".")[0] == "layerscope"}
    assert ours <= LIGHT, ours - LIGHT
    heavy = ("textual", "docker", "rich", "humanize", "tabulate", "zstandard", "isal")
    assert not {m for m in loaded if m.split(".")[0] in heavy}


def test_version_still_answers_after_other_options() -> None:
    proc = layerscope("some-image", "--format", "json", "--version", timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("layerscope ")

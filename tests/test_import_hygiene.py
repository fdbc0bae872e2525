"""The headless path never imports the UI or engine libraries (see CONTRIBUTING.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_images" / "removed-later.tar.gz"


def _all_modules() -> list[str]:
    names = []
    for path in sorted((SAMPLE.parents[1] / "layerscope").rglob("*.py")):
        parts = path.relative_to(SAMPLE.parents[1]).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


# Everything but the views that may use them (the TUI, the table report) and the CLI
# that chooses a view; the engine is imported only inside functions that talk to it.
CORE = [
    m
    for m in _all_modules()
    if not m.startswith(("layerscope.tui", "layerscope.cli", "layerscope.__main__"))
    and m != "layerscope.report.text"
]
HEAVY = ("textual", "docker", "rich", "humanize", "tabulate")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_core_imports_nothing_heavy() -> None:
    code = (
        "\n".join(f"import {m}" for m in CORE)
        + "\nfrom layerscope.rules import all_rules\nall_rules()"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_json_run_on_an_archive_loads_no_ui_or_engine_library() -> None:
    code = (
        "import io, contextlib\nfrom layerscope.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main([{str(SAMPLE)!r}, '--format', 'json'])\n"
        "assert rc == 0, rc"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "docker", "rich")}


def test_version_is_cheap() -> None:
    loaded = _modules_after("import layerscope, layerscope.cli.entry")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}

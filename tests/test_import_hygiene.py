"""The headless path never imports the UI or engine libraries (STYLE.md boundary 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "sample_images" / "removed-later.tar.gz"

CORE = [
    "layerscope.model",
    "layerscope.tar.reader",
    "layerscope.union",
    "layerscope.analysis",
    "layerscope.history",
    "layerscope.shell.commands",
    "layerscope.rules",
    "layerscope.report.schema",
    "layerscope.report.json",
    "layerscope.report.markdown",
    "layerscope.report.sarif",
    "layerscope.report.summary",
    "layerscope.policy.budgets",
    "layerscope.policy.file",
    "layerscope.base.attribution",
    "layerscope.dockerfile.parser",
    "layerscope.dockerfile.layer_map",
    "layerscope.fix.planner",
    "layerscope.tar.header",
    "layerscope.shell.lexer",
    "layerscope.base.fixes",
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

"""union.paused_gc: the GC is back on afterwards, built objects are frozen in
a one-shot process and only paused under an interactive app (run in
subprocesses: freezing is process-wide)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gc, sys
if {textual}:
    sys.modules["textual"] = type(sys)("textual")
from layerscope.union import paused_gc
with paused_gc():
    assert not gc.isenabled()
    data = [(i, str(i)) for i in range(1000)]
assert gc.isenabled()
print(gc.get_freeze_count() > 0)
gc.disable()
with paused_gc():
    pass
assert not gc.isenabled()  # a caller that had it off keeps it off
"""


def _frozen(textual: bool) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(textual=textual)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return out.strip() == "True"


def test_one_shot_process_freezes_what_it_built() -> None:
    assert _frozen(textual=False)


def test_interactive_app_only_pauses() -> None:
    assert not _frozen(textual=True)

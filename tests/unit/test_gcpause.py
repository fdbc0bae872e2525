"""gcpause.paused_gc: the GC is back on afterwards, built objects are frozen in
a one-shot process and only paused once the interactive view asked for that
(run in subprocesses: freezing is process-wide)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gc, sys
from layerscope.gcpause import keep_collectable, paused_gc
if {textual}:
    keep_collectable()
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

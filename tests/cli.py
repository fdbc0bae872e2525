"""Run the real ``layerscope`` command in a child process, as a user would.

One helper for every test that checks what the command prints and how it exits:
the child imports this checkout (``PYTHONPATH``), and does not inherit the CI
markers of the suite's own environment unless the test asks for them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# The suite itself runs under CI=true (and maybe in GitHub Actions): a child
# that inherited them would take CI mode without the test asking for it.
CI_MARKERS = ("CI", "GITHUB_ACTIONS")


def cli_env(
    env: Mapping[str, str] | None = None,
    *,
    base: Mapping[str, str] | None = None,
    drop: tuple[str, ...] = CI_MARKERS,
) -> dict[str, str]:
    """The child's environment: ``base`` (default: this process's) without the
    names in ``drop``, this checkout on ``PYTHONPATH``, then ``env`` on top."""
    out = {k: v for k, v in (os.environ if base is None else base).items() if k not in drop}
    out["PYTHONPATH"] = str(REPO)
    out.update(env or {})
    return out


def layerscope(
    *args: str,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 300,
    binary: bool = False,
) -> subprocess.CompletedProcess[Any]:
    """``python -m layerscope ARGS``: its exit status, stdout and stderr.

    ``env`` adds to (or overrides) the environment; ``base_env`` replaces the
    inherited one. Output is text unless ``binary`` (needed to feed ``stdin``).
    """
    return subprocess.run(
        [sys.executable, "-m", "layerscope", *args],
        capture_output=True,
        text=not binary,
        input=stdin,
        timeout=timeout,
        cwd=cwd,
        env=cli_env(env, base=base_env),
        check=False,
    )

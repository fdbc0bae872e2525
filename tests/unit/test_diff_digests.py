"""layerscope diff hashes duplicate candidates on both sides, like the main command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


def test_duplicate_content_shows_as_new_in_a_diff() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "layerscope",
            "diff",
            str(SAMPLES / "removed-later.tar.gz"),
            str(SAMPLES / "duplicates.tar.gz"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "CI": "true"},
    )
    assert r.returncode == 0, r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert [f["rule"] for f in findings["new"]] == ["LS401"]
    assert [f["rule"] for f in findings["gone"]] == ["LS101"]

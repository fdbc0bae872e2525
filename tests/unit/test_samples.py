"""The committed sample images work without any engine and show their waste."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import layerscope

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


def _report(name: str) -> dict:
    r = layerscope(
        str(SAMPLES / f"{name}.tar.gz"),
        "--format",
        "json",
        env={"DOCKER_HOST": "unix:///nonexistent"},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_samples_are_small() -> None:
    archives = sorted(SAMPLES.glob("*.tar.gz"))
    assert len(archives) >= 4
    for a in archives:
        assert a.stat().st_size < 2 * 1024 * 1024, a
        assert (SAMPLES / a.name.removesuffix(".tar.gz") / "Dockerfile").is_file()


def test_removed_later_sample() -> None:
    report = _report("removed-later")
    (f,) = [f for f in report["findings"] if f["kind"] == "removed-later"]
    assert f["bytes"] == 300 * 1024 and f["paths"] == ["/tmp/dl/tool-1.0.tar"]


def test_chown_sample_counts_the_whole_tree_again() -> None:
    app = SAMPLES / "chown-copy" / "app"
    tree_bytes = sum(p.stat().st_size for p in app.rglob("*") if p.is_file())
    report = _report("chown-copy")
    (f,) = [f for f in report["findings"] if f["kind"] == "overwritten-later"]
    assert f["bytes"] == tree_bytes
    assert "--chown" in f["fix"]


def test_overwritten_sample() -> None:
    report = _report("overwritten")
    assert report["summary"]["overwritten_bytes"] == 200 * 1024

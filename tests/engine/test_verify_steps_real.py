"""`fix --verify` hears each Dockerfile step while a real build runs (for its progress
line), with both builders, and the build's result is what it was before."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from layerscope.fix.verify import BuildError, build


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_steps_are_heard_as_they_start(busybox_base: str, tmp_path: Path, builder: str) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    text = f"FROM {busybox_base}\nCOPY a.txt /a.txt\nRUN echo {builder} > /b.txt\n"
    tag = f"layerscope-test/verify-steps-{builder}:1"
    heard: list[str] = []
    docker = "/usr/bin/docker" if builder == "buildkit" else "docker"
    try:
        built = build(
            text, str(tmp_path), tag, builder=builder, docker=docker, network="none",
            on_step=heard.append,
        )  # fmt: skip
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False, timeout=60)
    assert any("COPY a.txt /a.txt" in s for s in heard), heard
    assert any(f"echo {builder} > /b.txt" in s for s in heard), heard
    assert built.tag == tag and built.log


def test_a_failing_build_keeps_its_log_lines(busybox_base: str, tmp_path: Path) -> None:
    text = f"FROM {busybox_base}\nRUN echo first-line && false\n"
    with pytest.raises(BuildError) as e:
        build(text, str(tmp_path), "layerscope-test/verify-fails:1", builder="classic")
    assert "exit" in str(e.value) and "\n" in str(e.value)

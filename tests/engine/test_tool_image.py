"""The root Dockerfile: layerscope's own image, built on a locally made
Debian base (Debian's python3 from apt, layerscope in a venv), runs on an
archive, and layerscope judges that image with budgets that catch a
regression (an apt or pip cache left in a layer, a compiler in the final
stage, an image grown fat)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli import layerscope

from .imagebuild import build_image, ensure_debian_base

REPO = Path(__file__).resolve().parents[2]
TAG = "ls-h16/layerscope:selftest"
NET_BASE = "ls-h16/net-base:selftest"


def _host_ca() -> bytes:
    # Where TLS to PyPI is intercepted, pip in the build needs the interceptor's CA.
    path = Path("/etc/ssl/certs/ca-certificates.crt")
    return path.read_bytes() if path.exists() else b""


@pytest.fixture(scope="module")
def tool_image() -> str:
    base = build_image(
        NET_BASE,
        f"FROM {ensure_debian_base()}\nCOPY host-ca.crt /etc/ssl/certs/host-ca.crt\n"
        "ENV PIP_CERT=/etc/ssl/certs/host-ca.crt\n",
        {"host-ca.crt": _host_ca()},
    )
    subprocess.run(
        ["docker", "build", "--network", "host", "--build-arg", f"BASE={base}", "-t", TAG, "."],
        cwd=REPO,
        env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return TAG


def _layerscope(*args: str) -> subprocess.CompletedProcess[str]:
    return layerscope(
        *args, cwd=REPO, base_env={"PATH": "/usr/local/bin:/usr/bin:/bin"}, timeout=600
    )


@pytest.mark.slow
def test_the_tool_image_runs_and_keeps_its_budget(tool_image: str) -> None:
    run = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{REPO / 'sample_images'}:/s:ro",
            tool_image,
            "/s/package-caches.tar.gz",
            "--no-config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["layer_count"] == 4
    # No compiler and no pip in the final image.
    probe = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            tool_image,
            "-c",
            "command -v gcc cc pip pip3 || echo none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.stdout.strip() == "none", probe.stdout

    judged = _layerscope(
        tool_image,
        "--dockerfile",
        "Dockerfile",
        "--base",
        NET_BASE,
        "--no-config",
        "--ci",
        "--max-own-wasted",
        "1MB",
        "--max-own-reclaimable",
        "1MB",
        "--max-own-total",
        "150MB",
        "--max-own-layers",
        "3",
        "-o",
        "/dev/stdout",
    )
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert "result: PASSED (4 budgets)" in judged.stdout
    assert "budget failed" not in judged.stderr

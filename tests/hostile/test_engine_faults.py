"""Engine faults: the real Docker engine behind a fault-injecting proxy.

Engine down, socket permission denied, image not found, export cut
mid-stream, an engine that never answers, and an interrupt while waiting:
each is one clear line on stderr naming the cause, exit 2 (130/143 for
signals), and never a report pretending to be whole.

These faults are in the export stream, so every run here reads the export
(``--engine-read export``); the layer-storage path has its own tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.imagebuild import engine_available, ensure_busybox_base
from tests.hostile.faultproxy import fault_proxy
from tests.hostile.runner import Outcome, run_cli

pytestmark = pytest.mark.docker
NOBODY = 65534


@pytest.fixture(scope="module")
def image() -> str:
    reason = engine_available()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but no Docker engine: {reason}", pytrace=False)
        pytest.skip(f"no Docker engine: {reason}")
    return ensure_busybox_base()


def _one_error_line(out: Outcome, pattern: str) -> None:
    import re

    lines = out.err.splitlines()
    assert out.code == 2, out
    assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), out.err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in out.err
    assert out.stdout == b""


def test_engine_not_running(tmp_path: Path, image: str) -> None:
    out = run_cli(
        [image, "--engine-read", "export", "--format", "json"],
        cwd=tmp_path,
        env={"DOCKER_HOST": f"unix://{tmp_path}/nothing-here.sock"},
    )
    _one_error_line(out, r"cannot reach the docker engine .*is it running\?")


def test_socket_permission_denied(tmp_path: Path, image: str) -> None:
    sock = tmp_path / "docker.sock"
    prefix: list[str] = []
    with fault_proxy(sock, "pass"):
        if os.geteuid() == 0:
            # Root opens any socket: give it to nobody and drop root's override.
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv (util-linux) is needed to drop CAP_DAC_OVERRIDE")
            os.chown(sock, NOBODY, NOBODY)
            prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        sock.chmod(0o600)
        out = run_cli(
            [image, "--engine-read", "export", "--format", "json"],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{sock}"},
            prefix=prefix,
        )
    _one_error_line(out, r"permission denied on the docker socket")


def test_image_not_found(tmp_path: Path, image: str) -> None:
    out = run_cli(["layerscope-test/hostile-no-such-image:never", "--format", "json"], cwd=tmp_path)
    _one_error_line(out, r"not found in the docker engine .*build or pull it first")


@pytest.mark.parametrize("cut_after", [0, 200, 60_000, 700_000])
def test_export_cut_mid_stream(tmp_path: Path, image: str, cut_after: int) -> None:
    with fault_proxy(tmp_path / "p.sock", "cut-export", cut_after) as proxy:
        out = run_cli(
            [
                image,
                "--engine-read",
                "export",
                "--format",
                "json",
                "-o",
                str(tmp_path / "report.json"),
            ],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{tmp_path}/p.sock"},
        )
    assert proxy.exports == 1
    _one_error_line(out, r"export|truncated|ended early|cut")
    assert not (tmp_path / "report.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".layerscope-")] == []


def test_whole_export_through_the_proxy_reads(tmp_path: Path, image: str) -> None:
    """The control: the same proxy passing everything gives the same report."""
    direct = run_cli([image, "--engine-read", "export", "--format", "json"], cwd=tmp_path)
    with fault_proxy(tmp_path / "p.sock", "pass"):
        proxied = run_cli(
            [image, "--engine-read", "export", "--format", "json", "--verify-digests"],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{tmp_path}/p.sock"},
        )
    assert direct.code == proxied.code == 0, (direct.err, proxied.err)
    assert json.loads(direct.stdout)["summary"] == json.loads(proxied.stdout)["summary"]


def test_report_does_not_wait_for_the_end_of_the_transfer(tmp_path: Path, image: str) -> None:
    """Docker deletes its temporary export before it ends the response. Once
    the tar's end-of-archive marker is in, the image is whole: the report
    comes out while the engine still holds the transfer open."""
    direct = run_cli([image, "--engine-read", "export", "--format", "json"], cwd=tmp_path)
    with fault_proxy(tmp_path / "p.sock", "hold-end") as proxy:
        held = run_cli(
            [image, "--engine-read", "export", "--format", "json"],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{tmp_path}/p.sock"},
        )
        assert proxy.held_end  # the run ended while the terminator was held back
    assert direct.code == held.code == 0, (direct.err, held.err)
    assert held.err == ""
    assert json.loads(held.stdout) == json.loads(direct.stdout)


def test_engine_that_never_answers(tmp_path: Path, image: str) -> None:
    with fault_proxy(tmp_path / "s.sock", "silent"):
        start = time.monotonic()
        out = run_cli(
            [image, "--engine-read", "export", "--format", "json", "--engine-timeout", "2"],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{tmp_path}/s.sock"},
        )
    assert time.monotonic() - start < 20
    _one_error_line(out, r"did not answer within 2s .*--engine-timeout")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_while_waiting_for_the_engine(
    tmp_path: Path, image: str, signum: int, code: int
) -> None:
    report = tmp_path / "report.json"
    report.write_text("the previous report\n")

    def interrupt(proc: subprocess.Popen[bytes]) -> None:
        time.sleep(2.0)  # well into the wait for an answer
        proc.send_signal(signum)

    with fault_proxy(tmp_path / "s.sock", "silent"):
        out = run_cli(
            [image, "-o", str(report)],
            cwd=tmp_path,
            env={"DOCKER_HOST": f"unix://{tmp_path}/s.sock"},
            during=interrupt,
        )
    assert out.code == code, out
    assert "Traceback" not in out.err
    assert out.stdout == b""
    assert report.read_text() == "the previous report\n"
    assert out.tmpdir_left == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".layerscope-")] == []

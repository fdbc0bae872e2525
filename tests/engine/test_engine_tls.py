"""A remote engine behind TLS: DOCKER_HOST with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.

The engine is the real local one, reached through a TLS terminator in this process
that forwards each connection to its unix socket; certificates come from openssl.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import layerscope

REPO = Path(__file__).resolve().parents[2]
DOCKER_SOCKET = "/var/run/docker.sock"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(where: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as
    Docker's "protect the daemon socket" guide makes them."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=where)  # fmt: skip
    (where / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    (where / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", cwd=where)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}-cert.pem", cwd=where)  # fmt: skip
    # What the client reads from DOCKER_CERT_PATH.
    shutil.copy(where / "client-cert.pem", where / "cert.pem")
    shutil.copy(where / "client-key.pem", where / "key.pem")


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def tls_engine(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    if not os.access(DOCKER_SOCKET, os.R_OK | os.W_OK):
        pytest.skip(f"{DOCKER_SOCKET} is not usable by this user")
    certs = tmp_path / "certs"
    certs.mkdir()
    _certificates(certs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server-cert.pem", certs / "server-key.pem")
    context.load_verify_locations(certs / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED  # the engine only talks to holders of a client cert
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()
    opened: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
                conn = context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                continue
            engine = socket.socket(socket.AF_UNIX)
            opened.extend((conn, engine))
            engine.connect(DOCKER_SOCKET)
            for a, b in ((conn, engine), (engine, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{port}", certs
    stop.set()
    listener.close()
    for s in opened:
        s.close()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    docker = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_HOST")
    base = {k: v for k, v in os.environ.items() if k not in docker}
    return layerscope(*args, env=env, base_env=base)


def test_tls_engine_is_read_over_tls(tls_engine: tuple[str, Path], busybox_base: str) -> None:
    host, certs = tls_engine
    env = {"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    out = _cli(busybox_base, "--format", "json", "--source", "docker", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    local = json.loads(_cli(busybox_base, "--format", "json", env={}).stdout)
    assert report["image"]["id"] == local["image"]["id"]
    assert report["summary"] == local["summary"] and report["summary"]["total_bytes"] > 0


def test_tls_engine_without_certificates_is_one_line(
    tls_engine: tuple[str, Path], tmp_path: Path
) -> None:
    host, _ = tls_engine
    env = {"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    out = _cli("some/image:tag", "--format", "json", "--source", "docker", env=env)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "DOCKER_TLS_VERIFY" in out.stderr and str(tmp_path) in out.stderr


def test_plain_client_is_refused_by_a_tls_engine(tls_engine: tuple[str, Path]) -> None:
    """Without DOCKER_TLS_VERIFY the TLS engine cannot be spoken to: one line, exit 2."""
    host, _ = tls_engine
    out = _cli("some/image:tag", "--format", "json", "--source", "docker",
               "--engine-timeout", "5", env={"DOCKER_HOST": host})  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr

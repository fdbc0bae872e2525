"""Real registries for the registry tests: Debian's ``docker-registry`` on a free
loopback port, a token service for its ``auth: token`` mode, and small HTTP
servers for what a well-behaved registry never does (cut connections,
redirects to another host, oversized or deeply nested manifests).

Plain classes (no pytest) so they can be used from a REPL too. Needs
``docker-registry``, ``openssl`` and ``htpasswd`` (apache2-utils).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class RegistryToolError(RuntimeError):
    """A tool the registry tests need is missing or failed."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RegistryToolError(f"no {tool}: apt-get install {package}")
    return path


def _run(argv: list[str], *, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RegistryToolError(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout


class Registry:
    """``docker-registry serve`` with filesystem storage under ``root``.

    ``auth`` is the config's ``auth:`` section (None: anonymous); ``tls`` a
    (certificate, key) pair to serve https.
    """

    def __init__(
        self,
        root: Path,
        *,
        auth: dict[str, Any] | None = None,
        tls: tuple[Path, Path] | None = None,
        bind: str = "127.0.0.1",
    ) -> None:
        self.root = root
        self.storage = root / "storage"
        self.port = free_port(bind)
        self.host = f"{bind}:{self.port}"
        self.scheme = "https" if tls else "http"
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}},
            "http": {"addr": self.host, "secret": "layerscope-tests"},
        }
        if tls:
            config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
        if auth:
            config["auth"] = auth
        root.mkdir(parents=True, exist_ok=True)
        cfg = root / "config.yml"
        cfg.write_text(json.dumps(config))  # YAML is a superset of JSON
        self._log = open(root / "registry.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [need("docker-registry", "docker-registry"), "serve", str(cfg)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RegistryToolError(
                    f"docker-registry exited: {(self.root / 'registry.log').read_text()[-2000:]}"
                )
            try:
                with socket.create_connection((self.host.rsplit(":", 1)[0], self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RegistryToolError("docker-registry did not start listening in 30s")

    def blob_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps ``digest``'s bytes."""
        hexpart = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    """A bcrypt htpasswd file (docker-registry accepts bcrypt only)."""
    out = _run([need("htpasswd", "apache2-utils"), "-Bbn", user, password])
    path.write_bytes(out)
    return path


def self_signed(directory: Path, name: str, san: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key (``san`` like ``IP:127.0.0.1``)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _run(
        [
            need("openssl", "openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ]
    )
    return cert, key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(cert: Path) -> str:
    """The ``kid`` docker-registry derives from a certificate's public key."""
    pem = _run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"])
    der = _run(["openssl", "pkey", "-pubin", "-outform", "DER"], stdin=pem)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type[BaseHTTPRequestHandler], host: str) -> tuple[_Server, int]:
    server = _Server((host, 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, server.server_address[1]


class TokenService:
    """A token endpoint for ``auth: token``: checks basic credentials and
    signs RS256 JWTs granting what the scope asks. Records every request."""

    issuer = "layerscope-test-issuer"
    service = "layerscope-test-registry"

    def __init__(self, directory: Path, user: str, password: str, refresh_token: str = "") -> None:
        self.cert, self.key = self_signed(directory, "token", "DNS:token")
        self.kid = libtrust_key_id(self.cert)
        self.requests: list[dict[str, str]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                auth = self.headers.get("Authorization", "")
                service.requests.append({**query, "authorization": auth})
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if auth != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                self._grant(query.get("scope", ""))

            def do_POST(self) -> None:
                """The OAuth2 refresh-token grant (an ``identitytoken`` login)."""
                size = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(size).decode()))
                service.requests.append({**form, "method": "POST"})
                if (
                    not refresh_token
                    or form.get("grant_type") != "refresh_token"
                    or form.get("refresh_token") != refresh_token
                ):
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._grant(form.get("scope", ""), key="access_token")

            def _grant(self, scope: str, key: str = "token") -> None:
                body = json.dumps({key: service.sign(scope), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server, port = _serve(Handler, "127.0.0.1")
        self.realm = f"http://127.0.0.1:{port}/token"

    def sign(self, scope: str) -> str:
        access = []
        for item in scope.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {
            "iss": self.issuer,
            "sub": "tester",
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        sig = _run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], stdin=signing.encode())
        return signing + "." + _b64url(sig)

    def registry_auth(self) -> dict[str, Any]:
        """The registry config's ``auth:`` section for this service."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.cert),
            }
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class FakeServer:
    """An HTTP server answering GETs from ``route(handler)``; records the
    path and headers of every request. For behaviour a real registry never shows."""

    def __init__(self, route: Route, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append((self.path, dict(self.headers.items())))
                status, headers, body = route(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server, self.port = _serve(Handler, host)
        self.host = f"{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class CuttingProxy:
    """Forwards GETs to ``upstream``; a blob response larger than
    ``min_bytes`` is cut (the socket closed) after half its body.
    ``cuts`` bounds how many responses are cut (None: every one). The first
    blob requests are answered with ``statuses`` instead (429 with
    ``Retry-After: 1``), one each."""

    def __init__(
        self,
        upstream: str,
        *,
        cuts: int | None,
        min_bytes: int = 4096,
        statuses: tuple[int, ...] = (),
    ) -> None:
        self.cut_count = 0
        self.ranges: list[str] = []
        self.refused: list[int] = []
        pending = list(statuses)
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if "/blobs/" in self.path:
                    with lock:
                        status = pending.pop(0) if pending else None
                    if status is not None:
                        proxy.refused.append(status)
                        self.send_response(status)
                        if status == 429:
                            self.send_header("Retry-After", "1")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                conn = http.client.HTTPConnection(upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                if "Range" in headers:
                    proxy.ranges.append(headers["Range"])
                conn.request("GET", self.path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                cut = (
                    "/blobs/" in self.path
                    and len(body) > min_bytes
                    and (cuts is None or proxy.cut_count < cuts)
                )
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut:
                    proxy.cut_count += 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._server, self.port = _serve(Handler, "127.0.0.1")
        self.host = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def push_layout(layout: Path, registry: str, repository: str, tag: str) -> dict[str, Any]:
    """Upload an OCI layout's image (blobs as they are, media types as they
    say) to ``registry`` over the distribution API; returns its manifest."""
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    raw = _blob(layout, desc["digest"])
    manifest = json.loads(raw)
    conn = http.client.HTTPConnection(registry, timeout=60)
    try:
        for d in [manifest["config"], *manifest["layers"]]:
            conn.request("POST", f"/v2/{repository}/blobs/uploads/")
            resp = conn.getresponse()
            resp.read()
            location = resp.getheader("Location") or ""
            if resp.status != 202:
                raise RegistryToolError(f"upload start answered {resp.status}")
            url = urllib.parse.urlsplit(location)
            sep = "&" if url.query else "?"
            target = f"{url.path}?{url.query}" if url.query else url.path
            data = _blob(layout, d["digest"])
            conn.request(
                "PUT",
                target + sep + urllib.parse.urlencode({"digest": d["digest"]}),
                body=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise RegistryToolError(f"blob upload answered {resp.status}")
        conn.request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            body=raw,
            headers={"Content-Type": manifest.get("mediaType", desc["mediaType"])},
        )
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise RegistryToolError(f"manifest upload answered {resp.status}")
    finally:
        conn.close()
    return dict(manifest)


def _blob(layout: Path, digest: str) -> bytes:
    alg, _, hexpart = digest.partition(":")
    return (layout / "blobs" / alg / hexpart).read_bytes()

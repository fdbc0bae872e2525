"""HTTP for the registry reader: connections, TLS, retries, redirects.

Built on the standard library's ``http.client``: the reader needs exact
control over what a redirect carries (credentials never leave the
registry's origin), over ``Range`` requests that resume a blob where a
dropped connection left it, and over which hosts may be reached without
TLS. urllib3 (present only as a dependency of the docker SDK, which the
daemon-free path never imports) would have to be configured out of each
of those defaults; ``http.client`` has none of them.

Connections are kept one per origin per thread, so layers downloaded on
several threads never share a socket.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from layerscope.errors import SourceError
from layerscope.sources.registry_ref import is_loopback, split_host

MAX_REDIRECTS = 5
MAX_ATTEMPTS = 4  # per request: the first try and three retries
BACKOFF_SECONDS = 0.25  # doubled after each failed try
MAX_RETRY_AFTER = 10.0  # a Retry-After longer than this is waited this long
CONNECT_TIMEOUT = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class TransientError(Exception):
    """A connection reset, cut or timed out: worth another try."""


class PlainHttpError(Exception):
    """The server answered a TLS handshake with something that is not TLS."""


class HttpStatusError(SourceError):
    """A final answer that is not a success; ``status`` says which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port: what credentials are bound to."""

    scheme: str
    host: str  # hostname, no brackets
    port: int

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def origin_of(url: str) -> tuple[Origin, str]:
    """``url`` -> (origin, path with query)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"not an http(s) URL: {url[:200]!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SourceError(f"invalid port in URL {url[:200]!r}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Origin(parts.scheme, parts.hostname, port), path


class Transport:
    """Sends requests; one connection per origin per thread.

    Plain http is allowed only to loopback hosts and to hosts named by
    ``--insecure-registry`` (as ``host`` or ``host:port``), which also skip
    certificate checks. Certificates are checked against the system CAs,
    or ``$SSL_CERT_FILE`` when it is set.
    """

    def __init__(self, *, timeout: float, insecure: frozenset[str]) -> None:
        self.timeout = timeout
        self._insecure = insecure
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._opened_lock = threading.Lock()
        cafile = os.environ.get("SSL_CERT_FILE") or None
        try:
            self._verify = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as e:
            raise SourceError(f"SSL_CERT_FILE {cafile}: cannot load CA certificates: {e}") from None
        self._no_verify = ssl.create_default_context()
        self._no_verify.check_hostname = False
        self._no_verify.verify_mode = ssl.CERT_NONE

    def is_insecure(self, host: str, port: int | None) -> bool:
        """Named by ``--insecure-registry``, with or without its port."""
        return host in self._insecure or (port is not None and f"{host}:{port}" in self._insecure)

    def plain_allowed(self, origin: Origin) -> bool:
        """Whether ``origin`` may be reached over plain http."""
        return is_loopback(origin.host) or self.is_insecure(origin.host, origin.port)

    def _connection(self, origin: Origin) -> http.client.HTTPConnection:
        conns: dict[Origin, http.client.HTTPConnection] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(origin)
        if conn is not None:
            return conn
        connect = min(self.timeout, CONNECT_TIMEOUT)
        if origin.scheme == "https":
            ctx = self._no_verify if self.is_insecure(origin.host, origin.port) else self._verify
            conn = http.client.HTTPSConnection(
                origin.host, origin.port, timeout=connect, context=ctx
            )
        else:
            conn = http.client.HTTPConnection(origin.host, origin.port, timeout=connect)
        conns[origin] = conn
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def drop(self, origin: Origin) -> None:
        """Close this thread's connection to ``origin`` (after a cut or an unread body)."""
        conns = getattr(self._local, "conns", None)
        if conns and origin in conns:
            conns.pop(origin).close()

    def close(self) -> None:
        """Close every connection, of every thread (when all requests are done)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def send(
        self,
        origin: Origin,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> http.client.HTTPResponse:
        """One request; errors become TransientError, PlainHttpError or SourceError."""
        where = origin.netloc
        for fresh in (False, True):
            conn = self._connection(origin)
            reused = conn.sock is not None
            try:
                if conn.sock is None:
                    conn.connect()
                    if conn.sock is not None:  # reads wait longer than the connect
                        conn.sock.settimeout(self.timeout)
                conn.request(method, path, body=body, headers=dict(headers))
                return conn.getresponse()
            except ssl.SSLCertVerificationError as e:
                self.drop(origin)
                raise SourceError(
                    f"registry {where}: TLS certificate not trusted ({e.verify_message}); "
                    f"set SSL_CERT_FILE to its CA, or pass --insecure-registry {where}"
                ) from None
            except ssl.SSLError as e:
                self.drop(origin)
                if reused and not fresh:
                    continue  # a kept-alive connection the server closed meanwhile
                raise PlainHttpError(str(e)) from None
            except socket.gaierror:
                self.drop(origin)
                raise SourceError(
                    f"registry {where}: unknown host (name does not resolve)"
                ) from None
            except ConnectionRefusedError:
                self.drop(origin)
                raise SourceError(
                    f"registry {where}: connection refused (is it running?)"
                ) from None
            except (http.client.InvalidURL, ValueError) as e:  # control characters in a path
                self.drop(origin)
                raise SourceError(f"registry {where}: invalid request ({e})") from None
            except (
                ConnectionError,
                http.client.HTTPException,  # resets, bad status lines, too many headers
                TimeoutError,
            ) as e:
                self.drop(origin)
                if reused and not fresh:
                    continue  # a kept-alive connection the server closed meanwhile
                if isinstance(e, http.client.BadStatusLine) and origin.scheme == "https":
                    raise PlainHttpError(str(e)) from None
                raise TransientError(f"{type(e).__name__}: {e}") from None
            except OSError as e:
                self.drop(origin)
                raise SourceError(f"registry {where}: {e.strerror or e}") from None
        raise TransientError("connection closed")  # pragma: no cover - loop returns or raises


def redirect_target(origin: Origin, path: str, location: str) -> str:
    """The absolute URL a ``Location`` header points to."""
    return urljoin(f"{origin.scheme}://{origin.netloc}{path}", location)


def backoff(attempt: int, retry_after: str | None = None) -> None:
    """Wait before try ``attempt + 1``: doubling, or the server's Retry-After (bounded)."""
    wait = BACKOFF_SECONDS * (2**attempt)
    if retry_after and retry_after.strip().isdigit():
        wait = max(wait, min(float(retry_after.strip()), MAX_RETRY_AFTER))
    time.sleep(wait)


def registry_origin(host: str, scheme: str) -> Origin:
    """The origin of registry ``host[:port]`` over ``scheme``."""
    name, port = split_host(host)
    return Origin(scheme, name, port or (443 if scheme == "https" else 80))

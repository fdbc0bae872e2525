"""One repository on one registry: authenticated, retried GETs and blob streams.

Authentication follows the registry's ``WWW-Authenticate`` challenge:
``Basic`` sends the stored credentials; ``Bearer`` asks the token service
named by ``realm`` for a token of the challenge's ``scope`` (with the
credentials, when there are any) and caches it per scope. Credentials are
looked up only when a registry asks, and sent only to the registry's own
origin and its token service: a redirect elsewhere (blob storage) goes
without them.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from layerscope.errors import LimitExceededError, SourceError
from layerscope.sources.registry_auth import (
    Challenge,
    Credentials,
    auth_files,
    find_credentials,
    parse_challenges,
)
from layerscope.sources.registry_http import (
    _REDIRECTS,
    MAX_ATTEMPTS,
    MAX_REDIRECTS,
    RETRY_STATUSES,
    HttpStatusError,
    Origin,
    PlainHttpError,
    TransientError,
    Transport,
    backoff,
    origin_of,
    redirect_target,
    registry_origin,
)
from layerscope.sources.registry_ref import Reference

MAX_TOKEN_BYTES = 1 << 20
MAX_ERROR_BYTES = 4096
_TOKEN_SLACK = 30.0  # seconds: renew a token this long before it expires


class RegistryClient:
    """GETs against one repository, thread-safe."""

    def __init__(self, ref: Reference, transport: Transport) -> None:
        self.ref = ref
        self.where = ref.api_host if ref.host != "docker.io" else "docker.io"
        self._transport = transport
        self._origin: Origin | None = None
        self._lock = threading.Lock()
        self._authorization: str | None = None
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._creds: Credentials | None = None
        self._creds_looked = False

    # ------------------------------------------------------------------ origin

    def origin(self) -> Origin:
        """The registry's origin, https unless only plain http answers and
        plain http is allowed there (loopback, ``--insecure-registry``)."""
        with self._lock:
            if self._origin is not None:
                return self._origin
            secure = registry_origin(self.ref.api_host, "https")
            plain_ok = self._transport.plain_allowed(secure)
            try:
                self._ping(secure)
                self._origin = secure
            except PlainHttpError:
                if not plain_ok:
                    raise SourceError(
                        f"registry {self.where} does not speak TLS; pass "
                        f"--insecure-registry {self.ref.api_host} to allow plain http"
                    ) from None
                plain = registry_origin(self.ref.api_host, "http")
                try:
                    self._ping(plain)
                except PlainHttpError:
                    raise SourceError(f"registry {self.where}: no HTTP answer") from None
                self._origin = plain
            return self._origin

    def _ping(self, origin: Origin) -> None:
        for attempt in range(MAX_ATTEMPTS):
            try:
                resp = self._transport.send(origin, "GET", "/v2/", {"User-Agent": _AGENT})
            except TransientError as e:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise SourceError(f"registry {self.where}: connection failed ({e})") from None
                backoff(attempt)
                continue
            resp.read(MAX_ERROR_BYTES)
            self._transport.drop(origin)
            if resp.status in RETRY_STATUSES and attempt + 1 < MAX_ATTEMPTS:
                backoff(attempt, resp.getheader("Retry-After"))
                continue
            if resp.status == 404:
                raise SourceError(f"{self.where} is not a registry (GET /v2/ answered 404)")
            return

    # ------------------------------------------------------------------ requests

    def get(
        self, path: str, headers: Mapping[str, str], *, what: str
    ) -> tuple[http.client.HTTPResponse, Origin]:
        """GET ``path`` (under the registry), following auth challenges,
        redirects and retries. Returns a 200/206 response and where it came
        from; any other final answer is an HttpStatusError."""
        home = self.origin()
        authed_with: str | None = None
        attempt = rounds = 0
        while True:
            origin, target = home, path
            auth = self._current_auth()
            sent = dict(headers, **{"User-Agent": _AGENT})
            if auth:
                sent["Authorization"] = auth
            try:
                resp, origin = self._follow(origin, target, sent, home, what)
            except (TransientError, PlainHttpError) as e:
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise SourceError(
                        f"{what}: the registry connection failed {MAX_ATTEMPTS} times ({e})"
                    ) from None
                backoff(attempt - 1)
                continue
            if resp.status in (200, 206):
                return resp, origin
            body = resp.read(MAX_ERROR_BYTES)
            self._transport.drop(origin)
            if resp.status == 401 and origin == home:
                rounds += 1
                if (auth is not None and auth == authed_with) or rounds > 3:
                    raise SourceError(self._refused(what))
                self._authenticate(resp.getheader("WWW-Authenticate") or "", what)
                authed_with = self._current_auth()
                continue
            if resp.status in RETRY_STATUSES:
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    raise HttpStatusError(
                        f"{what}: the registry answered {resp.status} {MAX_ATTEMPTS} times",
                        resp.status,
                    )
                backoff(attempt - 1, resp.getheader("Retry-After"))
                continue
            raise HttpStatusError(
                _status_text(what, resp.status, body, origin != home), resp.status
            )

    def _follow(
        self, origin: Origin, path: str, headers: dict[str, str], home: Origin, what: str
    ) -> tuple[http.client.HTTPResponse, Origin]:
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._transport.send(origin, "GET", path, headers)
            location = resp.getheader("Location")
            if resp.status not in _REDIRECTS or not location:
                return resp, origin
            resp.read(MAX_ERROR_BYTES)
            self._transport.drop(origin)
            url = redirect_target(origin, path, location)
            origin, path = origin_of(url)
            if origin.scheme == "http" and not self._transport.plain_allowed(origin):
                raise SourceError(
                    f"{what}: the registry redirects to plain http at {origin.netloc} "
                    f"(allowed only with --insecure-registry {origin.netloc})"
                )
            if origin != home:
                # Blob storage on another host gets no credentials of ours.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        raise SourceError(f"{what}: more than {MAX_REDIRECTS} redirects")

    # ------------------------------------------------------------------ auth

    def _current_auth(self) -> str | None:
        with self._lock:
            return self._authorization

    def _credentials(self) -> Credentials | None:
        if not self._creds_looked:
            self._creds = find_credentials(self.ref.host, self.ref.repository)
            self._creds_looked = True
        return self._creds

    def _refused(self, what: str) -> str:
        creds = self._credentials()
        if creds is None:
            return self._no_credentials(what)
        return (
            f"{what}: the registry {self.where} refused the credentials of {creds.username!r} "
            f"(from {creds.origin}): wrong password, or no pull access"
        )

    def _no_credentials(self, what: str) -> str:
        host = self.ref.host
        return (
            f"{what}: the registry {self.where} requires credentials and none were found "
            f"(looked in {', '.join(auth_files())}): log in with `docker login {host}` "
            f"or `podman login {host}`"
        )

    def _authenticate(self, header: str, what: str) -> None:
        challenges = parse_challenges(header)
        with self._lock:
            bearer = next((c for c in challenges if c.scheme == "bearer"), None)
            if bearer is not None:
                self._authorization = "Bearer " + self._token(bearer, what)
                return
            if any(c.scheme == "basic" for c in challenges):
                creds = self._credentials()
                if creds is None or creds.identity_token:
                    raise SourceError(self._no_credentials(what))
                self._authorization = creds.basic()
                return
        raise SourceError(
            f"{what}: the registry {self.where} asks for authentication it does not name"
        )

    def _token(self, challenge: Challenge, what: str) -> str:
        realm = challenge.params.get("realm", "")
        service = challenge.params.get("service", "")
        scope = challenge.params.get("scope") or f"repository:{self.ref.repository}:pull"
        key = (realm, service, scope)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        if not realm:
            raise SourceError(f"{what}: the registry's Bearer challenge names no token realm")
        origin, path = origin_of(realm)
        if origin.scheme == "http" and not self._transport.plain_allowed(origin):
            raise SourceError(
                f"{what}: the registry's token service is plain http at {origin.netloc} "
                f"(allowed only with --insecure-registry {origin.netloc})"
            )
        creds = self._credentials()
        query = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        headers = {"User-Agent": _AGENT}
        method, body = "GET", None
        if creds is not None and creds.identity_token:
            method = "POST"
            form = dict(query, grant_type="refresh_token", client_id="layerscope")
            form["refresh_token"] = creds.identity_token
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            if creds is not None:
                headers["Authorization"] = creds.basic()
                query["account"] = creds.username
            sep = "&" if "?" in path else "?"
            path += sep + urlencode(query)
        resp = self._token_request(origin, method, path, headers, body, what)
        data = resp.read(MAX_TOKEN_BYTES + 1)
        self._transport.drop(origin)
        if resp.status in (401, 403):
            raise SourceError(self._refused(what))
        if resp.status != 200:
            raise SourceError(
                f"{what}: the token service at {origin.netloc} answered {resp.status}"
            )
        if len(data) > MAX_TOKEN_BYTES:
            raise LimitExceededError(f"{what}: token response larger than {MAX_TOKEN_BYTES} bytes")
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise SourceError(f"{what}: the token service sent no JSON") from None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(f"{what}: the token service sent no token")
        lifetime = doc.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else 60.0
        self._tokens[key] = (token, time.monotonic() + max(seconds - _TOKEN_SLACK, 1.0))
        return token

    def _token_request(
        self,
        origin: Origin,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        what: str,
    ) -> http.client.HTTPResponse:
        for attempt in range(MAX_ATTEMPTS):
            try:
                resp = self._transport.send(origin, method, path, headers, body)
            except (TransientError, PlainHttpError) as e:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise SourceError(f"{what}: the token service failed ({e})") from None
                backoff(attempt)
                continue
            if resp.status in RETRY_STATUSES and attempt + 1 < MAX_ATTEMPTS:
                resp.read(MAX_ERROR_BYTES)
                self._transport.drop(origin)
                backoff(attempt, resp.getheader("Retry-After"))
                continue
            return resp
        raise SourceError(f"{what}: the token service failed")  # pragma: no cover

    # ------------------------------------------------------------------ documents

    def get_document(self, path: str, accept: str, limit: int, what: str) -> tuple[bytes, str, str]:
        """A manifest or config: (bytes, Content-Type, Docker-Content-Digest)."""
        for attempt in range(MAX_ATTEMPTS):
            resp, origin = self.get(path, {"Accept": accept}, what=what)
            declared = resp.getheader("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                self._transport.drop(origin)
                raise LimitExceededError(f"{what} is larger than {limit} bytes ({declared})")
            try:
                data = resp.read(limit + 1)
            except (OSError, http.client.HTTPException) as e:
                self._transport.drop(origin)
                if attempt + 1 == MAX_ATTEMPTS:
                    raise SourceError(f"{what}: the registry connection failed ({e})") from None
                backoff(attempt)
                continue
            if len(data) > limit:
                self._transport.drop(origin)
                raise LimitExceededError(f"{what} is larger than {limit} bytes")
            if not resp.isclosed():
                self._transport.drop(origin)
            if declared is not None and declared.isdigit() and len(data) != int(declared):
                if attempt + 1 == MAX_ATTEMPTS:
                    raise SourceError(f"{what}: the registry connection was cut")
                backoff(attempt)
                continue
            ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip()
            return data, ctype, resp.getheader("Docker-Content-Digest") or ""
        raise SourceError(f"{what}: the registry connection failed")  # pragma: no cover

    def drop(self, origin: Origin) -> None:
        """Close this thread's connection to ``origin`` (a response left unread)."""
        self._transport.drop(origin)


_AGENT = "layerscope (registry reader)"


def _status_text(what: str, status: int, body: bytes, elsewhere: bool) -> str:
    detail = ""
    try:
        doc = json.loads(body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code, msg = errors[0].get("code", ""), errors[0].get("message", "")
            detail = f": {code} {msg}".rstrip()[:200]
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    if status == 404:
        return f"{what}: not found in the registry{detail}"
    if elsewhere and status in (401, 403):
        return (
            f"{what}: the blob storage the registry redirected to refused the download ({status})"
        )
    if status == 403:
        return f"{what}: the registry denies access (403){detail}"
    return f"{what}: the registry answered {status}{detail}"

"""Registry credentials and the ``WWW-Authenticate`` challenge.

Credentials are looked up the way podman/skopeo and docker do, first match
wins: ``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
then Docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``). In each
file ``credHelpers[host]`` names a ``docker-credential-NAME`` helper, else
``credsStore`` one for every host, else ``auths[host]`` holds the
credentials (``auth`` is base64 ``user:password``; ``identitytoken`` an
OAuth refresh token). Helpers run as subprocesses (``get``, the server on
stdin), and only when a registry asks for credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from layerscope.errors import SourceError
from layerscope.sources.registry_ref import DOCKER_HUB

HELPER_TIMEOUT = 60.0
_MAX_FILE = 1 << 20
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user and password (or an identity token: ``identity_token`` set)."""

    username: str
    password: str
    origin: str  # where they came from, for error messages
    identity_token: str = ""

    def basic(self) -> str:
        """The ``Authorization`` value of HTTP basic auth."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def auth_files() -> Iterator[str]:
    """The files credentials are read from, in order."""
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        yield explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        yield os.path.join(runtime, "containers", "auth.json")
    docker_dir = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    yield os.path.join(docker_dir, "config.json")


def find_credentials(host: str, repository: str) -> Credentials | None:
    """Credentials for ``host`` (``repository`` picks a per-repository entry)."""
    for path in auth_files():
        doc = _read_config(path)
        if doc is None:
            continue
        found = _from_config(doc, path, host, repository)
        if found is not None:
            return found
    return None


def _read_config(path: str) -> dict[str, object] | None:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SourceError(f"{path}: cannot read credentials: {e.strerror}") from None
    if len(data) > _MAX_FILE:
        raise SourceError(f"{path}: credentials file larger than {_MAX_FILE} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SourceError(f"{path}: not valid JSON") from None
    return doc if isinstance(doc, dict) else None


def _keys_for(host: str) -> tuple[str, ...]:
    return _HUB_KEYS if host == DOCKER_HUB else (host,)


def _normal_key(key: str) -> str:
    """An ``auths`` key without scheme and trailing slash (``https://h/v1/`` -> ``h/v1``)."""
    key = key.split("://", 1)[-1].rstrip("/")
    return key.removesuffix("/v1").removesuffix("/v2")


def _from_config(
    doc: dict[str, object], path: str, host: str, repository: str
) -> Credentials | None:
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key in _keys_for(host):
            helper = helpers.get(key)
            if isinstance(helper, str) and helper:
                return run_helper(helper, _server_url(host), path)
    auths = doc.get("auths")
    entry = _auths_entry(auths, host, repository) if isinstance(auths, dict) else None
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        found = run_helper(store, _server_url(host), path)
        if found is not None:
            return found
    if entry is None:
        return None
    return _decode_entry(entry, path, host)


def _server_url(host: str) -> str:
    return _HUB_KEYS[0] if host == DOCKER_HUB else host


def _auths_entry(
    auths: dict[object, object], host: str, repository: str
) -> dict[str, object] | None:
    """The most specific ``auths`` entry: ``host/repo/path`` before ``host``."""
    best: tuple[int, dict[str, object]] | None = None
    for key, value in auths.items():
        if not isinstance(key, str) or not isinstance(value, dict):
            continue
        norm = _normal_key(key)
        for k in _keys_for(host):
            full = f"{k}/{repository}"
            if (norm == k or full == norm or full.startswith(norm + "/")) and (
                best is None or len(norm) > best[0]
            ):
                best = (len(norm), value)
    return best[1] if best is not None else None


def _decode_entry(entry: dict[str, object], path: str, host: str) -> Credentials | None:
    token = entry.get("identitytoken")
    auth = entry.get("auth")
    user, password = entry.get("username"), entry.get("password")
    if isinstance(auth, str) and auth:
        try:
            text = base64.b64decode(auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SourceError(
                f"{path}: the auth entry for {host} is not base64 user:password"
            ) from None
        user, sep, password = text.partition(":")
        if not sep:
            raise SourceError(f"{path}: the auth entry for {host} is not base64 user:password")
    if isinstance(token, str) and token:
        return Credentials(str(user or "<token>"), "", path, identity_token=token)
    if isinstance(user, str) and user and isinstance(password, str):
        return Credentials(user, password, path)
    return None


def run_helper(name: str, server: str, origin: str) -> Credentials | None:
    """``docker-credential-NAME get`` for ``server``; None when it has none."""
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise SourceError(f"{origin}: invalid credential helper name {name[:80]!r}")
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise SourceError(
            f"credential helper {program} (named in {origin}) is not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise SourceError(
            f"credential helper {program} did not answer in {HELPER_TIMEOUT:g}s"
        ) from None
    except OSError as e:
        raise SourceError(f"credential helper {program}: {e.strerror}") from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        said = (out.strip() or proc.stderr.decode("utf-8", "replace").strip())[:200]
        if "not found" in said.lower():
            return None
        raise SourceError(f"credential helper {program} failed for {server}: {said}")
    try:
        doc = json.loads(out)
    except ValueError:
        raise SourceError(f"credential helper {program} printed no JSON") from None
    if not isinstance(doc, dict):
        raise SourceError(f"credential helper {program} printed no JSON object")
    user, secret = doc.get("Username"), doc.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    where = f"{program} (from {origin})"
    if user == "<token>":
        return Credentials(user, "", where, identity_token=secret)
    return Credentials(user, secret, where)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: a scheme and its parameters."""

    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value (RFC 7235 syntax:
    ``Bearer realm="https://a/token",service="reg",scope="repository:x:pull"``)."""
    out: list[Challenge] = []
    i, n = 0, len(header)
    current: Challenge | None = None
    while i < n:
        while i < n and header[i] in " \t,":
            i += 1
        start = i
        while i < n and header[i] not in " \t,=":
            i += 1
        token = header[start:i]
        if not token:
            break
        j = i
        while j < n and header[j] in " \t":
            j += 1
        if j < n and header[j] == "=" and current is not None:
            i = j + 1
            while i < n and header[i] in " \t":
                i += 1
            value, i = _param_value(header, i)
            current.params[token.lower()] = value
        else:
            current = Challenge(token.lower(), {})
            out.append(current)
    return out


def _param_value(text: str, i: int) -> tuple[str, int]:
    if i < len(text) and text[i] == '"':
        i += 1
        chars: list[str] = []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        return "".join(chars), i + 1
    start = i
    while i < len(text) and text[i] not in " \t,":
        i += 1
    return text[start:i], i

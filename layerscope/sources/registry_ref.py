"""Image references as a registry reads them: ``[HOST[:PORT]/]REPO[:TAG][@DIGEST]``.

The first path component is a registry host when it holds a dot or a port,
or is ``localhost``; otherwise the image is on Docker Hub (``docker.io``,
single names under ``library/``). That is Docker's own rule, and the rule
``--source auto`` uses to decide that a reference no engine has may be read
from a registry.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from layerscope.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}\Z")
_HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?\Z"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed image reference. ``host`` is the registry as written
    (``docker.io`` for Docker Hub); ``tag`` or ``digest`` names the image."""

    host: str
    repository: str
    tag: str
    digest: str

    @property
    def api_host(self) -> str:
        """Where the distribution API answers for ``host``."""
        return DOCKER_HUB_API if self.host in (DOCKER_HUB, "index.docker.io") else self.host

    @property
    def wanted(self) -> str:
        """What the manifest request asks for: the digest when there is one."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag and not (self.digest and self.tag == DEFAULT_TAG):
            text += f":{self.tag}"
        return text + (f"@{self.digest}" if self.digest else "")


def names_a_registry(first: str) -> bool:
    """Docker's rule: a first component with a dot or a port, or ``localhost``."""
    return "." in first or ":" in first or first == "localhost"


def looks_like_registry_ref(text: str) -> bool:
    """True when ``text`` names its registry host explicitly (the auto rule)."""
    text = text.removeprefix("docker://")
    first, sep, _ = text.partition("/")
    return bool(sep) and names_a_registry(first) and _HOST.match(first) is not None


def parse_reference(text: str) -> Reference:
    """``text`` as a registry reference; UsageError when it cannot be one."""
    raw = text
    text = text.removeprefix("docker://")
    name, at, digest = text.partition("@")
    if at and not _DIGEST.match(digest):
        raise UsageError(f"{raw!r}: {digest[:80]!r} is not a digest (algorithm:hex)")
    first, sep, rest = name.partition("/")
    if sep and names_a_registry(first):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if host != DOCKER_HUB and not _HOST.match(host):
        raise UsageError(f"{raw!r}: {host[:80]!r} is not a registry host")
    tag = ""
    slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > slash:
        path, tag = path[:colon], path[colon + 1 :]
        if not _TAG.match(tag):
            raise UsageError(f"{raw!r}: {tag[:80]!r} is not a valid tag")
    if not path or not all(_COMPONENT.match(c) for c in path.split("/")):
        raise UsageError(
            f"{raw!r} is not an image reference (HOST[:PORT]/REPOSITORY[:TAG][@DIGEST], "
            "repository names in lower case)"
        )
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return Reference(host, path, tag or DEFAULT_TAG, digest if at else "")


def split_host(host: str) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too) -> (hostname, port or None)."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        return name, int(rest[1:]) if rest.startswith(":") else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, int(port)
    return host, None


def is_loopback(hostname: str) -> bool:
    """``localhost`` or a loopback address (where plain http is allowed)."""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False

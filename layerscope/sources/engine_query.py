"""Asking an engine about its images without exporting one: a client, and an image's layers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from layerscope.errors import SourceError
from layerscope.sources.interface import ENGINE_TIMEOUT

if TYPE_CHECKING:
    import docker

__all__ = ["connect", "engine_layers"]


def connect(engine: str, timeout: float = ENGINE_TIMEOUT) -> docker.DockerClient:
    """A client of ``engine`` (docker or podman); SourceError when its socket is missing."""
    from layerscope.sources.daemon import _client, engine_url

    # A unix socket that is not there: say so without making a client (docker-py
    # leaves the socket of a failed first request open).
    host = engine_url(engine) or "unix:///var/run/docker.sock"
    if host and host.startswith("unix://") and not os.path.exists(host[len("unix://") :]):
        raise SourceError(f"cannot reach the {engine} engine at {host}: is it running?")
    return _client(engine, timeout)


def engine_layers(client: docker.DockerClient, reference: str) -> list[str] | None:
    """The diff_ids of ``reference`` in the engine, or None when it has no such image."""
    from docker.errors import APIError, ImageNotFound, NotFound

    try:
        info: dict[str, Any] = client.api.inspect_image(reference)  # type: ignore[no-untyped-call]
    except (ImageNotFound, NotFound):
        return None
    except APIError as e:
        if e.status_code in (400, 404):  # an invalid reference is not found either
            return None
        raise SourceError(f"the engine refused to inspect {reference!r}: {e}") from None
    rootfs = info.get("RootFS") or {}
    layers = rootfs.get("Layers") if isinstance(rootfs, dict) else None
    return [str(x) for x in layers] if isinstance(layers, list) else []

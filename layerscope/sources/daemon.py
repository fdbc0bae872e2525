"""Images from a Docker-compatible engine (Docker, or Podman's socket).

The engine's export (``docker save``) is analyzed as it streams: layers are
scanned while the bytes arrive, nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from layerscope.errors import ArchiveError, SourceError
from layerscope.model import Image
from layerscope.sources.archive import read_archive_stream
from layerscope.sources.interface import SourceOptions

if TYPE_CHECKING:
    import docker

DEFAULT_TIMEOUT = 300


_END = object()


class Prefetch:
    """Iterates ``chunks`` from a background thread, ``depth`` chunks ahead.

    The engine writes its export only as fast as it is read: with the socket
    read on its own thread (it releases the GIL), the export streams on while
    the layers are parsed, and the analysis ends about when the export does.
    An exception in the thread is raised to the reader.
    """

    def __init__(self, chunks: Iterator[bytes], depth: int = 16) -> None:
        self._q: queue.Queue[object] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), name="layerscope-export", daemon=True
        )
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not self._put(chunk):
                    return
            self._put(_END)
        except BaseException as e:  # handed to the reading thread
            self._put(e)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        item = self._q.get()
        if item is _END:
            self._put(_END)  # later calls end too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, bytes)
        return item

    def close(self) -> None:
        """Stop the thread (it may be blocked on a full queue)."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._q.get_nowait()
        self._thread.join(timeout=5)


class ChunkStream:
    """A ByteStream over an iterator of byte chunks (the export response)."""

    def __init__(self, chunks: Iterator[bytes], name: str) -> None:
        self._chunks = chunks
        self._name = name
        self._buf = b""
        self._pos = 0
        self.received = 0

    def _next(self) -> bytes:
        try:
            chunk = next(self._chunks, b"")
        except Exception as e:  # urllib3/requests errors mid-stream
            raise SourceError(
                f"{self._name}: the engine's export stream broke off ({type(e).__name__}: {e}); "
                f"no partial report: try again, or pass an archive made with `docker save`"
            ) from None
        self.received += len(chunk)
        return chunk

    def read(self, n: int) -> bytes:
        # An offset into the current chunk: slicing the rest off on every
        # read would copy each chunk again and again.
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= n:
            self._pos = pos + n
            return buf if pos == 0 and n == len(buf) else buf[pos : pos + n]
        parts = [buf[pos:]] if pos < len(buf) else []
        have = len(buf) - pos
        self._buf, self._pos = b"", 0
        while have < n:
            chunk = self._next()
            if not chunk:
                break
            if have + len(chunk) > n:
                take = n - have
                parts.append(chunk[:take])
                self._buf, self._pos = chunk, take
                have = n
                break
            parts.append(chunk)
            have += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def skip(self, n: int) -> None:
        while n > 0:
            avail = len(self._buf) - self._pos
            if not avail:
                self._buf, self._pos = self._next(), 0
                if not self._buf:
                    raise ArchiveError(f"{self._name}: export stream ended early")
                continue
            take = min(n, avail)
            self._pos += take
            n -= take


def podman_socket() -> str | None:
    """The Podman API socket to use when DOCKER_HOST is not set."""
    candidates = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.append(os.path.join(runtime, "podman", "podman.sock"))
    candidates.append("/run/podman/podman.sock")
    for c in candidates:
        if os.path.exists(c):
            return "unix://" + c
    return None


def _client(engine: str, timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        raise SourceError("the docker Python package is not installed") from None
    base_url = os.environ.get("DOCKER_HOST")
    if engine == "podman" and not base_url:
        base_url = podman_socket()
        if base_url is None:
            raise SourceError(
                "no Podman socket found: start it with `systemctl --user start podman.socket` "
                "or set DOCKER_HOST"
            )
    # The SDK hands the timeout to requests, which takes fractions of a second
    # too (the stubs say int).
    wait: Any = timeout
    try:
        if base_url:
            return docker.DockerClient(base_url=base_url, timeout=wait)
        return docker.from_env(timeout=wait)
    except DockerException as e:
        raise SourceError(_engine_down(engine, e, timeout)) from None


def _engine_down(engine: str, e: Exception, timeout: float = DEFAULT_TIMEOUT) -> str:
    text = str(e)
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    if "timed out" in text.lower() or "timeout" in type(e).__name__.lower():
        return (
            f"the {engine} engine at {where} did not answer within {timeout:g}s "
            f"(busy or hung? --engine-timeout SECONDS waits longer)"
        )
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"permission denied on the {engine} socket ({where}): run as a user in the "
            f"docker group, or pass an archive made with `docker save`"
        )
    return (
        f"cannot reach the {engine} engine at {where}: is it running? "
        f"(or pass an archive made with `docker save`)"
    )


def read_engine_image(reference: str, *, engine: str, options: SourceOptions) -> Image:
    """Export ``reference`` from the engine and analyze the stream."""
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from requests.exceptions import RequestException

    timeout = options.engine_timeout
    client = _client(engine, timeout)
    prefetch: Prefetch | None = None
    stream: ChunkStream | None = None
    try:
        try:
            info: dict[str, Any] = client.api.inspect_image(reference)  # type: ignore[no-untyped-call]
        except (ImageNotFound, NotFound):
            raise SourceError(
                f"image {reference!r} not found in the {engine} engine "
                f"(build or pull it first, or give the path of an archive)"
            ) from None
        except APIError as e:  # (an HTTPError too: before the transport errors)
            raise SourceError(f"{engine} engine refused to inspect {reference!r}: {e}") from None
        except (RequestException, DockerException) as e:  # timeout, reset, refused
            raise SourceError(_engine_down(engine, e, timeout)) from None
        try:
            # Export by the inspected id: a tag moved in between cannot mix two images.
            chunks = client.api.get_image(info.get("Id") or reference, chunk_size=1 << 20)
        except APIError as e:
            raise SourceError(f"{engine} engine could not export {reference!r}: {e}") from None
        except RequestException as e:
            raise SourceError(_engine_down(engine, e, timeout)) from None
        except DockerException as e:
            raise SourceError(f"{engine} engine could not export {reference!r}: {e}") from None
        prefetch = Prefetch(iter(chunks))
        stream = ChunkStream(prefetch, f"{engine}:{reference}")
        try:
            image = read_archive_stream(
                stream,
                name=f"{engine}:{reference}",
                reference=reference,
                source=engine,
                options=options,
            )
        except ArchiveError:
            if stream.received == 0:
                raise SourceError(
                    f"the {engine} engine sent an empty export of {reference!r} "
                    f"(the connection was cut?)"
                ) from None
            raise
        # The stream must end cleanly: a cut export is not a whole image.
        while stream.read(1 << 20):
            pass
    finally:
        if prefetch is not None:
            prefetch.close()
        client.close()
    image_id = str(info.get("Id") or image.id)
    return Image(
        reference=reference,
        id=image_id,
        source=engine,
        os=image.os,
        architecture=image.architecture,
        variant=image.variant,
        layers=image.layers,
        history=image.history,
        config=image.config,
        warnings=image.warnings,
    )

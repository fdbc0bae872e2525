"""Images from a Docker-compatible engine (Docker, or Podman's socket).

The engine's export (``docker save``) is analyzed as it streams: layers are
scanned while the bytes arrive, nothing is written to disk.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from layerscope.errors import ArchiveError, SourceError
from layerscope.model import Image
from layerscope.sources.archive import read_archive_until_end
from layerscope.sources.interface import ENGINE_TIMEOUT, SourceOptions

if TYPE_CHECKING:
    import docker

DEFAULT_TIMEOUT = ENGINE_TIMEOUT


_END = object()


class Prefetch:
    """Iterates ``chunks`` read ahead by a background thread (up to
    ``depth * batch_bytes`` bytes ahead).

    The engine writes its export only as fast as it is read: with the socket
    read on its own thread (it releases the GIL), the export streams on while
    the layers are parsed, and the analysis ends about when the export does.

    The HTTP layer hands out one piece per transfer chunk (32 KiB from
    Docker). The reader takes everything that has arrived, joined, up to
    about ``batch_bytes``: the tar reader sees few large buffers while it is
    busy, and is never kept waiting for a batch to fill (Docker ends the
    response only a second after the last byte, once it has deleted its
    temporary export). An exception in the thread is raised to the reader,
    after the bytes that came before it.
    """

    def __init__(
        self, chunks: Iterator[bytes], depth: int = 16, batch_bytes: int = 1 << 20
    ) -> None:
        self._cv = threading.Condition()
        self._pieces: collections.deque[bytes] = collections.deque()
        self._size = 0  # bytes in _pieces
        self._end: BaseException | object | None = None  # _END, or the thread's exception
        self._stopped = False
        self._batch_bytes = batch_bytes
        self._max_ahead = depth * batch_bytes
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), name="layerscope-export", daemon=True
        )
        self._thread.start()

    def _run(self, chunks: Iterator[bytes]) -> None:
        end: BaseException | object = _END
        try:
            for chunk in chunks:
                with self._cv:
                    while self._size >= self._max_ahead and not self._stopped:
                        self._cv.wait()
                    if self._stopped:
                        return
                    self._pieces.append(chunk)
                    self._size += len(chunk)
                    self._cv.notify_all()
        except BaseException as e:  # handed to the reading thread
            end = e
        with self._cv:
            self._end = end
            self._cv.notify_all()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with self._cv:
            while not self._pieces and self._end is None:
                self._cv.wait()
            if not self._pieces:
                if isinstance(self._end, BaseException):
                    raise self._end
                raise StopIteration
            take = [self._pieces.popleft()]
            got = len(take[0])
            while self._pieces and got + len(self._pieces[0]) <= self._batch_bytes:
                got += len(self._pieces[0])
                take.append(self._pieces.popleft())
            self._size -= got
            self._cv.notify_all()
        return take[0] if len(take) == 1 else b"".join(take)

    def close(self, *, wait: bool = True) -> None:
        """Stop the thread. ``wait=False`` leaves a thread that is waiting for
        the source's end to finish alone: it ends with the source."""
        with self._cv:
            self._stopped = True
            self._pieces.clear()
            self._size = 0
            self._cv.notify_all()
        if wait:
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

    def read_some(self, n: int) -> memoryview:
        """Up to ``n`` bytes of the current chunk, uncopied; empty at the end."""
        if self._pos >= len(self._buf):
            self._buf, self._pos = self._next(), 0
        take = min(n, len(self._buf) - self._pos)
        self._pos += take
        return memoryview(self._buf)[self._pos - take : self._pos]

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


class EngineDownError(SourceError):
    """The engine did not answer (no socket, refused, timed out)."""


class ImageMissingError(SourceError):
    """The engine answered but has no such image."""


def podman_socket() -> str | None:
    """Podman's API socket: ``CONTAINER_HOST``, else the first of
    ``$XDG_RUNTIME_DIR/podman/podman.sock`` and ``/run/podman/podman.sock``
    that exists (``DOCKER_HOST`` names Docker's engine, never Podman's)."""
    host = os.environ.get("CONTAINER_HOST")
    if host:
        if not host.startswith("unix://"):
            raise SourceError(
                f"CONTAINER_HOST={host[:80]}: only a unix:// socket is supported "
                f"(forward a remote one: ssh -L /tmp/podman.sock:/run/podman/podman.sock HOST)"
            )
        return host
    candidates = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        candidates.append(os.path.join(runtime, "podman", "podman.sock"))
    candidates.append("/run/podman/podman.sock")
    for c in candidates:
        if os.path.exists(c):
            return "unix://" + c
    return None


def engine_url(engine: str) -> str | None:
    """Where ``engine`` listens: None means Docker's default socket."""
    if engine == "podman":
        url = podman_socket()
        if url is None:
            raise EngineDownError(
                "no Podman socket found: start it with `systemctl --user start podman.socket` "
                "(or `podman system service --time=0 unix:///run/podman/podman.sock &`), "
                "or set CONTAINER_HOST=unix:///PATH"
            )
        return url
    return os.environ.get("DOCKER_HOST") or None


_CA_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _client(engine: str, timeout: float = DEFAULT_TIMEOUT) -> docker.DockerClient:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        raise SourceError("the docker Python package is not installed") from None
    # The SDK hands the timeout to requests, which takes fractions of a second
    # too (the stubs say int).
    wait: Any = timeout
    try:
        if engine == "podman":
            return docker.DockerClient(base_url=engine_url(engine), timeout=wait)
        # from_env reads DOCKER_HOST with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH:
        # a TLS-protected remote engine is spoken to over TLS, as the CLI does.
        if not os.environ.get("DOCKER_TLS_VERIFY"):
            return docker.from_env(timeout=wait)
        # requests would trade the engine's CA for REQUESTS_CA_BUNDLE or
        # CURL_CA_BUNDLE when either is set (the first request is made while the
        # client is built): the engine's own CA must win.
        hidden = {k: os.environ.pop(k) for k in _CA_BUNDLES if k in os.environ}
        try:
            client = docker.from_env(timeout=wait)
        finally:
            os.environ.update(hidden)
        client.api.trust_env = False
        return client
    except DockerException as e:
        raise EngineDownError(_engine_down(engine, e, timeout)) from None


def _engine_down(engine: str, e: Exception, timeout: float = DEFAULT_TIMEOUT) -> str:
    text = str(e)
    try:
        where = engine_url(engine) or "the default socket"
    except SourceError:
        where = "the default socket"
    if "timed out" in text.lower() or "timeout" in type(e).__name__.lower():
        return (
            f"the {engine} engine at {where} did not answer within {timeout:g}s "
            f"(busy or hung? --engine-timeout SECONDS waits longer)"
        )
    if type(e).__name__ == "TLSParameterError":
        certs = os.environ.get("DOCKER_CERT_PATH") or "~/.docker"
        return (
            f"DOCKER_TLS_VERIFY is set but {certs} has no ca.pem, cert.pem and key.pem "
            f"for the {engine} engine at {where}"
        )
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"permission denied on the {engine} socket ({where}): run as a user in the "
            f"{engine} group, or pass an archive made with `{engine} save`"
        )
    return (
        f"cannot reach the {engine} engine at {where}: is it running? "
        f"(or pass an archive made with `{engine} save`)"
    )


def _export(client: docker.DockerClient, image: str, piece: int = 1 << 20) -> Iterator[bytes]:
    """The body of ``GET /images/{image}/get`` (what ``docker save`` reads) as
    it arrives, one transfer chunk (at most ``piece`` bytes) at a time.

    What ``APIClient.get_image`` does, but the socket keeps the client's
    timeout (get_image removes it), so an engine that stalls mid-export is
    reported after ``--engine-timeout`` rather than waited on forever.
    """
    api: Any = client.api  # _get, _url, _raise_for_status: what get_image itself calls
    res = api._get(api._url("/images/{0}/get", image), stream=True)
    api._raise_for_status(res)

    def body() -> Iterator[bytes]:
        try:
            yield from res.raw.stream(piece, decode_content=False)
        finally:
            res.close()

    return body()


def read_engine_image(reference: str, *, engine: str, options: SourceOptions) -> Image:
    """Export ``reference`` from the engine and analyze the stream."""
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from requests.exceptions import RequestException

    timeout = options.engine_timeout
    client = _client(engine, timeout)
    prefetch: Prefetch | None = None
    stream: ChunkStream | None = None
    whole = False  # the export's tar ended with its end-of-archive marker
    try:
        try:
            info: dict[str, Any] = client.api.inspect_image(reference)  # type: ignore[no-untyped-call]
        except (ImageNotFound, NotFound):
            raise ImageMissingError(
                f"image {reference!r} not found in the {engine} engine "
                f"(build or pull it first, or give the path of an archive)"
            ) from None
        except APIError as e:  # (an HTTPError too: before the transport errors)
            raise SourceError(f"{engine} engine refused to inspect {reference!r}: {e}") from None
        except (RequestException, DockerException) as e:  # timeout, reset, refused
            raise EngineDownError(_engine_down(engine, e, timeout)) from None
        try:
            # Export by the inspected id: a tag moved in between cannot mix two images.
            chunks = _export(client, str(info.get("Id") or reference))
        except APIError as e:
            raise SourceError(f"{engine} engine could not export {reference!r}: {e}") from None
        except RequestException as e:
            raise SourceError(_engine_down(engine, e, timeout)) from None
        except DockerException as e:
            raise SourceError(f"{engine} engine could not export {reference!r}: {e}") from None
        prefetch = Prefetch(iter(chunks))
        stream = ChunkStream(prefetch, f"{engine}:{reference}")
        try:
            image, whole = read_archive_until_end(
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
        if not whole:
            # No end-of-archive marker: the stream must at least end cleanly,
            # a cut export is not a whole image.
            while stream.read(1 << 20):
                pass
    finally:
        if prefetch is not None:
            # After the marker every member has arrived. Docker 20.10 then
            # deletes its temporary copy of the export before it ends the
            # response (about a second for a 2 GB image): the analysis runs
            # meanwhile instead of waiting for that.
            prefetch.close(wait=not whole)
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


def read_any_engine(reference: str, *, options: SourceOptions) -> Image:
    """``--source auto`` for a reference: Docker's engine, else Podman's.

    Podman is asked when Docker has no such image or does not answer, and a
    Podman socket exists; when neither has it, Docker's answer is the error.
    """
    try:
        return read_engine_image(reference, engine="docker", options=options)
    except (ImageMissingError, EngineDownError) as first:
        try:
            url = podman_socket()
        except SourceError:
            url = None
        if url is None:
            raise
        try:
            return read_engine_image(reference, engine="podman", options=options)
        except (ImageMissingError, EngineDownError):
            raise SourceError(f"{first} (nor in the podman engine at {url})") from None

"""One blob as it downloads: a ByteStream checked against its digest, that
resumes where a dropped connection left it."""

from __future__ import annotations

import hashlib
import http.client
import threading

from layerscope.errors import ArchiveError, SourceError
from layerscope.sources.registry_client import RegistryClient
from layerscope.sources.registry_http import MAX_ATTEMPTS, Origin, TransientError, backoff


class BlobStream:
    """A ByteStream over one blob as it downloads, checked against its digest.

    Every byte passes through sha256; :meth:`finish` reads what the scanner
    left and compares. A connection cut mid-blob is resumed with a ``Range``
    request where it stopped (at most ``MAX_ATTEMPTS`` tries in all).
    """

    def __init__(
        self,
        client: RegistryClient,
        digest: str,
        size: int,
        name: str,
        stop: threading.Event | None = None,
    ) -> None:
        if not digest.startswith("sha256:") or len(digest) != 71:
            raise ArchiveError(
                f"{name}: only sha256 blob digests can be checked, not {digest[:80]!r}"
            )
        self._client = client
        self._digest = digest
        self._size = size
        self._name = name
        self._hash = hashlib.sha256()
        self.offset = 0
        self._resp: http.client.HTTPResponse | None = None
        self._origin: Origin | None = None
        self._tries = 0
        self._stop = stop
        # Why the stream gave up: raised again on every later read (a
        # decompressor wraps the first raise in its own error).
        self.failure: SourceError | None = None

    def _open(self) -> http.client.HTTPResponse:
        headers = {"Accept": "*/*"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        path = f"/v2/{self._client.ref.repository}/blobs/{self._digest}"
        resp, origin = self._client.get(path, headers, what=self._name)
        skip = 0
        if resp.status == 200:
            skip = self.offset  # the server ignored the Range: drop what we have
            expect = self._size
        else:
            expect = self._size - self.offset
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) != expect:
            self._client.drop(origin)
            raise ArchiveError(
                f"{self._name}: the registry sends {declared} bytes for a blob the manifest "
                f"says is {self._size} bytes"
            )
        self._resp, self._origin = resp, origin
        while skip > 0:
            got = resp.read(min(skip, 1 << 20))
            if not got:
                raise TransientError("cut while skipping to the resume point")
            skip -= len(got)
        return resp

    def _cut(self, why: str) -> None:
        if self._origin is not None:
            self._client.drop(self._origin)
        self._resp = None
        self._tries += 1
        if self._tries >= MAX_ATTEMPTS:
            self.failure = SourceError(
                f"{self._name}: the registry connection broke off at byte {self.offset} of "
                f"{self._size}, {MAX_ATTEMPTS} times ({why})"
            )
            raise self.failure
        backoff(self._tries - 1)

    def read(self, n: int) -> bytes:
        n = min(n, self._size - self.offset)
        if n <= 0:
            return b""
        if self.failure is not None:
            raise self.failure
        if self._stop is not None and self._stop.is_set():
            self.failure = SourceError(f"{self._name}: stopped (another layer failed)")
            raise self.failure
        while True:
            try:
                resp = self._resp if self._resp is not None else self._open()
                data = resp.read(n)
            except TransientError as e:
                self._cut(str(e))
                continue
            except (OSError, http.client.HTTPException) as e:
                self._cut(f"{type(e).__name__}: {e}")
                continue
            except SourceError as e:  # from the request: 404, refused, retries spent
                self.failure = e
                raise
            if not data:
                self._cut("the response ended early")
                continue
            self._hash.update(data)
            self.offset += len(data)
            return data

    def skip(self, n: int) -> None:
        while n > 0:
            data = self.read(min(n, 1 << 20))
            if not data:
                raise ArchiveError(f"{self._name}: truncated (the blob ended early)")
            n -= len(data)

    def finish(self) -> None:
        """Read the rest of the blob and check its digest; ArchiveError if it differs."""
        while self.read(1 << 20):
            pass
        resp = self._resp
        if resp is not None and resp.length is None and self._origin is not None:
            extra = resp.read(1)
            if extra:
                self._client.drop(self._origin)
                raise ArchiveError(
                    f"{self._name}: the registry sends more than the {self._size} bytes "
                    f"the manifest says the blob has"
                )
        if resp is not None and not resp.isclosed() and self._origin is not None:
            self._client.drop(self._origin)
        self._resp = None
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise ArchiveError(
                f"{self._name}: the blob's bytes hash to {actual}, not its digest "
                f"{self._digest} (corrupt or tampered)"
            )

    def abandon(self) -> None:
        """Close the connection without reading on."""
        if self._resp is not None and self._origin is not None:
            self._client.drop(self._origin)
        self._resp = None

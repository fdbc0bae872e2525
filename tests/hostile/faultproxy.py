"""A fault-injecting proxy in front of the real Docker engine.

The engine is real: every byte layerscope gets comes from dockerd. The proxy
only breaks the transport the ways engines and networks break: it cuts the
image export after N bytes, or stops answering, or listens on a socket the
caller may not open. Nothing here imitates the engine's API.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

ENGINE_SOCKET = "/var/run/docker.sock"
_LAST_CHUNK = b"0\r\n\r\n"  # ends a chunked HTTP response


class FaultProxy:
    """Listens on ``path``; forwards each connection to the engine.

    ``mode``: ``pass`` forwards everything; ``cut-export`` closes the
    connection after ``cut_after`` bytes of an image export's response;
    ``hold-end`` forwards the whole export but holds back the HTTP chunked
    terminator (``0\r\n\r\n``) until the proxy closes, as an engine does that
    is still cleaning up after the last byte; ``silent`` accepts
    connections and never answers.
    """

    def __init__(self, path: Path, mode: str, cut_after: int = 0) -> None:
        self.path = path
        self.mode = mode
        self.cut_after = cut_after
        self.exports = 0
        self.held_end = False  # hold-end: the terminator is being held back
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(16)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.append(s)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.mode == "silent":
            with contextlib.suppress(OSError):
                while client.recv(65536):
                    pass
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._track(upstream)
        try:
            upstream.connect(ENGINE_SOCKET)
        except OSError:
            client.close()
            return
        exporting = threading.Event()
        threading.Thread(
            target=self._requests, args=(client, upstream, exporting), daemon=True
        ).start()
        sent = 0
        with contextlib.suppress(OSError):
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if exporting.is_set() and self.mode == "hold-end" and data.endswith(_LAST_CHUNK):
                    client.sendall(data[: -len(_LAST_CHUNK)])
                    self.held_end = True
                    self._stop.wait()
                    break
                if exporting.is_set() and self.mode == "cut-export":
                    if sent + len(data) >= self.cut_after:
                        client.sendall(data[: max(0, self.cut_after - sent)])
                        break
                    sent += len(data)
                client.sendall(data)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _requests(
        self, client: socket.socket, upstream: socket.socket, exporting: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if b"/get" in data.split(b"\r\n", 1)[0]:
                    self.exports += 1
                    exporting.set()
                upstream.sendall(data)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.close()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@contextlib.contextmanager
def fault_proxy(path: Path, mode: str, cut_after: int = 0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(path, mode, cut_after)
    try:
        yield proxy
    finally:
        proxy.close()

"""A small TCP forwarder that lets a test take a dependency away without stopping it.

Other suites share the machine's RabbitMQ, so a dialer under test connects
through this proxy instead: `close()` drops the listener and every forwarded
connection (the broker "went away"), `reopen()` listens again on the same port
(it "came back"), and `freeze()` keeps connections open but stops forwarding
(a broker that hangs without closing anything) until `thaw()`.

It forwards on threads, so sync and asyncio tests alike can use it.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self.port = port
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._closed.clear()
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._acceptor.start()
        return self

    def reopen(self) -> TcpProxy:
        return self.start()

    def close(self) -> None:
        """Stop listening and cut every forwarded connection."""
        self._closed.set()
        if self._acceptor is not None:
            # The kernel keeps the listening socket until the accept thread's poll returns.
            self._acceptor.join()
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _shut(sock)
        self._flowing.set()  # release pumps held by freeze(); their sockets are closed now

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward again, starting with whatever was held while frozen."""
        self._flowing.set()

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._sockets) // 2

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                _shut(client)
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay per hop
            with self._lock:
                self._sockets.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            _shut(source)
            _shut(target)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

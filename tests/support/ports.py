"""Free loopback ports and waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel picks it (bind to port 0); another process could take it before
    the caller binds, so callers that start a server retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.005,
    what: str = "condition",
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; return that value.

    Raises ``TimeoutError`` after ``timeout`` seconds, naming ``what`` we waited
    for and, when given, the output of ``diagnose`` (e.g. a log tail). The poll
    interval doubles up to 50 ms so fast things are seen fast and slow things
    do not burn a core.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{diagnose()}" if diagnose else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{detail}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 (port chosen by the kernel) that,
    when stopped, also closes the keep-alive connections still open, so no
    handler thread or socket outlives the test that started it."""

    daemon_threads = True
    # socketserver's default backlog is 5: a client opening a dozen connections
    # at once (six apps, two reads each) would see some refused into a 1 s SYN
    # retry, a stall no real registry (nginx: 511) shows.
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((LOOPBACK, 0), handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        # serve_forever notices shutdown() only between polls: poll often, so
        # stopping a server takes milliseconds, not the default half second.
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{handler.__name__}-server",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            # Wakes a handler blocked reading the next request; it then exits.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        self._thread.join(timeout=5)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Handlers write headers and body in separate sends; with Nagle on, the
        # client's delayed ACK stalls every answer by ~40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)


class LoopbackService:
    """Base of the test servers that own one ``LoopbackServer`` (set as ``server``
    in ``__init__``): ``start``/``stop``, or a ``with`` block that does both."""

    server: LoopbackServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

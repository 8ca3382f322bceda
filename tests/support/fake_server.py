"""A fake over a socket: a handler function served over HTTP/1.1 on 127.0.0.1, for the parts of
the outside world (Discord's API and CDN, a bucket's edge) that a test runs as a real server.

Each request runs the handler in its own thread with an `Exchange`, which reads the request and
writes the answer, whole or in pieces, or drops the connection. The socket listens before
`fake_server` yields, so the fake is ready as soon as its URL is known; leaving the block stops
it (a handler may stop it earlier, to play a server that goes away).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READ_PIECE = 1024 * 1024


class Exchange:
    """One request to the fake, and the means to answer it."""

    def __init__(self, request: BaseHTTPRequestHandler) -> None:
        self._request = request
        self._unread = int(request.headers.get("Content-Length") or 0)

    @property
    def method(self) -> str:
        return self._request.command

    @property
    def path(self) -> str:
        return self._request.path

    @property
    def headers(self) -> Message:
        return self._request.headers

    @property
    def client_port(self) -> int:
        """The port of the client's end of the connection: tells connections apart."""
        return int(self._request.client_address[1])

    def pieces(self, size: int = READ_PIECE) -> Iterator[bytes]:
        """The rest of the request's body, read `size` bytes at a time."""
        while self._unread:
            piece = self._request.rfile.read(min(self._unread, size))
            if not piece:
                break
            self._unread -= len(piece)
            yield piece

    def body(self) -> bytes:
        """The rest of the request's body."""
        return b"".join(self.pieces())

    def start(
        self, status: int, length: int, headers: dict[str, str] | None = None, *, last: bool = False
    ) -> None:
        """Send the status line and headers of an answer of `length` bytes; `write` sends them.
        `last`: the connection closes after this answer (keep-alive otherwise)."""
        self.body()  # what the client sent must be read before the connection is reused
        self._request.send_response(status)
        for name, value in (headers or {}).items():
            self._request.send_header(name, value)
        self._request.send_header("Content-Length", str(length))
        if last:
            self._request.send_header("Connection", "close")
            self._request.close_connection = True
        self._request.end_headers()

    def write(self, data: bytes) -> None:
        """Send part of the answer's body, at once."""
        self._request.wfile.write(data)
        self._request.wfile.flush()

    def answer(
        self, status: int, body: bytes = b"", content_type: str | None = None, *, last: bool = False
    ) -> None:
        """Send the whole answer (`last`: as in `start`)."""
        headers = {"Content-Type": content_type} if content_type else None
        self.start(status, len(body), headers, last=last)
        if self.method != "HEAD":
            self.write(body)

    def reset(self) -> None:
        """Drop the connection with a TCP reset (RST), as a line that breaks mid-request."""
        connection = self._request.connection
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._request.close_connection = True
        connection.close()


Handler = Callable[[Exchange], None]


class _Server(ThreadingHTTPServer):
    # Closing waits for no request under way: one may be held open on purpose, or be the
    # request whose handler stops the server.
    daemon_threads = True
    block_on_close = False


class FakeServer:
    """A running fake: its base URL, and `stop`."""

    def __init__(self, handle: Handler) -> None:
        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # a fake's requests are the test's business, not the console's

            def _any(self) -> None:
                handle(Exchange(self))

            def finish(self) -> None:
                with contextlib.suppress(OSError):  # a handler may have reset the connection
                    super().finish()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        # Bound and listening from here on: connections wait in the backlog until served.
        self._server = _Server(("127.0.0.1", 0), Request)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._stopped = threading.Lock()

    def stop(self) -> None:
        """Stop accepting connections and close the socket; safe to call from a handler and
        more than once. Requests under way run to their end."""
        if not self._stopped.acquire(blocking=False):
            return
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def fake_server(handle: Handler) -> Iterator[FakeServer]:
    """Serve `handle` on 127.0.0.1 for the block's length."""
    server = FakeServer(handle)
    try:
        yield server
    finally:
        server.stop()

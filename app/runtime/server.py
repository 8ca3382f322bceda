"""uvicorn's server, telling the app the moment it listens, and its HTTP protocol with the
deadlines and limits that keep slow or idle clients from holding the machine."""

from __future__ import annotations

import gc
import json
import logging
import resource
import socket
import time
from asyncio import TimerHandle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app import defaults

log = logging.getLogger("uvicorn.error")

# File descriptors kept for what the service itself opens (database, log file, charts, calls to
# Discord) when client connections are counted against the process's limit.
_FD_RESERVE = 64


@dataclass(slots=True)
class ConnectionLimits:
    """How long a client may take to send a request, and how large its headers may be.

    One per server, read by every connection. A woken server starts with the defaults and
    takes the settings' values once it has loaded them (app/runtime/wake.py)."""

    header_timeout: float = defaults.HEADER_TIMEOUT_SECONDS
    body_timeout: float = defaults.BODY_TIMEOUT_SECONDS
    max_header_bytes: int = defaults.MAX_HEADER_BYTES
    # Past this many open connections, a new one closes the one that has waited longest on its
    # client: idle or slow connections cannot use up the file descriptors a PING needs.
    max_connections: int = 0  # 0: from the process's file descriptor limit

    def __post_init__(self) -> None:
        if self.max_connections <= 0:
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            usable = soft - _FD_RESERVE if soft != resource.RLIM_INFINITY else 1 << 20
            self.max_connections = max(16, min(usable, defaults.MAX_CONNECTIONS))


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the connection limits, which travel with it to worker
    processes (`serve --workers N` pickles it)."""

    def __init__(self, app: Any, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, http=GuardedHttpProtocol, **options)
        self.limits = limits


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline (from the connection's start, or
    from the first byte of a keep-alive connection's next request), a body deadline, a size
    limit on the request line and headers (431), and the eviction of the connection that has
    waited longest on its client when too many are open.

    uvicorn itself times out only a keep-alive connection between two requests; its h11 knob
    (h11_max_incomplete_event_size) has no twin for httptools, the faster parser it picks."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        assert isinstance(config, ServerConfig), "serve with app.runtime.server.ServerConfig"
        self.limits = config.limits
        self._deadline: TimerHandle | None = None
        self._in_headers = True
        self._header_bytes = 0
        # When it started waiting on its client; None while the app holds its request.
        self.waiting_since: float | None = time.monotonic()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm(self.limits.header_timeout)
        if len(self.connections) > self.limits.max_connections:
            self._evict_longest_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing():
            # The whole chunk went to the request line and headers: they are not complete.
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self.waiting_since = time.monotonic()
        if self._deadline is None:  # a keep-alive connection's next request
            self._arm(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self.waiting_since = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and not self.cycle.more_body:
            self.waiting_since = time.monotonic()  # idle until its next request

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()  # an app reading the body sees the client disconnect

    def _refuse_headers(self) -> None:
        body = json.dumps(
            {
                "error": "headers_too_large",
                "message": f"The request line and headers exceed {self.limits.max_header_bytes}"
                " bytes.",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()

    def _evict_longest_waiting(self) -> None:
        waiting = [
            conn
            for conn in self.connections
            if isinstance(conn, GuardedHttpProtocol) and conn.waiting_since is not None
        ]
        if waiting:
            oldest = min(waiting, key=lambda conn: conn.waiting_since or 0.0)
            oldest.transport.close()


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound as uvicorn binds it. OSError when the address is taken (or
    not this machine's): `serve` says so in one line before anything else starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # worker processes serve it too
    return sock


def run_workers(
    app: str, workers: int, sock: socket.socket, limits: ConnectionLimits, options: dict[str, Any]
) -> None:
    """`serve --workers N`: uvicorn's supervisor, its worker processes serving `sock`."""
    from uvicorn.supervisors import Multiprocess

    config = ServerConfig(app, limits, factory=True, workers=workers, **options)
    host, port = sock.getsockname()[:2]
    log.info("Uvicorn running on http://%s:%d with %d workers", host, port, workers)
    Multiprocess(config, sockets=[sock]).run()


def settle_collector() -> None:
    """Once the app is built: the objects made while starting live as long as the process, so
    the collector need not look at them again (app/cli.py turned it off for the start). The
    pause this saves: docs/performance.md, "gc off while starting, then frozen"."""
    gc.freeze()
    gc.enable()


class AnnouncingServer(uvicorn.Server):
    """Calls `listening` once the socket accepts connections: a woken server's front starts
    building the app then, not before (app/runtime/wake.py), and settles the collector once it
    is built (`built=False`); any other app was built before, and the collector settles now."""

    def __init__(
        self, config: uvicorn.Config, listening: Callable[[], None], *, built: bool = True
    ) -> None:
        super().__init__(config)
        self.listening = listening
        self.built = built

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if sockets:  # uvicorn names the address only of a socket it bound itself
            host, port = sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port)
        if self.built:
            settle_collector()
        self.listening()

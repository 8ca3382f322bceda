"""Running the synchronous database calls, and a start's slow imports, off the event loop."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


class DatabaseThreads:
    """Storage calls run in worker threads, so the event loop never blocks on a query. One write
    at a time per process keeps p99 flat (writers serialise in the database anyway)."""

    def __init__(self, readers: int = 4) -> None:
        self.write_limiter = CapacityLimiter(1)
        self.read_limiter = CapacityLimiter(readers)

    async def write(self, call: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(call, *args, limiter=self.write_limiter)

    async def read(self, call: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(call, *args, limiter=self.read_limiter)


@contextmanager
def switching_often(interval: float = 0.0005) -> Iterator[None]:
    """While worker threads import what a start needs, the GIL changes hands every `interval`
    seconds instead of Python's 5 ms: the event loop, answering the request that woke the
    machine, gets it back sooner (its figure: docs/performance.md, "Switch interval")."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(before)

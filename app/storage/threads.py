"""Running the synchronous database calls off the event loop."""

from __future__ import annotations

from collections.abc import Callable
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

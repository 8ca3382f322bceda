"""Time that moves only when someone sleeps or a test moves it: retry tests set time instead of
waiting on it, and read back every wait the code under test asked for."""

from __future__ import annotations

import anyio.lowlevel

from app.retry import RetryTime


class SetTime:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """What a try costs on this clock (a request that runs into its timeout)."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    async def pause(self, seconds: float) -> None:
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()  # still a point where the task may be cancelled

    @property
    def retry_time(self) -> RetryTime:
        return RetryTime(self.clock, self.sleep, self.pause)

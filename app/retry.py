"""One retry policy and one retry loop for every outbound call (chart downloads, the chart bucket,
Discord's REST API, both Python clients): which answers are worth another try, how long to wait
(exponential backoff with jitter, or what the server asks), and when to give up (after so many
tries, or before a deadline would pass).

A try tells the loop how it went: it returns (done), raises `Again` (a failure that may pass,
with the answer when the server's Retry-After should set the wait), or raises anything else (a
failure for good, never retried). When the tries or the time run out the loop raises `GaveUp`;
each caller keeps its own words for the log and its own way of failing. The loop's time is
injected (`RetryTime`): tests give it a clock that moves when slept, instead of sleeping.

Hand-written rather than tenacity: its clock is fixed to time.monotonic (deadlines here run on
the caller's clock), every caller would still bring its own wait, stop and log hooks, and the
client would load one more package. Imports nothing but the standard library and the records
(httpx only for its types): the Python client uses it too, and the service's start path stays
without httpx.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar

from app.records import Clock, system_clock

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

# No single wait is longer than this, whatever the backoff or a server asks.
MAX_DELAY_SECONDS = 60.0


def is_transient(status: int) -> bool:
    """429 and 5xx may pass; any other 4xx is the caller's mistake and will not."""
    return status == 429 or status >= 500


@dataclass(frozen=True, slots=True)
class RetryTime:
    """The clock a call's deadline is kept by, and the waits between tries (blocking, async)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # asyncio's own sleep: the service runs on anyio's asyncio backend, where the two are one.
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep


class Again(Exception):
    """Raised by a try whose failure may pass. `response`: the answer, when its Retry-After (or
    Discord's `retry_after`) is to set the wait before the next try."""

    def __init__(self, why: str, response: httpx.Response | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.response = response


class GaveUp(Exception):
    """No try succeeded: `tries` were made in `elapsed` seconds, `last` is the last failure.
    `deadline` is set when the deadline ended the call, None when the tries ran out."""

    def __init__(self, last: Again, tries: int, elapsed: float, deadline: float | None) -> None:
        super().__init__(f"gave up after {tries} tries ({last.why})")
        self.last = last
        self.tries = tries
        self.elapsed = elapsed
        self.deadline = deadline


@dataclass(frozen=True, slots=True)
class Retry:
    """What the loop is about to do, for the caller's log line and counters."""

    number: int  # 1 for the first retry
    retries: int  # as many as the policy allows
    wait: float  # seconds before it
    why: str  # what the try before it met


@dataclass(frozen=True, slots=True)
class Backoff:
    """How one kind of call is retried, and the loop that does it (`run`, `run_async`)."""

    retries: int  # after the first try
    base_delay: float
    jitter: Callable[[], float] = random.random
    growth: float = 2.0  # each wait's ceiling is this many times the one before
    # Seconds for a whole call, tries and waits together; a retry is made only when it can end
    # within them, counting `try_seconds` (the longest one try may take) for it.
    deadline: float | None = None
    try_seconds: float = 0.0
    time: RetryTime = field(default_factory=RetryTime)
    clock: Clock = system_clock  # what an HTTP-date Retry-After is counted from

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry); a server's own
        Retry-After (or Discord's `retry_after`) wins over the backoff."""
        asked = retry_after(response, self.clock) if response is not None else None
        if asked is not None:
            return min(asked, MAX_DELAY_SECONDS)
        ceiling: float = min(MAX_DELAY_SECONDS, self.base_delay * self.growth**retry)
        # Half fixed, half random: callers that failed together do not retry in lockstep,
        # and each still waits at least half its backoff.
        return ceiling / 2 + self.jitter() * ceiling / 2

    def run(self, one_try: Callable[[], T], on_retry: Callable[[Retry], None] | None = None) -> T:
        """`one_try` until it returns; raises what it raises but `Again`, and GaveUp."""
        started, tries = self.time.clock(), 0
        while True:
            tries += 1
            try:
                return one_try()
            except Again as failure:
                wait = self._next(failure, tries, started, on_retry)
            self.time.sleep(wait)

    async def run_async(
        self,
        one_try: Callable[[], Awaitable[T]],
        on_retry: Callable[[Retry], None] | None = None,
    ) -> T:
        """The async twin of `run`: the same tries, waits and give-up."""
        started, tries = self.time.clock(), 0
        while True:
            tries += 1
            try:
                return await one_try()
            except Again as failure:
                wait = self._next(failure, tries, started, on_retry)
            await self.time.pause(wait)

    def _next(
        self,
        failure: Again,
        tries: int,
        started: float,
        on_retry: Callable[[Retry], None] | None,
    ) -> float:
        """The wait before the try after `tries` failed ones; GaveUp when there is to be none."""
        if tries > self.retries:
            raise GaveUp(failure, tries, self.time.clock() - started, None) from failure
        wait = self.delay(tries - 1, failure.response)
        if self.deadline is not None:
            elapsed = self.time.clock() - started
            if elapsed + wait + self.try_seconds > self.deadline:
                raise GaveUp(failure, tries, elapsed, self.deadline) from failure
        if on_retry is not None:
            on_retry(Retry(tries, self.retries, wait, failure.why))
        return wait


def retry_after(response: httpx.Response, clock: Clock = system_clock) -> float | None:
    """How long the server asks us to wait, in seconds, or None when it does not say.

    Discord puts `retry_after` in a 429's JSON body
    (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit); HTTP in
    general uses the Retry-After header, a number or an HTTP date."""
    if response.status_code == 429:
        try:
            return max(0.0, float(response.json()["retry_after"]))
        except (ValueError, KeyError, TypeError):
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock()).total_seconds())

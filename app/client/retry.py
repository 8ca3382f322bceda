"""When to retry an outbound request and how long to wait: exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# No single wait is longer than this, whatever the backoff or a Retry-After header asks.
MAX_DELAY_SECONDS = 60.0


def is_retriable(response: httpx.Response) -> bool:
    """429 and 5xx may pass; any other 4xx is the caller's mistake and will not."""
    return response.status_code == 429 or response.status_code >= 500


@dataclass(frozen=True, slots=True)
class Backoff:
    retries: int  # after the first try
    base_delay: float
    jitter: Callable[[], float] = random.random

    def delay(self, retry: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry)."""
        asked = retry_after(response) if response is not None else None
        if asked is not None:
            return min(asked, MAX_DELAY_SECONDS)
        ceiling = min(MAX_DELAY_SECONDS, self.base_delay * 2**retry)
        # Half fixed, half random: clients that failed together do not retry in lockstep,
        # and each still waits at least half its backoff.
        return ceiling / 2 + self.jitter() * ceiling / 2


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (it may be a number or an HTTP date)."""
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
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

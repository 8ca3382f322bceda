"""One retry policy for every outbound call (chart downloads, Discord's REST API, the client):
which answers are worth another try, and how long to wait, exponential backoff with jitter.

Imports nothing but the standard library and the records (httpx only for its types): the Python
client uses it too, and the service's start path stays without httpx.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from app.records import Clock, system_clock

if TYPE_CHECKING:
    import httpx

# No single wait is longer than this, whatever the backoff or a server asks.
MAX_DELAY_SECONDS = 60.0


def is_transient(status: int) -> bool:
    """429 and 5xx may pass; any other 4xx is the caller's mistake and will not."""
    return status == 429 or status >= 500


@dataclass(frozen=True, slots=True)
class Backoff:
    retries: int  # after the first try
    base_delay: float
    jitter: Callable[[], float] = random.random
    clock: Clock = system_clock  # what an HTTP-date Retry-After is counted from

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first retry); a server's own
        Retry-After (or Discord's `retry_after`) wins over the backoff."""
        asked = retry_after(response, self.clock) if response is not None else None
        if asked is not None:
            return min(asked, MAX_DELAY_SECONDS)
        ceiling: float = min(MAX_DELAY_SECONDS, self.base_delay * 2.0**retry)
        # Half fixed, half random: callers that failed together do not retry in lockstep,
        # and each still waits at least half its backoff.
        return ceiling / 2 + self.jitter() * ceiling / 2


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

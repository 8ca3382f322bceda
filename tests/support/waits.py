"""Waiting for a condition, not for a time: a loaded machine makes anything slow, so each wait
ends as soon as what it waits for is true, and fails only after a generous deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

DEADLINE = 60.0  # seconds: far beyond what an unloaded machine needs
POLL = 0.01


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Return once `condition()` is true; fail with `what` (what did not happen) after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(POLL)

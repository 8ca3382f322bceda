"""How long Discord asks us to wait after a 429
(https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit)."""

from __future__ import annotations

import httpx


def retry_after(response: httpx.Response, default: float) -> float:
    """Seconds to wait: the JSON body's `retry_after`, else the Retry-After header, else
    `default`."""
    try:
        return float(response.json()["retry_after"])
    except (ValueError, KeyError, TypeError):
        pass
    try:
        return float(response.headers.get("Retry-After", default))
    except ValueError:
        return default

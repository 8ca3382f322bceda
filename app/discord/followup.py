"""Editing a deferred answer: PATCH /webhooks/{application_id}/{token}/messages/@original
(https://discord.com/developers/docs/interactions/receiving-and-responding#edit-original-interaction-response)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from app.retry import Backoff, is_transient
from app.services import Services

log = logging.getLogger("coach_plans")


async def edit_original(
    services: Services, application_id: str, token: str, data: dict[str, Any]
) -> bool:
    """Replace the "thinking…" message with `data`. Retries connection errors, 5xx, 429 (after
    Discord's retry_after) and 404 (Discord answers 404 until it has seen the deferral)."""
    settings = services.settings
    url = (
        f"{settings.discord_api_base_url.rstrip('/')}/webhooks/{quote(application_id, safe='')}"
        f"/{quote(token, safe='')}"
        "/messages/@original"
    )
    body = {key: value for key, value in data.items() if key != "flags"}
    backoff = Backoff(settings.reconnect_attempts, settings.reconnect_delay_seconds)
    attempts = settings.reconnect_attempts + 1
    for attempt in range(1, attempts + 1):
        wait = backoff.delay(attempt - 1)
        try:
            response = await services.http.patch(url, json=body)
        except httpx.HTTPError as exc:
            why = f"{exc.__class__.__name__}"
        else:
            if response.status_code < 300:
                return True
            why = f"HTTP {response.status_code}"
            if response.status_code == 429:
                wait = backoff.delay(attempt - 1, response)
            elif response.status_code != 404 and not is_transient(response.status_code):
                log.warning(
                    "Discord refused the edit of a deferred answer: %s", response.text[:300]
                )
                return False
        if attempt < attempts:
            log.info("editing a deferred answer failed (%s); retry %d in %.1fs", why, attempt, wait)
            await anyio.sleep(wait)
    log.warning("gave up editing a deferred answer after %d attempts", attempts)
    return False

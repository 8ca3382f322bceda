"""Chart images: which attachments are accepted, and archiving Discord's copy under
CHART_STORAGE_DIR (its attachment URLs expire); app/api/charts.py serves the archived bytes.

Only attachments on Discord's CDN are accepted (see app/chart_downloads.py). A chart whose
download fails for a reason that may pass keeps its Discord URL (plans still show it) and is
retried later: at every start and then every RETRY_INTERVAL_SECONDS. One refused for good is never
fetched again. Until a chart is archived, /charts/{id} answers 404 saying so: Discord's URL may
already have expired, and the read API promises only archived bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from app import chart_downloads
from app.chart_downloads import IMAGE_TYPES, megabytes
from app.errors import BadChart
from app.records import Chart, NewChart
from app.services import Services
from app.settings import Settings
from app.text_rules import one_line

log = logging.getLogger("coach_plans")

_BY_EXTENSION = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
RETRY_INTERVAL_SECONDS = 600.0
# Background retries download this many charts at a time (each holds up to MAX_CHART_BYTES).
RETRY_CONCURRENCY = 4


# --- accepting attachments ----------------------------------------------------------------------


def accept(attachments: Sequence[tuple[str, dict[str, Any]]], settings: Settings) -> list[NewChart]:
    """Attachments (option name, Discord attachment object) as charts; refuses, naming the file,
    anything that is not a PNG, JPEG, GIF or WebP image of at most MAX_CHART_BYTES on Discord's
    CDN."""
    max_bytes = settings.max_chart_bytes
    charts = []
    for option, attachment in attachments:
        filename = one_line(attachment.get("filename"), 255) or option
        content_type = str(attachment.get("content_type") or "").split(";")[0].strip().lower()
        if not content_type:
            content_type = _BY_EXTENSION.get(Path(filename).suffix.lower(), "")
        if content_type not in IMAGE_TYPES:
            kind = content_type or "of unknown type"
            raise BadChart(
                f"{filename} ({option}) is {kind}, not a chart image: attach a PNG, JPEG, GIF "
                "or WebP file."
            )
        size = attachment.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadChart(f"{filename} ({option}) came without its size; attach it again.")
        if size > max_bytes:
            raise BadChart(
                f"{filename} ({option}) is {megabytes(size)}; a chart may be at most "
                f"{megabytes(max_bytes)}. Export a smaller image and attach that."
            )
        url = attachment.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise BadChart(f"{filename} ({option}) came without a download link; attach it again.")
        if not chart_downloads.host_allowed(url, settings):
            raise BadChart(
                f"{filename} ({option}) does not come from Discord's CDN, so it was not "
                "accepted: attach the image file itself in Discord."
            )
        charts.append(NewChart(url=url, filename=filename, content_type=content_type, size=size))
    return charts


# --- archiving ----------------------------------------------------------------------------------


async def archive_now(services: Services, charts: Sequence[Chart]) -> None:
    """The command path: these charts side by side, all within one deadline, so the deferred
    answer is edited in time; what is still failing then is left to the background retries."""
    seconds = chart_downloads.deadline(services.settings)
    attempts = services.settings.reconnect_attempts + 1

    async def one(chart: Chart) -> None:
        with anyio.move_on_after(seconds) as scope:
            await chart_downloads.keep(services, chart, attempts)
        if scope.cancelled_caught:
            log.warning(
                "chart %s (%s) was not archived within %gs; it is retried later",
                chart.id,
                chart.filename,
                seconds,
            )

    async with anyio.create_task_group() as group:
        for chart in charts:
            group.start_soon(one, chart)


async def archive_pending(services: Services) -> int:
    """Retry every chart of a live plan that is neither archived nor refused for good; returns
    how many were archived. Each chart is on its own: every attempt has its deadline, and a slow
    one holds one of RETRY_CONCURRENCY slots, never the others."""
    pending = await services.read(services.plans.unarchived_charts)
    if not pending:
        return 0
    log.info("archiving %d chart(s) that could not be downloaded before", len(pending))
    attempts = services.settings.reconnect_attempts + 1
    slots = anyio.CapacityLimiter(RETRY_CONCURRENCY)
    archived = 0

    async def one(chart: Chart) -> None:
        nonlocal archived
        async with slots:
            archived += await chart_downloads.keep(services, chart, attempts)

    async with anyio.create_task_group() as group:
        for chart in pending:
            group.start_soon(one, chart)
    return archived


async def keep_archiving(services: Services, interval: float = RETRY_INTERVAL_SECONDS) -> None:
    """Background task of the lifespan: retries failed downloads now and then."""
    while True:
        try:
            await archive_pending(services)
        except Exception:
            log.exception("retrying chart downloads failed; will try again later")
        await anyio.sleep(interval)


def public_url(services: Services, chart: Chart) -> str:
    """Where Discord should load a chart image from: our archived copy when it is reachable
    without a key at a public address, else Discord's own URL."""
    settings = services.settings
    if chart.stored_path and settings.public_base_url and settings.api_key is None:
        return f"{settings.public_base_url.rstrip('/')}/charts/{chart.id}"
    return chart.url

"""Chart images: which attachments are accepted, archiving Discord's copy under CHART_STORAGE_DIR
(its attachment URLs expire), and GET /charts/{chart_id} serving the archived bytes.

A chart whose download fails keeps its Discord URL (plans still show it) and is retried later: at
every start and then every RETRY_INTERVAL_SECONDS. Until it is archived, /charts/{id} answers 404
saying so: Discord's URL may already have expired, and the read API promises only archived bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from starlette.requests import Request
from starlette.responses import Response

from app.errors import BadChart
from app.http_errors import error_response
from app.plans import Chart, NewChart
from app.services import Services
from app.text_rules import canonical_uint, one_line

log = logging.getLogger("coach_plans")

IMAGE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
_BY_EXTENSION = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
RETRY_INTERVAL_SECONDS = 600.0
# An archived file never changes (its name holds its hash), so caches may keep it for a year.
_CACHE_FOREVER = "public, max-age=31536000, immutable"


# --- accepting attachments ----------------------------------------------------------------------


def accept(attachments: Sequence[tuple[str, dict[str, Any]]], max_bytes: int) -> list[NewChart]:
    """Attachments (option name, Discord attachment object) as charts; refuses, naming the file,
    anything that is not a PNG, JPEG, GIF or WebP image of at most `max_bytes`."""
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
                f"{filename} ({option}) is {_megabytes(size)}; a chart may be at most "
                f"{_megabytes(max_bytes)}. Export a smaller image and attach that."
            )
        url = attachment.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise BadChart(f"{filename} ({option}) came without a download link; attach it again.")
        charts.append(NewChart(url=url, filename=filename, content_type=content_type, size=size))
    return charts


def _megabytes(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


# --- archiving ----------------------------------------------------------------------------------


def _looks_like(content_type: str, data: bytes) -> bool:
    """The bytes start the way the declared image type does, so we never serve other content."""
    if content_type == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if content_type == "image/gif":
        return data.startswith((b"GIF87a", b"GIF89a"))
    if content_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return False


async def _download(services: Services, chart: Chart) -> bytes | None:
    """The chart's bytes, retrying with exponential backoff; None (and a log line saying why)
    when it cannot be had."""
    settings = services.settings
    limit = settings.max_chart_bytes
    attempts = settings.reconnect_attempts + 1
    why = "not tried"
    for attempt in range(1, attempts + 1):
        try:
            async with services.http.stream("GET", chart.url) as response:
                if response.status_code != 200:
                    why = f"HTTP {response.status_code}"
                else:
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > limit:
                            log.warning(
                                "chart %s (%s) is larger than MAX_CHART_BYTES; not archived",
                                chart.id,
                                chart.filename,
                            )
                            return None
                    if not _looks_like(chart.content_type, bytes(data)):
                        log.warning(
                            "chart %s (%s) is not a %s image; not archived",
                            chart.id,
                            chart.filename,
                            chart.content_type,
                        )
                        return None
                    return bytes(data)
        except httpx.HTTPError as exc:
            why = exc.__class__.__name__
        if attempt < attempts:
            await anyio.sleep(settings.reconnect_delay_seconds * 2 ** (attempt - 1))
    log.warning(
        "could not download chart %s (%s) after %d attempts (%s); it keeps its Discord URL and "
        "will be retried later",
        chart.id,
        chart.filename,
        attempts,
        why,
    )
    return None


def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(folder / name)  # atomic: a reader never sees half a file


async def archive_one(services: Services, chart: Chart) -> bool:
    data = await _download(services, chart)
    if data is None:
        return False
    digest = hashlib.sha256(data).hexdigest()[:32]
    name = f"{chart.id}-{digest}{IMAGE_TYPES[chart.content_type]}"
    await anyio.to_thread.run_sync(_write, services.settings.chart_storage_dir, name, data)
    await services.write(services.plans.mark_archived, chart.id, name)
    return True


async def archive(services: Services, charts: Sequence[Chart]) -> int:
    """Download and keep these charts side by side; returns how many were archived."""
    done = await asyncio.gather(*(archive_one(services, chart) for chart in charts))
    return sum(done)


async def archive_pending(services: Services) -> int:
    """Retry every chart of a live plan that has no archived copy yet."""
    pending = await services.read(services.plans.unarchived_charts)
    if not pending:
        return 0
    log.info("archiving %d chart(s) that could not be downloaded before", len(pending))
    return await archive(services, pending)


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


# --- serving ------------------------------------------------------------------------------------


def _etag(stored_path: str) -> str:
    return '"' + Path(stored_path).stem.partition("-")[2] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag in wanted


async def serve_chart(request: Request) -> Response:
    """GET /charts/{chart_id}: the archived image; 404 while it is not archived yet."""
    services: Services = request.state.services
    raw = request.path_params["chart_id"]
    chart_id = canonical_uint(raw, 18)  # isdigit() would pass "²", which int() refuses
    if chart_id is None:
        return error_response(request, 404, f"There is no chart {raw[:40]!r}.", "chart_not_found")
    chart = await services.read(services.plans.chart, chart_id)
    path = services.settings.chart_storage_dir / (chart.stored_path or "")
    if chart.stored_path and Path(chart.stored_path).name == chart.stored_path:
        etag = _etag(chart.stored_path)
        headers = {"ETag": etag, "Cache-Control": _CACHE_FOREVER}
        if _matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        try:
            data = await anyio.to_thread.run_sync(path.read_bytes)
        except OSError as exc:
            log.warning("archived chart %s cannot be read (%s)", chart.id, exc)
        else:
            headers["X-Content-Type-Options"] = "nosniff"
            return Response(data, media_type=chart.content_type, headers=headers)
    return error_response(
        request,
        404,
        f"Chart {chart.id} ({chart.filename}) is not archived yet: its download from Discord has "
        "not succeeded so far and is retried later. Try again in a while.",
        "chart_not_archived",
    )

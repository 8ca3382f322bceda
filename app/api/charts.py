"""GET /charts/{chart_id}: an archived chart image, served with its own content type, from the
chart store (the local directory or the bucket: the answer is the same).

An archived chart is named after its content's hash (app/charts/store.py), so it never changes:
the hash is the ETag. Without API_KEY any cache may keep the image for a year; behind the key no
shared cache may keep it (it would hand it to anyone), and a browser asks again each time (a 304
when it has it), so the key is checked on every read. A 404 names the chart's id only: its file
name is the poster's, and the caller may have only guessed the id.

The image is streamed from an open file in pieces, so a reader never makes the service hold a
whole chart in memory; a bucket's copy to that file takes a transfer slot like any other.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.api import access
from app.api.errors import error_response
from app.charts.store import StoreError, digest_of, size_of
from app.runtime.resources import services_for
from app.text_rules import canonical_uint

log = logging.getLogger("coach_plans")

_CACHE_FOREVER = "public, max-age=31536000, immutable"
_CACHE_PRIVATE = "private, no-cache"
# A pending chart's 404 turns into the image later: no cache may keep the 404.
_NO_STORE = {"Cache-Control": "no-store"}


async def chart(request: Request) -> Response:
    """The archived image; 404 while it is not archived, or when it was refused for good."""
    services = services_for(request)
    raw = request.path_params["chart_id"]
    chart_id = canonical_uint(raw, 18)  # isdigit() would pass "²", which int() refuses
    if chart_id is None:
        return error_response(
            request, 404, f"There is no chart {raw[:40]!r}.", "chart_not_found", _NO_STORE
        )
    # The chart's guild decides who reads it: walking ids reads nothing of a keyed guild.
    guild, guild_keyed = await services.read(services.community.chart_guild, chart_id)
    if guild is not None:
        await access.key_guild(request, services, guild)  # a guild key must be this guild's
        access.check(request, guild_keyed)
    found = await services.read(services.plans.chart, chart_id)
    name = found.stored_path
    if name and (digest := digest_of(name)) is not None:
        etag = f'"{digest}"'
        keyed = services.settings.api_key is not None or guild_keyed
        headers = {"ETag": etag, "Cache-Control": _CACHE_PRIVATE if keyed else _CACHE_FOREVER}
        if _matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        store = services.store
        try:
            # Readers over HTTP belong to no server: they queue with the background retries.
            async with services.charts.transfers.slot(None):
                file = await store.open(name)
        except StoreError as exc:
            log.warning("archived chart %s cannot be read from the %s: %s", found.id, store.backend,
                        exc.reason)  # fmt: skip
            return error_response(
                request,
                503,
                f"Chart {found.id} is archived, but the chart store cannot be read now. "
                "Try again in a while.",
                "unavailable",
                headers={"Retry-After": "30", **_NO_STORE},
            )
        if file is not None:
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Content-Length"] = str(size_of(file))
            return StreamingResponse(_pieces(file), media_type=found.content_type, headers=headers)
        log.warning("archived chart %s (%s) is missing from the %s", found.id, name, store.backend)
    if found.failed_reason:
        return error_response(
            request,
            404,
            f"Chart {found.id} was not kept ({found.failed_reason}) and will not be downloaded "
            "again.",
            "chart_not_archived",
            _NO_STORE,
        )
    return error_response(
        request,
        404,
        f"Chart {found.id} is not archived yet: its download from Discord has not succeeded so "
        "far and is retried later. Try again in a while.",
        "chart_not_archived",
        _NO_STORE,
    )


# A piece of a streamed chart: large enough that a 10 MiB chart is a few dozen writes.
_PIECE = 256 * 1024


async def _pieces(file: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while piece := await anyio.to_thread.run_sync(file.read, _PIECE):
            yield piece
    finally:
        file.close()


def _matches(if_none_match: str, etag: str) -> bool:
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag in wanted

"""Downloading one chart from Discord's CDN into the chart store (one attempt;
app/charts/archive.py retries and records the outcome).

Every attempt has an overall deadline, and every failure is sorted: one that can pass (connection
error, timeout, 429, 5xx, storage trouble) leaves the chart pending for a later retry; one that
never will (not the declared image, too large, another 4xx, a redirect, a host other than
Discord's CDN) is recorded in `failed_reason`, and the chart is never fetched again.

The bytes go to a spool file as they arrive, hashed and checked on the way, and the store keeps
that file: a download holds a chunk in memory, never the chart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import httpx

from app.charts.store import ChartStore, StoreError, named, spool_file
from app.discord.protocol import API_HOST, CDN_HOSTS
from app.records import Chart
from app.settings import Settings

IMAGE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
_KIND = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}

# Charts come from Discord's CDN_HOSTS and nowhere else: a chart URL arrives in a signed
# interaction, but nothing else vouches for it, and the service must not become a way to reach
# hosts it can see (its own /metrics, a cloud metadata address, the private network).
_DEFAULT_PORTS = {"http": 80, "https": 443}

# CONNECTION_TIMEOUT bounds each connect and each read, so a source that sends a byte now and
# then would hold a download open for ever. A whole attempt therefore gets this many timeouts:
# Discord's CDN delivers the largest chart in a few seconds, so it is ample for a real chart, and
# it still ends a drip within half a minute with the default settings.
DEADLINE_TIMEOUTS = 3


def deadline(settings: Settings) -> float:
    """Seconds one download attempt may take, from connecting to the file being written."""
    return DEADLINE_TIMEOUTS * settings.connection_timeout


class Refused(Exception):
    """The chart can never be archived; `reason` is what the plan message says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Passing(Exception):
    """This attempt failed for a reason that may pass; a later one may succeed."""


class StoreFailed(Passing):
    """The chart was downloaded but the store would not keep it. `again`: another attempt now
    may do (the fault may pass and the store has not retried it itself)."""

    def __init__(self, reason: str, *, again: bool) -> None:
        super().__init__(reason)
        self.again = again


# --- which hosts ----------------------------------------------------------------------------------


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0)


def allowed_origins(settings: Settings) -> frozenset[tuple[str, str, int]]:
    """Discord's CDN over https; and, when DISCORD_API_BASE_URL is not Discord's own (mock mode,
    a test's fake), that host, which then stands in for Discord's CDN too."""
    origins = {("https", host, 443) for host in CDN_HOSTS}
    api = httpx.URL(settings.discord_api_base_url)
    if settings.mock_mode or api.host != API_HOST:
        origins.add(_origin(api))
    return frozenset(origins)


def host_allowed(url: str, settings: Settings) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    # Parsed as httpx will fetch it, so "https://cdn.discordapp.com@127.0.0.1/" is 127.0.0.1.
    return _origin(parsed) in allowed_origins(settings)


# --- one attempt ----------------------------------------------------------------------------------


# The longest start of an image _looks_like reads (WebP's "RIFF" size "WEBP").
_SIGNATURE_BYTES = 12


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


def megabytes(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


async def _fetch(http: httpx.AsyncClient, settings: Settings, chart: Chart, spool: Path) -> str:
    """Write the chart's bytes to `spool`, checked; their SHA-256 (hex). Raises Refused,
    Passing, or StoreError when the spool cannot be written."""
    if not host_allowed(chart.url, settings):
        raise Refused("not on Discord's CDN")
    limit = settings.max_chart_bytes
    too_large = Refused(f"larger than {megabytes(limit)}")
    wrong_kind = Refused(f"not a {_KIND.get(chart.content_type, chart.content_type)} image")
    digest = hashlib.sha256()
    size, head = 0, b""
    try:
        # Never follow a redirect: it could lead anywhere, and Discord's CDN does not send them.
        async with http.stream("GET", chart.url, follow_redirects=False) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise Passing(f"HTTP {status}")
            if 300 <= status < 400:
                raise Refused(f"redirected (HTTP {status})")
            if status != 200:
                raise Refused(f"HTTP {status}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large
            async with await _spool_open(spool) as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    if len(head) < _SIGNATURE_BYTES:
                        head += chunk[:_SIGNATURE_BYTES]
                        if len(head) >= _SIGNATURE_BYTES and not _looks_like(
                            chart.content_type, head
                        ):
                            raise wrong_kind
                    digest.update(chunk)
                    await out.write(chunk)
    except httpx.HTTPError as exc:
        raise Passing(exc.__class__.__name__) from exc
    except OSError as exc:  # the spool: a full disk, a folder that cannot be made
        raise StoreError(f"{spool.parent}: {exc.strerror or exc}", transient=True) from exc
    if not _looks_like(chart.content_type, head):
        raise wrong_kind
    return digest.hexdigest()


async def _spool_open(spool: Path) -> anyio.AsyncFile[bytes]:
    await anyio.to_thread.run_sync(lambda: spool.parent.mkdir(parents=True, exist_ok=True))
    return await anyio.open_file(spool, "wb")


async def attempt(
    http: httpx.AsyncClient, settings: Settings, chart: Chart, store: ChartStore
) -> str:
    """Download and store the chart; its stored name. Raises Refused or Passing."""
    seconds = deadline(settings)
    spool = spool_file(store.spool, chart.id)
    try:
        with anyio.fail_after(seconds):
            sha256 = await _fetch(http, settings, chart, spool)
            name = named(chart.id, sha256, IMAGE_TYPES[chart.content_type])
            await store.put_file(name, spool, chart.content_type)
            return name
    except TimeoutError:
        raise Passing(f"not done within {seconds:g}s") from None
    except StoreError as exc:
        again = exc.transient and not exc.retried
        raise StoreFailed(f"chart store: {exc.reason}", again=again) from exc
    finally:
        # What is left of it: all of it when it was not kept, nothing once it was moved.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: spool.unlink(missing_ok=True))

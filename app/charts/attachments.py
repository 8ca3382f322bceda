"""Chart images: which attachments are accepted.

Only attachments on Discord's CDN are accepted (see app/charts/downloads.py); app/charts/archive.py
keeps a copy of each, and app/api/charts.py serves the archived bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.errors import BadChart
from app.records import NewChart
from app.settings import Settings
from app.text_rules import one_line

_BY_EXTENSION = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


# --- accepting attachments ----------------------------------------------------------------------


def accept(attachments: Sequence[tuple[str, dict[str, Any]]], settings: Settings) -> list[NewChart]:
    """Attachments (option name, Discord attachment object) as charts; refuses, naming the file,
    anything that is not a PNG, JPEG, GIF or WebP image of at most MAX_CHART_BYTES on Discord's
    CDN."""
    # With httpx, which parses the URLs as it will fetch them; the warm-up has loaded it
    # before any command runs, and the start path stays without it (app/runtime/services.py).
    from app.charts.downloads import IMAGE_TYPES, host_allowed, megabytes

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
        if not host_allowed(url, settings):
            raise BadChart(
                f"{filename} ({option}) does not come from Discord's CDN, so it was not "
                "accepted: attach the image file itself in Discord."
            )
        charts.append(NewChart(url=url, filename=filename, content_type=content_type, size=size))
    return charts

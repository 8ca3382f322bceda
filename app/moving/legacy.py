"""Reading the original gateway bot's SQLite database (`coach-plans import --legacy OLD.db`).

Its README names three tables, `coach_plans`, `plan_history` and `plan_charts`. The columns read
here are inferred from those names and from this service's own tables, which kept them; every
column but the plan's coach, date and text is optional, and read only when the table has it:

- coach_plans: id, coach_name (`coach_d`), date (YYYY-MM-DD), plan, author, author_id, channel,
  channel_id, created_at, is_deleted (0/1), deleted_at, deleted_by
- plan_history: plan_id, plan_text (the text an edit replaced), edited_by, edited_by_id, edited_at
- plan_charts: plan_id, chart_url, filename, content_type, size, added_at

Its quirks: coach names carry a `coach_` prefix; timestamps are naive, in the bot's local zone
(ZONE); a deleted plan is only flagged; charts are Discord CDN URLs, most of them expired by now.
Each old plan becomes a line of the format `coach-plans/1` and is checked as any line is.
"""

from __future__ import annotations

import json
import mimetypes
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.moving.format import FORMAT, BadLine, decode, instant
from app.moving.importer import Labelled


class LegacyError(Exception):
    """The file is not the original bot's database."""


def coach_of(name: str) -> str:
    """`coach_d` → `d`: the bot kept a coach's role name, the service keeps the coach."""
    name = name.strip().lower()
    return name.removeprefix("coach_") or name


def _moment(value: object, zone: ZoneInfo) -> str | None:
    """A naive local timestamp of the bot's as an instant; one with an offset is kept as is."""
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return instant(moment)


def open_legacy(path: Path) -> sqlite3.Connection:
    """The old database, read-only: an import never changes it."""
    if not path.is_file():
        raise LegacyError(f"{path}: no such file")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise LegacyError(f"{path}: not a SQLite database ({exc})") from None
    if "coach_plans" not in tables:
        connection.close()
        raise LegacyError(f"{path}: has no coach_plans table; not the original bot's database")
    return connection


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def records(path: Path, guild: str, zone: ZoneInfo) -> Iterator[Labelled]:
    """Every old plan, deleted ones too, oldest first, as a checked line of the format."""
    connection = open_legacy(path)
    try:
        has_history = bool(_columns(connection, "plan_history"))
        has_charts = bool(_columns(connection, "plan_charts"))
        for row in connection.execute("SELECT * FROM coach_plans ORDER BY id"):
            label = f"old plan {row['id']}"
            try:
                history = (
                    connection.execute(
                        "SELECT * FROM plan_history WHERE plan_id = ? ORDER BY edited_at, id",
                        (row["id"],),
                    ).fetchall()
                    if has_history
                    else []
                )
                charts = (
                    connection.execute(
                        "SELECT * FROM plan_charts WHERE plan_id = ? ORDER BY id", (row["id"],)
                    ).fetchall()
                    if has_charts
                    else []
                )
                body = _line(dict(row), [dict(h) for h in history], [dict(c) for c in charts], zone)
                yield label, decode(json.dumps(body), guild)
            except BadLine as exc:
                yield label, exc
            except (ValueError, TypeError, KeyError) as exc:
                yield label, BadLine(f"cannot be read: {exc}")
    finally:
        connection.close()


def _line(
    row: dict[str, Any], history: list[dict[str, Any]], charts: list[dict[str, Any]], zone: ZoneInfo
) -> dict[str, Any]:
    author = str(row.get("author") or row.get("author_id") or "unknown")
    author_id = str(row.get("author_id") or author)
    created = _moment(row.get("created_at"), zone)
    # Each history row holds the text an edit replaced; the plan row holds the newest text.
    texts = [str(h["plan_text"]) for h in history] + [str(row["plan"])]
    writers = [(author, author_id, created)] + [
        (
            str(h.get("edited_by") or h.get("edited_by_id") or author),
            str(h.get("edited_by_id") or h.get("edited_by") or author_id),
            _moment(h.get("edited_at"), zone),
        )
        for h in history
    ]
    deleted = None
    if row.get("is_deleted"):
        by = str(row.get("deleted_by") or author_id)
        at = _moment(row.get("deleted_at"), zone) or writers[-1][2]
        deleted = {"by": by, "by_id": by, "at": at}
    return {
        "format": FORMAT,
        "guild_id": None,  # the bot served one guild: --guild names it
        "coach": coach_of(str(row.get("coach_name") or "")),
        "date": str(row.get("date") or "")[:10],
        "author": author,
        "author_id": author_id,
        "channel": row.get("channel"),
        "channel_id": None if row.get("channel_id") is None else str(row["channel_id"]),
        "created_at": created,
        "deleted": deleted,
        "versions": [
            {"text": text, "levels": None, "by": by, "by_id": by_id, "at": at}
            for text, (by, by_id, at) in zip(texts, writers, strict=True)
        ],
        "charts": [_chart(chart, zone, created) for chart in charts],
    }


def _chart(chart: dict[str, Any], zone: ZoneInfo, created: str | None) -> dict[str, Any]:
    filename = str(chart.get("filename") or "chart")
    kind = chart.get("content_type") or mimetypes.guess_type(filename)[0] or "image/png"
    return {
        "filename": filename,
        "content_type": kind,
        "sha256": None,
        "url": chart.get("chart_url") or chart.get("url"),
        "size": int(chart.get("size") or 0),
        "added_at": _moment(chart.get("added_at"), zone) or created,
    }

"""The export format `coach-plans/1`: one plan a JSON object a line, as typed records.

Every instant is ISO 8601 in UTC (`+00:00`), as the API writes them. Besides the fields the
format names, a chart carries `size` and `added_at` (when it was attached): without them a plan
read "as of" an instant would show charts it did not have yet. Both are optional on import.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.plans.extraction import extract
from app.records import Actor, Deletion, Levels, NewChart, Place
from app.storage.transfer import MovedChart, Version, WholePlan

FORMAT = "coach-plans/1"
COACH_MAX = 32  # the coach column's width
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BadLine(ValueError):
    """The line is not a plan of this format; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Line:
    """A plan as the format carries it: the whole plan, and each chart's content hash (None
    when its bytes were never archived)."""

    plan: WholePlan
    sha256: tuple[str | None, ...]


def instant(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.isoformat()


def encode(line: Line) -> str:
    plan = line.plan
    deletion = plan.deletion
    body: dict[str, Any] = {
        "format": FORMAT,
        "guild_id": plan.guild_id or None,
        "coach": plan.coach,
        "date": plan.date.isoformat(),
        "author": plan.author.name,
        "author_id": plan.author.id,
        "channel": plan.place.channel,
        "channel_id": plan.place.channel_id,
        "created_at": instant(plan.created_at),
        "deleted": None
        if deletion is None
        else {"by": deletion.by, "by_id": deletion.by_id, "at": instant(deletion.at)},
        "versions": [
            {
                "text": v.text,
                "levels": None if v.levels is None else v.levels.as_dict(),
                "by": v.by.name,
                "by_id": v.by.id,
                "at": instant(v.at),
            }
            for v in plan.versions
        ],
        "charts": [
            {
                "filename": c.filename,
                "content_type": c.content_type,
                "sha256": sha,
                "url": c.url,
                "size": c.size,
                "added_at": instant(c.added_at),
            }
            for c, sha in zip(plan.charts, line.sha256, strict=True)
        ],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# --- reading -------------------------------------------------------------------------------------


def decode(text: str, guild: str | None = None) -> Line:
    """One line of the format; `guild` for a line that names none. Raises BadLine."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadLine(f"not JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(body, dict):
        raise BadLine("not a JSON object")
    if body.get("format") != FORMAT:
        raise BadLine(f"format is not {FORMAT!r}")
    guild_id = _text(body, "guild_id", optional=True) or guild
    if not guild_id:
        raise BadLine("no guild_id (give --guild for lines without one)")
    coach = _text(body, "coach")
    if len(coach) > COACH_MAX:
        raise BadLine(f"coach: longer than {COACH_MAX} characters")
    created = _instant(body, "created_at")
    versions = tuple(_version(v, n) for n, v in enumerate(_list(body, "versions")))
    if not versions:
        raise BadLine("versions: none; the first is the plan as posted")
    if versions[0].at != created:
        raise BadLine("versions[0].at: not created_at (the first version is the plan as posted)")
    if any(b.at < a.at for a, b in itertools.pairwise(versions)):
        raise BadLine("versions: not oldest first")
    charts = [_chart(c, n, created) for n, c in enumerate(_list(body, "charts"))]
    plan = WholePlan(
        guild_id=guild_id,
        coach=coach,
        date=_date(body),
        author=Actor(_text(body, "author_id"), _text(body, "author")),
        place=Place(
            guild_id,
            _text(body, "channel_id", optional=True),
            _text(body, "channel", optional=True),
        ),
        created_at=created,
        versions=versions,
        deletion=_deletion(body.get("deleted")),
        charts=tuple(chart for chart, _ in charts),
    )
    return Line(plan, tuple(sha for _, sha in charts))


def _text(body: dict[str, Any], key: str, *, optional: bool = False) -> str:
    value = body.get(key)
    if value is None and optional:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith("id"):
        value = str(value)  # a snowflake written as a number
    if not isinstance(value, str) or not (value or optional):
        raise BadLine(f"{key}: not a non-empty string")
    return value


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise BadLine(f"{key}: not a list")
    return value


def _instant(body: dict[str, Any], key: str, where: str = "") -> datetime:
    value = body.get(key)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadLine(f"{where}{key}: not an ISO 8601 instant with its offset")
    return moment.astimezone(UTC)


def _date(body: dict[str, Any]) -> date:
    value = body.get("date")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else date.fromisoformat("")
    except ValueError:
        raise BadLine("date: not YYYY-MM-DD") from None


def _version(value: object, n: int) -> Version:
    where = f"versions[{n}]."
    if not isinstance(value, dict):
        raise BadLine(f"versions[{n}]: not an object")
    text = value.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadLine(f"{where}text: not a non-empty string")
    levels = value.get("levels")
    if levels is None:
        found: Levels | None = extract(text)  # null: read them from the text
    elif isinstance(levels, dict):
        try:
            found = Levels.from_dict(levels)
        except (KeyError, TypeError, ValueError):
            raise BadLine(f"{where}levels: not levels as a plan's JSON gives them") from None
    else:
        raise BadLine(f"{where}levels: not an object or null")
    by_id = _text(value, "by_id")
    by = Actor(by_id, _text(value, "by", optional=True) or by_id)
    return Version(text, found, by, _instant(value, "at", where))


def _deletion(value: object) -> Deletion | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadLine("deleted: not an object or null")
    by_id = _text(value, "by_id")
    return Deletion(
        by=_text(value, "by", optional=True) or by_id,
        by_id=by_id,
        at=_instant(value, "at", "deleted."),
    )


def _chart(value: object, n: int, created: datetime) -> tuple[MovedChart, str | None]:
    where = f"charts[{n}]."
    if not isinstance(value, dict):
        raise BadLine(f"charts[{n}]: not an object")
    sha = value.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise BadLine(f"{where}sha256: not 64 lower-case hex digits or null")
    size = value.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadLine(f"{where}size: not a whole number of bytes")
    try:
        chart = NewChart(
            _text(value, "url"),
            _text(value, "filename"),
            _text(value, "content_type"),
            size,
        )
    except BadLine as exc:
        raise BadLine(f"{where}{exc}") from None
    added = _instant(value, "added_at", where) if value.get("added_at") is not None else created
    return MovedChart(chart.url, chart.filename, chart.content_type, size, added), sha

"""The records every layer passes around: who asks, where, a plan, its charts and its history.

Plain frozen dataclasses at the bottom of the layers: they know nothing of storage, Discord or
HTTP. Strings that come from Discord are cleaned as a record is built, so what is stored is the
same on SQLite and PostgreSQL and always fits its column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app import text_rules

# Column sizes (the storage models use them too): PostgreSQL refuses a longer string, SQLite not.
ID_MAX = 20  # Discord ids are 64-bit snowflakes, kept as text as Discord sends them
NAME_MAX = 100
CHANNEL_MAX = 100
FILENAME_MAX = 255
CONTENT_TYPE_MAX = 100

# What time it is, as an aware datetime. One clock, given by the composition root
# (app/runtime) to everything that stamps or reads the time, so tests set it instead of waiting.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a Discord user id and the name shown beside their plans."""

    id: str
    name: str

    def __post_init__(self) -> None:
        # Cleaned however it was built, so it is stored alike on SQLite and PostgreSQL.
        identity = text_rules.storable(self.id, ID_MAX)
        object.__setattr__(self, "id", identity)
        object.__setattr__(self, "name", text_rules.one_line(self.name, NAME_MAX) or identity)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a plan was posted."""

    guild_id: str | None = None
    channel_id: str | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        for name in ("guild_id", "channel_id"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, text_rules.storable(value, ID_MAX) or None)
        object.__setattr__(self, "channel", text_rules.one_line(self.channel, CHANNEL_MAX))


@dataclass(frozen=True, slots=True)
class NewChart:
    """A chart attached to a command, before it is stored."""

    url: str
    filename: str
    content_type: str
    size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", text_rules.storable(self.url))
        filename = text_rules.one_line(self.filename, FILENAME_MAX) or "chart"
        object.__setattr__(self, "filename", filename)
        content_type = text_rules.storable(self.content_type, CONTENT_TYPE_MAX)
        object.__setattr__(self, "content_type", content_type)


@dataclass(frozen=True, slots=True)
class Chart:
    id: int
    plan_id: int
    url: str  # where it came from (Discord's CDN); the API hands out /charts/{id} instead
    filename: str
    content_type: str
    size: int
    stored_path: str | None
    added_at: datetime
    failed_reason: str | None = None  # refused for good: never downloaded again


BIASES = ("long", "short", "neutral")


def json_number(value: float) -> float | int:
    # 950 stays 950 in JSON, not 950.0: the number as the trader wrote it.
    return int(value) if float(value).is_integer() else value


def price_text(value: float) -> str:
    """A price as a trader writes it: 950, 948.5, 4500.25."""
    return str(json_number(value))


@dataclass(frozen=True, slots=True)
class Levels:
    """A plan's levels: tickers, bias, entry (a price is a zone of one price), stop, targets.

    `source` says where they came from: "given" (the command's options), "extracted" (read from
    the text) or "none" (neither).
    """

    tickers: tuple[str, ...] = ()
    bias: str | None = None
    entry: tuple[float, float] | None = None  # (low, high)
    stop: float | None = None
    targets: tuple[float, ...] = ()
    source: str = "none"

    def is_empty(self) -> bool:
        stated = (self.tickers, self.bias, self.entry, self.targets)
        return not any(stated) and self.stop is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tickers": list(self.tickers),
            "bias": self.bias,
            "entry": None
            if self.entry is None
            else {"low": json_number(self.entry[0]), "high": json_number(self.entry[1])},
            "stop": None if self.stop is None else json_number(self.stop),
            "targets": [json_number(target) for target in self.targets],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Levels:
        entry = data.get("entry")
        stop = data.get("stop")
        return cls(
            tickers=tuple(str(t) for t in data.get("tickers") or ()),
            bias=data.get("bias"),
            entry=None if not entry else (float(entry["low"]), float(entry["high"])),
            stop=None if stop is None else float(stop),
            targets=tuple(float(t) for t in data.get("targets") or ()),
            source=str(data.get("source") or "none"),
        )


NO_LEVELS = Levels()


@dataclass(frozen=True, slots=True)
class Deletion:
    """Who deleted a plan, and when."""

    by: str  # the name they had then
    by_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    coach: str
    date: date
    text: str
    author: str
    author_id: str
    guild_id: str | None
    channel: str | None
    channel_id: str | None
    created_at: datetime
    edited_at: datetime | None
    version: int
    is_deleted: bool
    charts: tuple[Chart, ...] = ()
    deletion: Deletion | None = None  # set on a deleted plan
    # None: stored before levels were recorded; the rules read them from the text
    # (app/plans/service.py).
    levels: Levels | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    plan_text: str
    edited_by: str
    edited_by_id: str
    edited_at: datetime


@dataclass(frozen=True, slots=True)
class Usage:
    """What one member, and their whole guild, posted since an instant: new plans (edits are
    not new plans) and the declared bytes of the charts attached, by /plan and /edit alike."""

    member_plans: int = 0
    member_chart_bytes: int = 0
    guild_plans: int = 0
    guild_chart_bytes: int = 0


@dataclass(frozen=True, slots=True)
class DailyQuota:
    """A command's posting counted against its member's and guild's day: inside the write's
    transaction, `check` is handed what they posted since `since` (the day's start) and raises
    to refuse; otherwise the posting (`plans` new plans, `chart_bytes` of charts) is recorded
    as theirs."""

    since: datetime
    plans: int
    chart_bytes: int
    check: Callable[[Usage], None]
    limited: bool = True  # False: no daily limit is set, and `check` needs no usage read


class HistoryPage(list[HistoryEntry]):
    """Some of a plan's earlier texts, newest first, and how many it has in all (`total`):
    a long history is read a page at a time."""

    def __init__(self, entries: list[HistoryEntry], total: int) -> None:
        super().__init__(entries)
        self.total = total

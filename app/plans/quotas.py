"""Bounds on what commands post: the dates a new plan may have, and each member's and each
guild's daily quotas of new plans and of chart bytes.

A day is a calendar day of the guild's time zone, midnight to midnight: the counts start again
at its midnight, which every refusal names. Edits are not new plans, but the charts they attach
count. Only the plan service's command writes apply these rules (app/plans/service.py); storage does
not, so plans moved in from elsewhere are bound by none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.errors import BadDate, QuotaExceeded
from app.records import DailyQuota, Usage

MB = 1024 * 1024  # as MAX_CHART_BYTES and Discord's declared attachment sizes count


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of PLAN_DAYS_BACK/AHEAD and the *_PER_DAY settings; 0 turns one off (the
    default here: a service built without limits is bound by none)."""

    days_back: int = 0
    days_ahead: int = 0
    member_plans: int = 0
    guild_plans: int = 0
    member_chart_bytes: int = 0
    guild_chart_bytes: int = 0


NO_LIMITS = Limits()


def check_date(day: date, today: date, limits: Limits, zone: ZoneInfo) -> None:
    """A new plan's date lies within the window around today (in the guild's time zone)."""
    back, ahead = limits.days_back, limits.days_ahead
    earliest = today - timedelta(days=back) if back else None
    latest = today + timedelta(days=ahead) if ahead else None
    if (earliest is None or day >= earliest) and (latest is None or day <= latest):
        return
    now = f"today being {today} in {zone.key}"
    if earliest is not None and latest is not None:
        span = f"{_days(back)} back to {_days(ahead)} ahead"
        allowed = f"from {earliest} to {latest} ({span}, {now})"
    elif earliest is not None:
        allowed = f"{earliest} or later (at most {_days(back)} back, {now})"
    else:
        allowed = f"{latest} or earlier (at most {_days(ahead)} ahead, {now})"
    raise BadDate(f"{day} is out of range: a new plan's date must be {allowed}.")


def day_of(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end (UTC) of the day of `zone` that `now` falls in."""
    local = now.astimezone(zone).date()
    start = datetime.combine(local, time(), zone)
    end = datetime.combine(local + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def daily(
    limits: Limits, now: datetime, zone: ZoneInfo, *, plans: int, chart_bytes: int
) -> DailyQuota:
    """The quota a command's write is checked against: `plans` new plans (1 or 0) and
    `chart_bytes` of charts, on top of what its member and guild posted earlier today."""
    start, end = day_of(now, zone)
    resets = f"at midnight {zone.key}, when the day's count starts again"

    def refuse(message: str) -> None:
        raise QuotaExceeded(message, resets_at=end)

    def check(used: Usage) -> None:
        if plans and limits.member_plans and used.member_plans + plans > limits.member_plans:
            refuse(
                f"You have posted {_plans(used.member_plans)} in this server today ({zone.key}); "
                f"a member may post {limits.member_plans} per day (edits do not count). "
                f"You can post new plans again {resets}."
            )
        if plans and limits.guild_plans and used.guild_plans + plans > limits.guild_plans:
            refuse(
                f"This server has had {_plans(used.guild_plans)} today ({zone.key}); it may get "
                f"{limits.guild_plans} per day (edits do not count). New plans can be posted "
                f"again {resets}."
            )
        if not chart_bytes:
            return
        mine, ours = used.member_chart_bytes, used.guild_chart_bytes
        if limits.member_chart_bytes and mine + chart_bytes > limits.member_chart_bytes:
            refuse(
                f"These charts ({_mb(chart_bytes)}) would take you past the "
                f"{_mb(limits.member_chart_bytes)} of charts a member may attach per day: you "
                f"have attached {_mb(mine)} in this server today ({zone.key}). "
                f"Attach at most {_mb(max(limits.member_chart_bytes - mine, 0))} more, "
                f"or wait until midnight {zone.key}, when the day's count starts again."
            )
        if limits.guild_chart_bytes and ours + chart_bytes > limits.guild_chart_bytes:
            refuse(
                f"These charts ({_mb(chart_bytes)}) would take this server past the "
                f"{_mb(limits.guild_chart_bytes)} of charts it may get per day: its members "
                f"have attached {_mb(ours)} today ({zone.key}). "
                f"Attach at most {_mb(max(limits.guild_chart_bytes - ours, 0))} more, "
                f"or wait until midnight {zone.key}, when the day's count starts again."
            )

    limited = any(
        (limits.member_plans, limits.guild_plans, limits.member_chart_bytes,
         limits.guild_chart_bytes)
    )  # fmt: skip
    return DailyQuota(start, plans, chart_bytes, check, limited)


def _plans(count: int) -> str:
    return "1 new plan" if count == 1 else f"{count} new plans"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"

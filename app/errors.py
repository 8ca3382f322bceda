"""Refusals of the plan rules: each carries the sentence a user reads, mapped once to a Discord
answer (an ephemeral message) and once to an HTTP error (status and code)."""

from __future__ import annotations

from datetime import date, datetime


class PlanError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownCoach(PlanError):
    code = "unknown_coach"


class BadDate(PlanError):
    code = "bad_date"


class BadText(PlanError):
    code = "bad_text"


class GuildRequired(PlanError):
    """The request does not say which guild (Discord server) it is about, and it is not clear."""

    code = "guild_required"


class TooManyCharts(PlanError):
    code = "too_many_charts"


class BadChart(PlanError):
    code = "bad_chart"


class PlanExists(PlanError):
    status = 409
    code = "plan_exists"

    def __init__(self, coach: str, day: date) -> None:
        super().__init__(f"Coach {coach} already has a plan for {day}.")
        self.coach, self.day = coach, day


class StaleVersion(PlanError):
    status = 409
    code = "stale_version"


class AlreadyHandled(PlanError):
    """The same request (by its idempotency key) was carried out before."""

    status = 409
    code = "already_handled"


class NotAuthor(PlanError):
    status = 403
    code = "not_author"


class PlanNotFound(PlanError):
    status = 404
    code = "plan_not_found"
    # Set when the plan was looked up by coach and date: the answer can say how to post one.
    coach: str | None = None
    day: date | None = None

    @classmethod
    def for_plan(cls, coach: str, day: date) -> PlanNotFound:
        missing = cls(f"Coach {coach} has no plan for {day}.")
        missing.coach, missing.day = coach, day
        return missing


class ChartNotFound(PlanError):
    status = 404
    code = "chart_not_found"


class StorageUnavailable(PlanError):
    """The database cannot be written or read right now (read-only file, disk full, server down)."""

    status = 503
    code = "storage_unavailable"


class BadLevels(PlanError):
    """A level option that is not what it should be: a stop that is not a price, a zone
    written backwards, a bias other than long, short or neutral."""

    code = "bad_levels"


class QuotaExceeded(PlanError):
    """A member or a guild reached a daily limit on new plans or chart bytes."""

    status = 429
    code = "quota_exceeded"

    def __init__(self, message: str, resets_at: datetime) -> None:
        super().__init__(message)
        self.resets_at = resets_at  # when the day counted ends (UTC)

"""The blocking client: one pooled httpx.Client, safe to share between threads."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.client.cache import MISSING
from app.client.core import Call, ClientCore, DateLike
from app.client.errors import ApiError, ServiceUnavailable


class CoachPlansClient:
    def __init__(self, core: ClientCore, transport: httpx.BaseTransport | None = None) -> None:
        self._core = core
        self._http = httpx.Client(transport=transport, **core.http_options())

    @property
    def timezone(self) -> ZoneInfo:
        """The zone whose calendar says what a date is (TIMEZONE)."""
        return self._core.config.zone

    def fetch_coach_plan(
        self, coach: str, date: DateLike = None, as_of: datetime | str | None = None
    ) -> dict[str, Any] | None:
        """The coach's plan for the date (default today), or None when there is none.

        With `as_of` (an aware datetime), the text as it stood at that instant.
        """
        return self._fetch(self._core.plan_call(coach, date, as_of))  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_all_coach_plans(self, date: DateLike = None) -> list[dict[str, Any]]:
        """Every coach's plan for the date, ordered by coach."""
        return self._fetch(self._core.all_call(date))  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_plans_for_ticker(
        self, ticker: str, date: DateLike = None, as_of: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """The plans of the date (default today) whose levels name `ticker`, by coach; with
        `as_of` (an aware datetime), as they stood at that instant."""
        return self._fetch(self._core.ticker_call(ticker, date, as_of))  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_history(self, coach: str, date: DateLike = None) -> dict[str, Any] | None:
        """The plan's earlier texts, newest first; a deleted plan's too, with `deleted` saying
        who deleted it, when, and its last text. None when there is no plan, live or deleted."""
        return self._fetch(self._core.history_call(coach, date))  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_coaches(self) -> dict[str, Any]:
        """The guild's coaches (its roster, or the defaults) and its time zone: the JSON of
        /api/coach-plans/coaches."""
        return self._fetch(self._core.coaches_call())  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_outcome(self, coach: str, date: DateLike = None) -> dict[str, Any] | None:
        """What the market did with the coach's plan for the date (default today): the outcome
        dict (status `pending` until its session has closed), or None when there is no plan."""
        return self._fetch(self._core.outcome_call(coach, date))  # type: ignore[return-value]  # the call kind fixes the shape

    def fetch_scorecard(
        self, coach: str | None = None, days: int = 30, as_of: datetime | str | None = None
    ) -> dict[str, Any]:
        """Each coach's record (or one coach's) over the plans of the last `days` sessions
        that closed before `as_of` (an aware datetime; default now)."""
        return self._fetch(self._core.scorecard_call(coach, days, as_of))  # type: ignore[return-value]  # the call kind fixes the shape

    def agent_state(self, date: DateLike = None) -> dict[str, Any]:
        """`coach_<x>_plan`, `coach_<x>_charts`, `coach_<x>_levels` and `coach_<x>_record` (the
        record over the 30 sessions before the date, never the date's own) for every coach of
        the guild, <x> its name made a Python identifier."""
        unreachable = "the Coach Plans service could not be reached"
        try:
            roster: dict[str, Any] | None = self.fetch_coaches()
        except ServiceUnavailable:  # once: a second read would wait out a second deadline
            return self._core.agent_state(self._core.day(date), [], unreachable)
        except ApiError:  # a service older than rosters: COACHES
            roster = None
        day = self._core.state_day(date, roster)
        try:
            plans, reason = self.fetch_all_coach_plans(day), None
        except ServiceUnavailable:
            plans, reason = [], unreachable
        scorecard = None
        if reason is None:
            try:
                scorecard = self.fetch_scorecard(as_of=self._core.record_instant(day))
            except (ServiceUnavailable, ApiError):
                scorecard = None  # the plans still count without the records
        return self._core.agent_state(day, plans, reason, roster, scorecard)

    def check_health(self) -> dict[str, Any]:
        """The service's /health answer; one try, so it says how things are right now."""
        try:
            response, error = self._http.get("/health"), None
        except httpx.TransportError as exc:
            response, error = None, exc
        return self._core.health(response, error)

    def get_metrics(self) -> dict[str, Any]:
        """The service's /metrics plus this client's counters under "client"."""
        try:
            response = self._send(Call("metrics", "/metrics", {}, "metrics"))
        except ServiceUnavailable as failure:
            return self._core.metrics(None, failure)
        return self._core.metrics(response, None)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoachPlansClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _fetch(self, call: Call) -> object:
        found = self._core.cached(call)
        if found is not MISSING:
            return found
        try:
            response = self._send(call)
        except ServiceUnavailable as failure:
            return self._core.stale(call, failure)
        return self._core.accept(call, response)

    def _send(self, call: Call) -> httpx.Response:
        return self._core.read(lambda: self._http.get(call.path, params=call.params))

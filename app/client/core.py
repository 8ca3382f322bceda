"""What the blocking and the async client share: checking input, caching, judging answers,
retrying (app/retry.py's loop, blocking or async).

Neither does I/O here; each client only gives the one request of a `Call` this module describes,
so both behave the same by construction.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from app import defaults
from app.client.answers import api_error as _api_error
from app.client.answers import copy as _copy
from app.client.answers import instant as _instant
from app.client.answers import json_body as _json
from app.client.cache import MISSING, AnswerCache
from app.client.config import ClientConfig
from app.client.errors import InvalidRequest, ServiceUnavailable
from app.retry import Again, Backoff, GaveUp, Retry, RetryTime, is_transient

_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")


def identifier(name: str) -> str:
    """A coach name as it can stand in a Python identifier (`coach_<it>_plan`): a roster's
    names hold letters, digits, - and _, so `-` becomes `_`; anything else too."""
    return _NOT_IDENTIFIER.sub("_", name.strip().lower())


DateLike = date | str | None

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """One read: where to send it, and the cache key of its answer."""

    key: Hashable
    path: str
    params: dict[str, str]
    kind: str  # "plan", "all", "ticker" or "history": how to read the answer


@dataclass
class Counters:
    cache_hits: int = 0
    cache_misses: int = 0
    api_calls: int = 0  # HTTP requests sent, retries included
    errors: int = 0  # requests that failed: no answer, 429, 5xx, or a 4xx other than 404
    retries: int = 0
    stale_served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "cache_hits": self.cache_hits,
                "cache_misses": self.cache_misses,
                "api_calls": self.api_calls,
                "errors": self.errors,
                "retries": self.retries,
                "stale_served": self.stale_served,
            }


class ClientCore:
    def __init__(
        self,
        config: ClientConfig,
        timer: Callable[[], float] | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
        pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """`timer` (monotonic seconds) keeps the cache's ages and a read's deadline; `sleep` and
        `pause` wait between tries (blocking, async); tests pass a clock that moves when slept."""
        self.config = config
        # The wall clock decides what "today" is; tests move it across midnight.
        self._clock = clock or (lambda: datetime.now(UTC))
        self.cache = AnswerCache(
            ttl=config.cache_ttl_seconds,
            absent_ttl=config.absent_ttl_seconds,
            maxsize=config.max_cache_size,
            timer=timer or time.monotonic,
        )
        self.counters = Counters()
        real = RetryTime()
        waits = RetryTime(timer or real.clock, sleep or real.sleep, pause or real.pause)
        # A retry is made only when the wait and a whole try still end within the read's
        # deadline, so a read never outlasts it.
        self.backoff = Backoff(
            config.reconnect_attempts,
            config.reconnect_delay_seconds,
            deadline=config.deadline_seconds,
            try_seconds=self.try_timeout,
            time=waits,
        )

    def http_options(self) -> dict[str, Any]:
        headers = {"User-Agent": "coach-plans-client", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return {
            "base_url": self.config.api_base_url,
            "headers": headers,
            "timeout": httpx.Timeout(self.try_timeout),
        }

    @property
    def try_timeout(self) -> float:
        """Seconds one request may take: CONNECTION_TIMEOUT, or less when a read's whole
        deadline is shorter."""
        deadline = self.config.deadline_seconds
        timeout = self.config.connection_timeout
        return timeout if deadline is None else min(timeout, deadline)

    # --- input ------------------------------------------------------------------------------

    def today(self) -> date:
        return self._clock().astimezone(self.config.zone).date()

    def day(self, value: DateLike) -> date:
        """The date asked for; None is today where the coaches trade (TIMEZONE)."""
        if value is None:
            return self.today()
        if isinstance(value, datetime):
            raise InvalidRequest(
                "date takes a date, not a datetime; use as_of= to read a plan at an instant"
            )
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidRequest(f"date {value!r} is not a date in the form YYYY-MM-DD") from None

    def coach(self, name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest("coach must be a coach's name, e.g. 'd'")
        coach = name.strip().lower()
        known = self.config.coaches
        if known is not None and coach not in known:
            raise InvalidRequest(f"unknown coach {name!r}; the coaches are {', '.join(known)}")
        return coach

    def plan_call(self, coach: str, day: DateLike, as_of: datetime | str | None) -> Call:
        name, when = self.coach(coach), self.day(day).isoformat()
        if as_of is None:
            params = self._query(coach=name, date=when)
            return Call(("plan", name, when), "/api/coach-plans/", params, "plan")
        instant = _instant(as_of)
        params = self._query(coach=name, date=when, as_of=instant)
        return Call(("plan", name, when, instant), "/api/coach-plans/", params, "plan")

    def all_call(self, day: DateLike) -> Call:
        when = self.day(day).isoformat()
        return Call(("all", when), "/api/coach-plans/all", self._query(date=when), "all")

    def ticker_call(self, ticker: str, day: DateLike, as_of: datetime | str | None) -> Call:
        if not isinstance(ticker, str) or not ticker.strip():
            raise InvalidRequest("ticker must be a symbol, e.g. 'SPY'")
        symbol, when = ticker.strip().lstrip("$").upper(), self.day(day).isoformat()
        params = self._query(ticker=symbol, date=when)
        if as_of is not None:
            params["as_of"] = _instant(as_of)
        key = ("ticker", symbol, when, params.get("as_of"))
        return Call(key, "/api/coach-plans/by-ticker", params, "ticker")

    def history_call(self, coach: str, day: DateLike) -> Call:
        name, when = self.coach(coach), self.day(day).isoformat()
        params = self._query(coach=name, date=when)
        return Call(("history", name, when), "/api/coach-plans/history", params, "history")

    def coaches_call(self) -> Call:
        return Call(("coaches",), "/api/coach-plans/coaches", self._query(), "coaches")

    def state_day(self, value: DateLike, roster: dict[str, Any] | None) -> date:
        """The state's date: as given, else today in the guild's time zone (from its roster
        answer), else in TIMEZONE."""
        if value is None and roster is not None:
            try:
                return self._clock().astimezone(ZoneInfo(str(roster["timezone"]))).date()
            except (KeyError, ValueError, ZoneInfoNotFoundError):
                pass
        return self.day(value)

    def outcome_call(self, coach: str, day: DateLike) -> Call:
        name, when = self.coach(coach), self.day(day).isoformat()
        params = self._query(coach=name, date=when)
        return Call(("outcome", name, when), "/api/coach-plans/outcome", params, "outcome")

    def scorecard_call(self, coach: str | None, days: int, as_of: datetime | str | None) -> Call:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
            raise InvalidRequest("days must be a whole number from 1 to 365")
        params = self._query(days=str(days))
        if coach is not None:
            params["coach"] = self.coach(coach)
        if as_of is not None:
            params["as_of"] = _instant(as_of)
        key = ("scorecard", params.get("coach"), days, params.get("as_of"))
        return Call(key, "/api/coach-plans/scorecard", params, "scorecard")

    def record_instant(self, day: date) -> datetime:
        """The start of `day` where the coaches trade: a record as of then holds only the
        sessions before it, never that day's own outcomes."""
        return datetime.combine(day, datetime.min.time(), tzinfo=self.config.zone)

    def _query(self, **params: str) -> dict[str, str]:
        # One client reads one guild, so the cache keys need not name it.
        if self.config.guild_id is not None:
            params["guild"] = self.config.guild_id
        return params

    # --- cache and answers -------------------------------------------------------------------

    def cached(self, call: Call) -> object:
        found = self.cache.get(call.key)
        self.counters.add("cache_misses" if found is MISSING else "cache_hits")
        return _copy(found)

    def read(self, get: Callable[[], httpx.Response]) -> httpx.Response:
        """The answer to `get` (one request), retried as the policy says; raises
        ServiceUnavailable when no try got one."""

        def one_try() -> httpx.Response:
            try:
                response, error = get(), None
            except httpx.TransportError as exc:
                response, error = None, exc
            return self._judge(response, error)

        try:
            return self.backoff.run(one_try, self._retrying)
        except GaveUp as gave_up:
            self._give_up(gave_up)

    async def read_async(self, get: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """The async twin of `read`."""

        async def one_try() -> httpx.Response:
            try:
                response, error = await get(), None
            except httpx.TransportError as exc:
                response, error = None, exc
            return self._judge(response, error)

        try:
            return await self.backoff.run_async(one_try, self._retrying)
        except GaveUp as gave_up:
            self._give_up(gave_up)

    def _judge(self, response: httpx.Response | None, error: Exception | None) -> httpx.Response:
        """After one try: the response to use; Again when another try may do better."""
        self.counters.add("api_calls")
        if response is not None and not is_transient(response.status_code):
            if response.status_code >= 400 and response.status_code != 404:
                self.counters.add("errors")
            return response
        self.counters.add("errors")
        if response is None:
            raise Again(f"{type(error).__name__}: {error}")
        raise Again(f"HTTP {response.status_code}", response)

    def _retrying(self, retry: Retry) -> None:
        self.counters.add("retries")

    def _give_up(self, gave_up: GaveUp) -> NoReturn:
        why = gave_up.last.why
        if gave_up.deadline is None:
            how = f"after {gave_up.tries} tries (last: {why})"
        else:
            how = (
                f"within its {gave_up.deadline:g} s deadline ({gave_up.tries} tries in "
                f"{gave_up.elapsed:.1f} s; last: {why})"
            )
        message = f"Coach Plans at {self.config.api_base_url} did not answer {how}"
        log.warning("%s; giving up", message)
        raise ServiceUnavailable(message) from None

    def accept(self, call: Call, response: httpx.Response) -> object:
        """Turn the service's answer into the caller's value, caching it."""
        if response.status_code == 404 and call.kind in ("plan", "history", "outcome"):
            value: object = None  # no such plan: a real, cacheable answer
        elif response.status_code == 200:
            body = _json(response)
            value = body["plans"] if call.kind in ("all", "ticker") else body
        else:
            raise _api_error(response)
        self.cache.put(call.key, value)
        return _copy(value)

    def stale(self, call: Call, failure: ServiceUnavailable) -> object:
        """The last known answer, flagged stale, when the service cannot be reached."""
        known = self.cache.last_known(call.key)
        if known is MISSING:
            raise failure
        self.counters.add("stale_served")
        if isinstance(known, list):
            return [{**item, "stale": True} for item in known]
        if isinstance(known, dict):
            return {**known, "stale": True}
        return None

    # --- shapes for callers -------------------------------------------------------------------

    def agent_state(
        self,
        day: date,
        plans: list[dict[str, Any]],
        reason: str | None,
        roster: dict[str, Any] | None = None,
        scorecard: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """TradingAgents state keys for every coach of the guild (its roster, when the service
        gave it, else COACHES): `coach_<x>_plan`, `coach_<x>_charts`, `coach_<x>_levels` (the
        plan's levels, or None) and `coach_<x>_record` (the coach's scorecard line over the 30
        sessions before `day`, or None), <x> the coach's name made a Python identifier."""
        records = {row["coach"]: row for row in (scorecard or {}).get("coaches", [])}
        by_coach = {plan["coach"]: plan for plan in plans}
        if roster is not None:
            coaches = [str(coach["name"]) for coach in roster.get("coaches", [])]
        else:
            coaches = list(self.config.coaches or defaults.COACHES)
        coaches += [name for name in by_coach if name not in coaches]
        state: dict[str, Any] = {}
        for name in coaches:
            plan = by_coach.get(name)
            key = identifier(name)
            if plan is not None:
                state[f"coach_{key}_plan"] = plan["plan"]
                state[f"coach_{key}_charts"] = [chart["url"] for chart in plan["charts"]]
                state[f"coach_{key}_levels"] = plan.get("levels")
            else:
                why = f": {reason}" if reason else ""
                state[f"coach_{key}_plan"] = f"No plan from coach {name} for {day}{why}."
                state[f"coach_{key}_charts"] = []
                state[f"coach_{key}_levels"] = None
            state[f"coach_{key}_record"] = records.get(name)
        return state

    def metrics(self, response: httpx.Response | None, failure: Exception | None) -> dict[str, Any]:
        """The service's counters (when it answered) with this client's under "client"."""
        body: dict[str, Any] = {}
        if response is not None and response.status_code == 200:
            body.update(_json(response))
        elif response is not None:
            failure = _api_error(response)
        if failure is not None:
            body["error"] = str(failure)
        body["client"] = self.counters.snapshot()
        return body

    def health(self, response: httpx.Response | None, error: Exception | None) -> dict[str, Any]:
        self.counters.add("api_calls")
        if response is None:
            self.counters.add("errors")
            return {"status": "unreachable", "error": f"{type(error).__name__}: {error}"}
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            self.counters.add("errors")
            return {"status": "unhealthy", "error": f"HTTP {response.status_code} without JSON"}
        return body

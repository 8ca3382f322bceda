"""The plan rules: what input is valid, who may post, edit and delete, and every earlier version
kept.

Knows nothing of Discord, HTTP or SQL: it validates, decides, and asks the repository
(app/storage/repository.py) to read and write. Every check of a write's input lives here, once:
commands hand their options over as typed and turn the refusals (app/errors.py) into answers.
Methods are synchronous (callers run them in worker threads) and return the frozen records of
app/records.py.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from app import text_rules
from app.errors import (
    BadDate,
    BadLevels,
    BadText,
    ChartNotFound,
    GuildRequired,
    NotAuthor,
    PlanNotFound,
    TooManyCharts,
    UnknownCoach,
)
from app.plans import levels as level_rules
from app.plans import quotas
from app.plans.extraction import extract
from app.plans.levels import NOT_GIVEN, GivenLevels
from app.plans.quotas import NO_LIMITS, Limits
from app.records import (
    Actor,
    Chart,
    Clock,
    DailyQuota,
    HistoryPage,
    Levels,
    NewChart,
    Place,
    Plan,
    system_clock,
)

if TYPE_CHECKING:
    from app.storage.repository import PlanRepository

MAX_TEXT = 4000  # Discord's longest text input, so a plan always fits the modal editor
_TICKER = re.compile(level_rules.TICKER)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # \d would take other scripts' digits
_NOWHERE = Place()  # refused: a plan belongs to a guild
# Earlier texts read at once: the newest, however long a history grows (REST pages on).
HISTORY_PAGE = 100


def _unbound(coach: str) -> bool:
    return False


# --- who may --------------------------------------------------------------------------------------


def check_may_edit(plan: Plan, editor: Actor, bound: bool = False) -> None:
    """The author (by Discord id) edits a plan, and so does a member bound to its coach on the
    guild's roster (`bound`)."""
    if plan.author_id != editor.id and not bound:
        raise NotAuthor(
            f"Only {plan.author}, who posted coach {plan.coach}'s plan for {plan.date}, "
            "can edit it."
        )


def check_may_delete(plan: Plan, actor: Actor, moderator: bool, bound: bool = False) -> None:
    """The author deletes a plan, and so do a moderator of the plan's own guild and a member
    bound to its coach on the guild's roster."""
    if plan.author_id != actor.id and not moderator and not bound:
        raise NotAuthor(
            f"Only {plan.author}, who posted coach {plan.coach}'s plan for {plan.date}, or a "
            "moderator (Manage Messages) can delete it."
        )


def _guild(guild_id: str | None) -> str:
    """Every plan belongs to a guild (a Discord server): its community's plans are its own."""
    if not guild_id:
        raise GuildRequired("A plan belongs to a server: post it in a server's channel.")
    return guild_id


class PlanService:
    def __init__(
        self,
        repository: PlanRepository,
        *,
        coaches: Sequence[str],
        timezone: ZoneInfo,
        max_charts: int = 10,
        limits: Limits = NO_LIMITS,  # bounds on what commands post: none unless given
        clock: Clock = system_clock,  # what day is today, and when today's quotas end
    ) -> None:
        self.repository = repository
        self.coaches = tuple(coaches)
        self.retired: tuple[str, ...] = ()  # readable, not listed (within)
        self._rank = {name: n for n, name in enumerate(self.coaches)}
        self.timezone = timezone
        self.max_charts = max_charts
        self.limits = limits
        self.clock = clock

    def within(
        self, coaches: Sequence[str], timezone: ZoneInfo, retired: Sequence[str] = ()
    ) -> PlanService:
        """The same rules over another coach list and time zone: a guild's own setup
        (app/community). `retired` names coaches no longer listed whose plans stay readable."""
        view = copy.copy(self)
        view.coaches = tuple(coaches)
        view.retired = tuple(name for name in retired if name not in view.coaches)
        view._rank = {name: n for n, name in enumerate((*view.coaches, *view.retired))}
        view.timezone = timezone
        return view

    # --- writes --------------------------------------------------------------------------------

    def post(
        self,
        coach: str | None,
        day: date | str | None,
        text: str | None,
        author: Actor,
        *,
        place: Place = _NOWHERE,
        charts: Sequence[NewChart] = (),
        levels: GivenLevels = NOT_GIVEN,
        once: str | None = None,
        may_post: Callable[[str], None] | None = None,
    ) -> Plan:
        """A new plan in `place`'s guild; `may_post(coach)` raises when the author may not post
        as that coach (the guild's roster); `once` is an idempotency key: the same request
        delivered twice (to two workers, or two instances) is carried out once. Levels not
        given are read from the text (app/plans/levels.py). Its date must lie in the window around
        today, and it counts against its author's and guild's daily quotas (app/plans/quotas.py)."""
        coach, day, text = self.coach(coach), self.day(day), self.text(text)
        if may_post is not None:
            may_post(coach)
        changes = level_rules.check(levels)
        guild = _guild(place.guild_id)
        quotas.check_date(day, self.today(), self.limits, self.timezone)
        self._check_chart_count(0, len(charts))
        stored = level_rules.resolve(text, changes)
        quota = self._quota(1, charts)
        plan = self.repository.insert(
            guild, coach, day, text, author, place, charts, once, stored, quota
        )
        return _with_levels(plan)

    def edit(
        self,
        guild: str,
        coach: str | None,
        day: date | str | None,
        editor: Actor,
        *,
        text: str | None = None,
        charts: Sequence[NewChart] = (),
        levels: GivenLevels = NOT_GIVEN,
        expected_version: int | None = None,
        plan_id: int | None = None,
        once: str | None = None,
        bound: Callable[[str], bool] = _unbound,
    ) -> Plan:
        """Change the text, levels and/or add charts; the version replaced goes to history."""
        coach, day = self.coach(coach), self.day(day)
        changes = level_rules.check(levels)  # parsed once, here, for every way in
        new_text = None if text is None else self.text(text)
        if new_text is None and not charts and not changes.any():
            raise BadText("Nothing to change: give new text, levels or a chart.")

        def check(current: Plan, existing_charts: int) -> None:
            check_may_edit(current, editor, bound(coach))
            self._check_chart_count(existing_charts, len(charts))

        def new_levels(current: Plan) -> Levels | None:
            if new_text is None and not changes.any():
                return current.levels  # charts only: the version's levels stay as stored
            return level_rules.resolve(new_text or current.text, changes, current.levels)

        plan = self.repository.update(
            guild,
            coach,
            day,
            check=check,
            editor=editor,
            text=new_text,
            charts=charts,
            levels=new_levels,
            expected_version=expected_version,
            plan_id=plan_id,
            once=once,
            quota=self._quota(0, charts) if charts else None,  # added charts count, text not
        )
        return _with_levels(plan)

    def delete(
        self,
        guild: str,
        coach: str | None,
        day: date | str | None,
        actor: Actor,
        *,
        moderator: bool = False,
        expected_version: int | None = None,
        plan_id: int | None = None,
        once: str | None = None,
        bound: Callable[[str], bool] = _unbound,
    ) -> Plan:
        """Soft delete: the plan leaves every list and frees its coach and date."""
        coach, day = self.coach(coach), self.day(day)
        return self.repository.soft_delete(
            guild,
            coach,
            day,
            check=lambda current, _: check_may_delete(current, actor, moderator, bound(coach)),
            actor=actor,
            expected_version=expected_version,
            plan_id=plan_id,
            once=once,
        )

    def mark_archived(self, chart_id: int, stored_path: str) -> None:
        self.repository.mark_archived(chart_id, stored_path)

    def mark_failed(self, chart_id: int, reason: str) -> None:
        """The chart can never be archived: say why, and leave it out of every retry."""
        self.repository.mark_failed(chart_id, reason)

    def _quota(self, plans: int, charts: Sequence[NewChart]) -> DailyQuota:
        size = sum(chart.size for chart in charts)
        return quotas.daily(self.limits, self.clock(), self.timezone, plans=plans, chart_bytes=size)

    # --- reads -------------------------------------------------------------------------------

    def get(self, guild: str, coach: str | None, day: date | str | None) -> Plan:
        """The guild's live plan for a coach and date."""
        coach, day = self.coach(coach), self.day(day)
        found = self.repository.live(guild, coach, day)
        if found is None:
            raise PlanNotFound.for_plan(coach, day)
        return _with_levels(found)

    def editable(
        self,
        guild: str,
        coach: str | None,
        day: date | str | None,
        editor: Actor,
        bound: Callable[[str], bool] = _unbound,
    ) -> Plan:
        """The live plan, for `editor` to open in the editor: its author may, and a member
        bound to its coach (`bound(coach)`, the guild's roster)."""
        plan = self.get(guild, coach, day)
        check_may_edit(plan, editor, bound(plan.coach))
        return plan

    def deletable(
        self,
        guild: str,
        coach: str | None,
        day: date | str | None,
        actor: Actor,
        moderator: bool,
        bound: Callable[[str], bool] = _unbound,
    ) -> Plan:
        """The live plan, for `actor` to confirm its deletion: its author, a member bound to its
        coach, or a moderator."""
        plan = self.get(guild, coach, day)
        check_may_delete(plan, actor, moderator, bound(plan.coach))
        return plan

    def get_by_id(self, guild: str, plan_id: int) -> Plan:
        """A plan of this guild by id, deleted or not (buttons and modals carry ids)."""
        found = self.repository.by_id(guild, plan_id)
        if found is None:
            raise PlanNotFound(f"There is no plan #{plan_id}.")
        return _with_levels(found)

    def as_of(self, guild: str, coach: str, day: date | str | None, instant: datetime) -> Plan:
        """The plan as it stood at `instant`: its text then, and only the charts it had then."""
        coach, day = self.coach(coach), self.day(day)
        instant = instant.astimezone(UTC)
        found = self.repository.as_of(guild, coach, day, instant)
        if found is None:
            raise PlanNotFound(f"Coach {coach} had no plan for {day} at {instant.isoformat()}.")
        return _with_levels(found)

    def by_ticker(
        self, guild: str, ticker: str, day: date | str | None, instant: datetime | None = None
    ) -> list[Plan]:
        """The plans of a date whose levels name `ticker`, by coach; with `instant`, as they
        stood then (an edit made later is never seen)."""
        symbol, day = self.ticker(ticker), self.day(day)
        if instant is None:
            found = self.list_by_date(guild, day)
        else:
            stood = self.repository.all_as_of(guild, day, instant.astimezone(UTC))
            found = self._in_coach_order([_with_levels(plan) for plan in stood])
        return [plan for plan in found if plan.levels and symbol in plan.levels.tickers]

    def list_by_date(self, guild: str, day: date | str | None) -> list[Plan]:
        """The guild's live plans for one date, by coach."""
        return self._in_coach_order(
            [_with_levels(p) for p in self.repository.by_date(guild, self.day(day))]
        )

    def list_by_author(self, guild: str, author_id: str, day: date | str | None) -> list[Plan]:
        """An author's live plans in one guild for one date, by coach."""
        found = self.repository.by_author(guild, author_id, self.day(day))
        return self._in_coach_order([_with_levels(p) for p in found])

    def _in_coach_order(self, plans: list[Plan]) -> list[Plan]:
        """In COACHES order, the order the commands offer them (names outside it go last)."""
        last = len(self._rank)
        return sorted(plans, key=lambda plan: (self._rank.get(plan.coach, last), plan.coach))

    def history(
        self,
        guild: str,
        coach: str | None,
        day: date | str | None,
        limit: int = HISTORY_PAGE,
        before: datetime | None = None,
    ) -> tuple[Plan, HistoryPage]:
        """The live plan, else the last one deleted (see `deletion`); up to `limit` earlier texts
        newest first (with `before`, those replaced before then), and how many there are."""
        coach, day = self.coach(coach), self.day(day)
        storage = self.repository
        found = storage.live(guild, coach, day) or storage.last_deleted(guild, coach, day)
        if found is None:
            raise PlanNotFound.for_plan(coach, day)
        return found, storage.history(found.id, limit, before)

    def history_of(self, guild: str, plan_id: int) -> tuple[Plan, HistoryPage]:
        """One plan by id, deleted or not, with its newest earlier texts: a card's History
        button shows that card's plan even after another took its coach and date."""
        found = self.repository.by_id(guild, plan_id)
        if found is None:
            raise PlanNotFound(f"There is no plan #{plan_id}.")
        return found, self.repository.history(found.id, HISTORY_PAGE)

    def dates_with_plans(
        self, guild: str, coach: str, typed: str = "", limit: int = 25, *, deleted: bool = False
    ) -> list[date]:
        """Dates with a plan for the coach, live (or, with `deleted`, deleted too), newest first."""
        coach, prefix = self.coach(coach), typed.strip()
        if not re.fullmatch(r"[0-9-]{0,10}", prefix):
            return []  # only digits and dashes: nothing else can start a date
        return self.repository.dates(guild, coach, prefix, limit, deleted)

    def guilds_with_plans(self, limit: int = 2) -> list[str]:
        """Up to `limit` guilds with plans: a read that names no guild may mean the only one."""
        return self.repository.guilds(limit)

    def known_guilds(self, limit: int = 2) -> list[str] | None:
        """guilds_with_plans from memory, with no database round trip; None when it must be
        asked (on the event loop: it never blocks)."""
        return self.repository.known_guilds.answer(limit)

    def chart(self, chart_id: int) -> Chart:
        """A chart of a live plan."""
        found = self.repository.chart(chart_id)
        if found is None:
            raise ChartNotFound(f"There is no chart {chart_id}.")
        return found

    def unarchived_charts(self, limit: int = 100) -> list[Chart]:
        """Charts of live plans not downloaded yet and not refused for good (oldest first)."""
        return self.repository.unarchived_charts(limit)

    def counts(self) -> dict[str, int]:
        return self.repository.counts()

    # --- input ----------------------------------------------------------------------------------

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()

    def coach(self, name: str | None) -> str:
        """A coach name from COACHES (or a retired coach's, to read), whatever case it was
        typed in. A refusal lists the coaches now, not those retired."""
        wanted = (name or "").strip().lower()
        if wanted in self.coaches or wanted in self.retired:
            return wanted
        names = ", ".join(self.coaches) or "none yet"
        if not wanted:
            raise UnknownCoach(f"No coach given. Coaches are: {names}.")
        raise UnknownCoach(f"Unknown coach {name!r}. Coaches are: {names}.")

    def day(self, value: str | date | None) -> date:
        """A real calendar date in YYYY-MM-DD; none means today in TIMEZONE."""
        if value is None:
            return self.today()
        if isinstance(value, date):
            return value
        text = value.strip().lower()
        if text == "today":
            return self.today()
        if text == "yesterday":
            return self.today() - timedelta(days=1)
        example = self.today().isoformat()
        if not _DATE.fullmatch(text):
            raise BadDate(
                f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. {example} "
                "(or today, yesterday)."
            )
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadDate(
                f"{value!r} is not a real calendar date: write it as YYYY-MM-DD, e.g. {example}."
            ) from None

    @staticmethod
    def text(value: str | None) -> str:
        text = text_rules.multiline(value)
        if not text:  # nothing visible: whitespace, zero-width spaces, control characters
            raise BadText("The plan text is empty: write what you plan to trade.")
        if len(text) > MAX_TEXT:
            raise BadText(
                f"The plan text is {len(text)} characters; the limit is {MAX_TEXT}. "
                "Shorten it, or put details in chart images."
            )
        return text

    @staticmethod
    def ticker(value: str | None) -> str:
        """One symbol, upper case, without its `$`."""
        match = _TICKER.fullmatch(value or "")
        if match is None:
            raise BadLevels(f"{(value or '')[:20]!r} is not one ticker: name one, e.g. SPY.")
        return match[1].upper()

    def _check_chart_count(self, existing: int, adding: int) -> None:
        if existing + adding > self.max_charts:
            room = max(self.max_charts - existing, 0)
            raise TooManyCharts(
                f"A plan holds at most {self.max_charts} charts; this one has {existing} and "
                f"you added {adding}. Add at most {room}."
            )


def _with_levels(plan: Plan) -> Plan:
    """Plans stored before levels were recorded get the levels their text states."""
    return plan if plan.levels is not None else replace(plan, levels=extract(plan.text))

"""The plan rules: who may post, edit and delete, what is valid, and every earlier version kept.

Knows nothing of Discord or HTTP. Methods are synchronous (callers run them in worker threads)
and return frozen dataclasses built straight from rows: no ORM objects on the hot paths.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, String, bindparam, cast, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app import text_rules
from app.errors import (
    AlreadyHandled,
    BadDate,
    BadText,
    ChartNotFound,
    GuildRequired,
    NotAuthor,
    PlanExists,
    PlanNotFound,
    StaleVersion,
    StorageUnavailable,
    TooManyCharts,
    UnknownCoach,
)
from app.storage.database import PreparedRead, writer
from app.storage.models import CoachPlan, HandledRequest, PlanChart, PlanHistory

MAX_TEXT = 4000  # Discord's longest text input, so a plan always fits the modal editor
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # \d would take other scripts' digits

plans_t = CoachPlan.__table__  # type: ignore[attr-defined]
charts_t = PlanChart.__table__  # type: ignore[attr-defined]
history_t = PlanHistory.__table__  # type: ignore[attr-defined]
handled_t = HandledRequest.__table__  # type: ignore[attr-defined]
# Discord never delivers an interaction later than its token's 15 minutes; a day is ample.
KEY_LIFETIME = timedelta(days=1)
SWEEP_EVERY = 256  # claims
# Column sizes, so what is stored always fits (PostgreSQL refuses a longer string; SQLite not).
_ID_MAX = plans_t.c.author_id.type.length
_NAME_MAX = plans_t.c.author.type.length
_CHANNEL_MAX = plans_t.c.channel.type.length
_FILENAME_MAX = charts_t.c.filename.type.length
_CONTENT_TYPE_MAX = charts_t.c.content_type.type.length


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a Discord user id and the name shown beside their plans."""

    id: str
    name: str

    def __post_init__(self) -> None:
        # Cleaned however it was built, so it is stored alike on SQLite and PostgreSQL.
        identity = text_rules.storable(self.id, _ID_MAX)
        object.__setattr__(self, "id", identity)
        object.__setattr__(self, "name", text_rules.one_line(self.name, _NAME_MAX) or identity)


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
                object.__setattr__(self, name, text_rules.storable(value, _ID_MAX) or None)
        object.__setattr__(self, "channel", text_rules.one_line(self.channel, _CHANNEL_MAX))


@dataclass(frozen=True, slots=True)
class NewChart:
    url: str
    filename: str
    content_type: str
    size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", text_rules.storable(self.url))
        filename = text_rules.one_line(self.filename, _FILENAME_MAX) or "chart"
        object.__setattr__(self, "filename", filename)
        content_type = text_rules.storable(self.content_type, _CONTENT_TYPE_MAX)
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


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    plan_text: str
    edited_by: str
    edited_by_id: str
    edited_at: datetime


def _guild(guild_id: str | None) -> str:
    """Every plan belongs to a guild (a Discord server): its community's plans are its own."""
    if not guild_id:
        raise GuildRequired("A plan belongs to a server: post it in a server's channel.")
    return guild_id


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; we only ever store UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


_PLAN_COLUMNS = (
    plans_t.c.id,
    plans_t.c.coach_name,
    plans_t.c.date,
    plans_t.c.plan,
    plans_t.c.author,
    plans_t.c.author_id,
    plans_t.c.guild_id,
    plans_t.c.channel,
    plans_t.c.channel_id,
    plans_t.c.created_at,
    plans_t.c.edited_at,
    plans_t.c.version,
    plans_t.c.is_deleted,
)
_CHART_COLUMNS = (
    charts_t.c.id.label("chart_id"),
    charts_t.c.chart_url,
    charts_t.c.filename,
    charts_t.c.content_type,
    charts_t.c.size,
    charts_t.c.stored_path,
    charts_t.c.added_at,
    charts_t.c.failed_reason,
)
# A plan and its charts in one round trip.
_PLANS_WITH_CHARTS = select(*_PLAN_COLUMNS, *_CHART_COLUMNS).outerjoin(
    charts_t, charts_t.c.plan_id == plans_t.c.id
)
_LIVE = plans_t.c.is_deleted.is_(False)
_LIVE_CHARTS = (
    select(charts_t.c.plan_id, *_CHART_COLUMNS)
    .join(plans_t, plans_t.c.id == charts_t.c.plan_id)
    .where(_LIVE)
)


def _plans_from_rows(rows: Iterable, charts_until: datetime | None = None) -> list[Plan]:  # type: ignore[type-arg]
    """Fold plan+chart join rows (ordered by plan) into plans; keeps the rows' order."""
    plans: dict[int, tuple[object, list[Chart]]] = {}
    for row in rows:
        if row.id not in plans:
            plans[row.id] = (row, [])
        if row.chart_id is None:
            continue
        chart = _chart(row, plan_id=row.id)
        if charts_until is None or chart.added_at <= charts_until:
            plans[row.id][1].append(chart)
    return [_plan(row, sorted(charts, key=lambda c: c.id)) for row, charts in plans.values()]


def _chart(row, plan_id: int) -> Chart:  # type: ignore[no-untyped-def]
    return Chart(
        id=row.chart_id,
        plan_id=plan_id,
        url=row.chart_url,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        stored_path=row.stored_path,
        added_at=_utc(row.added_at),  # type: ignore[arg-type]
        failed_reason=row.failed_reason,
    )


def _plan(row, charts: Sequence[Chart] = ()) -> Plan:  # type: ignore[no-untyped-def]
    return Plan(
        id=row.id,
        coach=row.coach_name,
        date=row.date,
        text=row.plan,
        author=row.author,
        author_id=row.author_id,
        guild_id=row.guild_id,
        channel=row.channel,
        channel_id=row.channel_id,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        edited_at=_utc(row.edited_at),
        version=row.version,
        is_deleted=bool(row.is_deleted),
        charts=tuple(charts),
    )


def check_may_edit(plan: Plan, editor: Actor) -> None:
    """Only the author (by Discord id) edits a plan."""
    if plan.author_id != editor.id:
        raise NotAuthor(
            f"Only {plan.author}, who posted coach {plan.coach}'s plan for {plan.date}, "
            "can edit it."
        )


def check_may_delete(plan: Plan, actor: Actor, moderator: bool) -> None:
    """The author deletes a plan, and so does a moderator."""
    if plan.author_id != actor.id and not moderator:
        raise NotAuthor(
            f"Only {plan.author}, who posted coach {plan.coach}'s plan for {plan.date}, or a "
            "moderator (Manage Messages) can delete it."
        )


def _claim(connection: Connection, key: str, forget_old: bool) -> None:
    now = datetime.now(UTC)
    if forget_old:
        connection.execute(handled_t.delete().where(handled_t.c.handled_at < now - KEY_LIFETIME))
    try:
        connection.execute(handled_t.insert().values(key=key[:64], handled_at=now))
    except IntegrityError:
        raise AlreadyHandled(
            "This request was already carried out; nothing was done again."
        ) from None


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        # Read-only file, full disk, server down: say so plainly; nothing was half-saved.
        raise StorageUnavailable(
            "The plan store is unavailable right now, so nothing was saved or read. "
            "Try again in a minute."
        ) from exc


class PlanService:
    def __init__(
        self,
        engine: Engine,
        *,
        coaches: Sequence[str],
        timezone: ZoneInfo,
        max_charts: int = 10,
    ) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.coaches = tuple(coaches)
        self._rank = {name: n for n, name in enumerate(self.coaches)}
        self.timezone = timezone
        self.max_charts = max_charts
        self._claims = itertools.count()
        # The reads on hot paths (REST by key, /all, autocomplete), compiled once.
        self._by_key = PreparedRead(
            engine,
            _PLANS_WITH_CHARTS.where(
                plans_t.c.guild_id == bindparam("guild"),
                plans_t.c.coach_name == bindparam("coach"),
                plans_t.c.date == bindparam("day"),
                _LIVE,
            ),
        )
        self._by_date = PreparedRead(
            engine,
            _PLANS_WITH_CHARTS.where(
                plans_t.c.guild_id == bindparam("guild"), plans_t.c.date == bindparam("day"), _LIVE
            ).order_by(plans_t.c.coach_name, charts_t.c.id),
        )
        self._dates = PreparedRead(
            engine,
            select(plans_t.c.date)
            .where(
                plans_t.c.guild_id == bindparam("guild"),
                plans_t.c.coach_name == bindparam("coach"),
                _LIVE,
                cast(plans_t.c.date, String).like(bindparam("prefix")),
            )
            .order_by(plans_t.c.date.desc())
            .limit(bindparam("limit")),
        )
        # Which guilds have plans (deleted ones too, so the answer only ever grows).
        self._guilds = PreparedRead(
            engine,
            select(plans_t.c.guild_id)
            .where(plans_t.c.guild_id.is_not(None))
            .distinct()
            .limit(bindparam("limit")),
        )

    # --- input rules (no database) -------------------------------------------------------

    def today(self) -> date:
        return datetime.now(self.timezone).date()

    def coach(self, name: str | None) -> str:
        """A coach name from COACHES, whatever case it was typed in."""
        wanted = (name or "").strip().lower()
        if wanted in self.coaches:
            return wanted
        names = ", ".join(self.coaches)
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

    def _check_chart_count(self, existing: int, adding: int) -> None:
        if existing + adding > self.max_charts:
            room = max(self.max_charts - existing, 0)
            raise TooManyCharts(
                f"A plan holds at most {self.max_charts} charts; this one has {existing} and "
                f"you added {adding}. Add at most {room}."
            )

    # --- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, write: bool, once: str | None = None) -> Iterator[Connection]:
        """A transaction; with `once`, an idempotency key it claims first, so the same request
        delivered twice (to two workers, or two instances) is carried out once."""
        with _storage_errors(), (self._writer if write else self.engine).begin() as connection:
            if once is not None:
                # Old keys are swept now and then, not on every write: it is on the write path.
                _claim(connection, once, forget_old=next(self._claims) % SWEEP_EVERY == 0)
            yield connection

    # --- writes ----------------------------------------------------------------------------

    def post(
        self,
        coach: str,
        day: date | str | None,
        text: str,
        author: Actor,
        *,
        place: Place = Place(),
        charts: Sequence[NewChart] = (),
        once: str | None = None,
    ) -> Plan:
        """A new plan in `place`'s guild; `once` is an idempotency key (see _transaction)."""
        guild = _guild(place.guild_id)
        coach, day, text = self.coach(coach), self.day(day), self.text(text)
        self._check_chart_count(0, len(charts))
        now = datetime.now(UTC)
        try:
            with self._transaction(write=True, once=once) as connection:
                if self._live_id(connection, guild, coach, day) is not None:
                    raise self._exists(coach, day)
                plan_id = connection.execute(
                    plans_t.insert().values(
                        coach_name=coach,
                        date=day,
                        plan=text,
                        author=author.name,
                        author_id=author.id,
                        guild_id=place.guild_id,
                        channel=place.channel,
                        channel_id=place.channel_id,
                        created_at=now,
                        is_deleted=False,
                        version=1,
                    )
                ).inserted_primary_key[0]
                self._add_charts(connection, plan_id, charts, now)
                return self._load(connection, plan_id)
        except IntegrityError:
            # Another instance posted the same coach and date between our check and insert.
            raise self._exists(coach, day) from None

    def edit(
        self,
        guild: str,
        coach: str,
        day: date | str | None,
        editor: Actor,
        *,
        text: str | None = None,
        charts: Sequence[NewChart] = (),
        expected_version: int | None = None,
        plan_id: int | None = None,
        once: str | None = None,
    ) -> Plan:
        """Change the text and/or add charts; the text it replaces goes to history."""
        coach, day = self.coach(coach), self.day(day)
        new_text = None if text is None else self.text(text)
        if new_text is None and not charts:
            raise BadText("Nothing to change: give new text or a chart.")
        with self._transaction(write=True, once=once) as connection:
            current = self._locked(connection, guild, coach, day, plan_id, expected_version)
            # Stamped once the lock is held, so history's time order is the commit order.
            now = datetime.now(UTC)
            check_may_edit(current, editor)
            existing = connection.execute(
                select(func.count()).where(charts_t.c.plan_id == current.id)
            ).scalar_one()
            self._check_chart_count(existing, len(charts))
            changes: dict[str, object] = {"edited_at": now, "version": current.version + 1}
            if new_text is not None:
                connection.execute(
                    history_t.insert().values(
                        plan_id=current.id,
                        plan_text=current.text,
                        edited_by=editor.name,
                        edited_by_id=editor.id,
                        edited_at=now,
                    )
                )
                changes["plan"] = new_text
            self._bump(connection, current, changes)
            self._add_charts(connection, current.id, charts, now)
            return self._load(connection, current.id)

    def delete(
        self,
        guild: str,
        coach: str,
        day: date | str | None,
        actor: Actor,
        *,
        moderator: bool = False,
        expected_version: int | None = None,
        plan_id: int | None = None,
        once: str | None = None,
    ) -> Plan:
        """Soft delete: the plan leaves every list and frees its coach and date."""
        coach, day = self.coach(coach), self.day(day)
        with self._transaction(write=True, once=once) as connection:
            current = self._locked(connection, guild, coach, day, plan_id, expected_version)
            check_may_delete(current, actor, moderator)
            changes = {
                "is_deleted": True,
                "deleted_at": datetime.now(UTC),
                "deleted_by": actor.id,
                "version": current.version + 1,
            }
            self._bump(connection, current, changes)
            return self._load(connection, current.id)

    def mark_archived(self, chart_id: int, stored_path: str) -> None:
        with self._transaction(write=True) as connection:
            connection.execute(
                charts_t.update().where(charts_t.c.id == chart_id).values(stored_path=stored_path)
            )

    def mark_failed(self, chart_id: int, reason: str) -> None:
        """The chart can never be archived: say why, and leave it out of every retry."""
        with self._transaction(write=True) as connection:
            connection.execute(
                charts_t.update()
                .where(charts_t.c.id == chart_id, charts_t.c.stored_path.is_(None))
                .values(failed_reason=reason[:200])
            )

    # --- reads -----------------------------------------------------------------------------

    def get(self, guild: str, coach: str, day: date | str | None) -> Plan:
        """The guild's live plan for a coach and date."""
        coach, day = self.coach(coach), self.day(day)
        with _storage_errors():
            found = _plans_from_rows(self._by_key.rows(guild=guild, coach=coach, day=day))
        if not found:
            raise self._missing(coach, day)
        return found[0]

    def get_by_id(self, guild: str, plan_id: int) -> Plan:
        """A plan of this guild by id, deleted or not (buttons and modals carry ids)."""
        with self._transaction(write=False) as connection:
            found = _plans_from_rows(
                connection.execute(
                    _PLANS_WITH_CHARTS.where(plans_t.c.id == plan_id, plans_t.c.guild_id == guild)
                )
            )
        if not found:
            raise PlanNotFound(f"There is no plan #{plan_id}.")
        return found[0]

    def as_of(self, guild: str, coach: str, day: date | str | None, instant: datetime) -> Plan:
        """The plan as it stood at `instant`: its text then, and only the charts it had then."""
        coach, day = self.coach(coach), self.day(day)
        instant = instant.astimezone(UTC)
        with self._transaction(write=False) as connection:
            row = connection.execute(
                select(*_PLAN_COLUMNS)
                .where(
                    plans_t.c.guild_id == guild,
                    plans_t.c.coach_name == coach,
                    plans_t.c.date == day,
                    plans_t.c.created_at <= instant,
                    or_(plans_t.c.deleted_at.is_(None), plans_t.c.deleted_at > instant),
                )
                .order_by(plans_t.c.created_at.desc())
                .limit(1)
            ).first()
            if row is None:
                raise PlanNotFound(f"Coach {coach} had no plan for {day} at {instant.isoformat()}.")
            # Each history row holds the text an edit replaced, stamped with that edit's time.
            later = connection.execute(
                select(history_t.c.plan_text)
                .where(history_t.c.plan_id == row.id, history_t.c.edited_at > instant)
                .order_by(history_t.c.edited_at, history_t.c.id)
                .limit(1)
            ).scalar()
            last_edit = connection.execute(
                select(func.max(history_t.c.edited_at)).where(
                    history_t.c.plan_id == row.id, history_t.c.edited_at <= instant
                )
            ).scalar()
            [plan] = _plans_from_rows(
                connection.execute(_PLANS_WITH_CHARTS.where(plans_t.c.id == row.id)),
                charts_until=instant,
            )
        text = plan.text if later is None else later
        edited_at = plan.edited_at if later is None else _utc(last_edit)
        return replace(plan, text=text, edited_at=edited_at, is_deleted=False)

    def list_by_date(self, guild: str, day: date | str | None) -> list[Plan]:
        """The guild's live plans for one date, by coach."""
        day = self.day(day)
        with _storage_errors():
            found = _plans_from_rows(self._by_date.rows(guild=guild, day=day))
        return self._in_coach_order(found)

    def list_by_author(self, guild: str, author_id: str, day: date | str | None) -> list[Plan]:
        """An author's live plans in one guild for one date, by coach."""
        query = (
            _PLANS_WITH_CHARTS.where(
                plans_t.c.guild_id == guild,
                plans_t.c.author_id == author_id,
                plans_t.c.date == self.day(day),
                _LIVE,
            )
        ).order_by(plans_t.c.coach_name, charts_t.c.id)
        with self._transaction(write=False) as connection:
            return self._in_coach_order(_plans_from_rows(connection.execute(query)))

    def _in_coach_order(self, plans: list[Plan]) -> list[Plan]:
        """In COACHES order, the order the commands offer them (names outside it go last)."""
        last = len(self._rank)
        return sorted(plans, key=lambda plan: (self._rank.get(plan.coach, last), plan.coach))

    def history(
        self, guild: str, coach: str, day: date | str | None
    ) -> tuple[Plan, list[HistoryEntry]]:
        """The live plan and its earlier texts, newest first."""
        current = self.get(guild, coach, day)
        with self._transaction(write=False) as connection:
            rows = connection.execute(
                select(
                    history_t.c.plan_text,
                    history_t.c.edited_by,
                    history_t.c.edited_by_id,
                    history_t.c.edited_at,
                )
                .where(history_t.c.plan_id == current.id)
                .order_by(history_t.c.edited_at.desc(), history_t.c.id.desc())
            ).all()
        entries = [
            HistoryEntry(r.plan_text, r.edited_by, r.edited_by_id, _utc(r.edited_at))  # type: ignore[arg-type]
            for r in rows
        ]
        return current, entries

    def dates_with_plans(
        self, guild: str, coach: str, typed: str = "", limit: int = 25
    ) -> list[date]:
        """Dates that have a live plan for the coach, newest first, starting with `typed`."""
        coach = self.coach(coach)
        prefix = typed.strip()
        if not re.fullmatch(r"[0-9-]{0,10}", prefix):
            return []  # only digits and dashes: nothing else can start a date
        with _storage_errors():
            rows = self._dates.rows(guild=guild, coach=coach, prefix=f"{prefix}%", limit=limit)
        return [row.date for row in rows]

    def guilds_with_plans(self, limit: int = 2) -> list[str]:
        """Up to `limit` guilds with plans: a read that names no guild may mean the only one."""
        with _storage_errors():
            return [row.guild_id for row in self._guilds.rows(limit=limit)]

    def chart(self, chart_id: int) -> Chart:
        """A chart of a live plan."""
        with self._transaction(write=False) as connection:
            row = connection.execute(_LIVE_CHARTS.where(charts_t.c.id == chart_id)).first()
        if row is None:
            raise ChartNotFound(f"There is no chart {chart_id}.")
        return _chart(row, plan_id=row.plan_id)

    def unarchived_charts(self, limit: int = 100) -> list[Chart]:
        """Charts of live plans whose copy has not been downloaded yet and that were not refused
        for good (oldest first)."""
        query = (
            _LIVE_CHARTS.where(charts_t.c.stored_path.is_(None), charts_t.c.failed_reason.is_(None))
            .order_by(charts_t.c.id)
            .limit(limit)
        )
        with self._transaction(write=False) as connection:
            return [_chart(row, plan_id=row.plan_id) for row in connection.execute(query)]

    def counts(self) -> dict[str, int]:
        with self._transaction(write=False) as connection:
            plans = connection.execute(select(func.count()).where(_LIVE)).scalar_one()
            charts = connection.execute(select(func.count()).select_from(charts_t)).scalar_one()
            edits = connection.execute(select(func.count()).select_from(history_t)).scalar_one()
        return {"plans": plans, "charts": charts, "edits": edits}

    # --- inside a transaction ----------------------------------------------------------------

    def _live_id(self, connection: Connection, guild: str, coach: str, day: date) -> int | None:
        return connection.execute(
            select(plans_t.c.id).where(
                plans_t.c.guild_id == guild,
                plans_t.c.coach_name == coach,
                plans_t.c.date == day,
                _LIVE,
            )
        ).scalar()

    def _locked(
        self,
        connection: Connection,
        guild: str,
        coach: str,
        day: date,
        plan_id: int | None,
        expected_version: int | None,
    ) -> Plan:
        """The live plan, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite's
        BEGIN IMMEDIATE already holds the write lock)."""
        query = select(*_PLAN_COLUMNS).where(
            plans_t.c.guild_id == guild, plans_t.c.coach_name == coach, plans_t.c.date == day, _LIVE
        )
        row = connection.execute(query.with_for_update()).first()
        if row is None or (plan_id is not None and row.id != plan_id):
            if plan_id is not None:
                raise StaleVersion(
                    f"Coach {coach}'s plan for {day} was deleted or replaced in the meantime; "
                    "nothing was changed."
                )
            raise self._missing(coach, day)
        if expected_version is not None and row.version != expected_version:
            raise StaleVersion(
                f"Coach {coach}'s plan for {day} was changed by someone else in the meantime; "
                "nothing was changed. Look at the new version and try again."
            )
        return _plan(row)

    @staticmethod
    def _bump(connection: Connection, current: Plan, changes: dict[str, object]) -> None:
        # The version guard makes a lost update impossible even if a lock were missing.
        updated = connection.execute(
            plans_t.update()
            .where(plans_t.c.id == current.id, plans_t.c.version == current.version)
            .values(**changes)
        ).rowcount
        if updated != 1:
            raise StaleVersion("The plan changed while saving; nothing was changed. Try again.")

    @staticmethod
    def _add_charts(
        connection: Connection, plan_id: int, charts: Sequence[NewChart], now: datetime
    ) -> None:
        if charts:
            connection.execute(
                charts_t.insert(),
                [
                    {
                        "plan_id": plan_id,
                        "chart_url": chart.url,
                        "filename": chart.filename,
                        "content_type": chart.content_type,
                        "size": chart.size,
                        "added_at": now,
                    }
                    for chart in charts
                ],
            )

    @staticmethod
    def _load(connection: Connection, plan_id: int) -> Plan:
        rows = connection.execute(
            _PLANS_WITH_CHARTS.where(plans_t.c.id == plan_id).order_by(charts_t.c.id)
        )
        return _plans_from_rows(rows)[0]

    @staticmethod
    def _exists(coach: str, day: date) -> PlanExists:
        return PlanExists(
            f"Coach {coach} already has a plan for {day}. Use /edit coach:{coach} date:{day} "
            "to change it, or /delete it first."
        )

    @staticmethod
    def _missing(coach: str, day: date) -> PlanNotFound:
        return PlanNotFound(
            f"Coach {coach} has no plan for {day}. Post one with /plan coach:{coach} date:{day}."
        )

"""The daily recap's SQL: which guild days are ready (every plan of the day has its outcome, the
guild has a recap channel, no recap claimed yet), their outcomes, and the claim itself: one
`daily_recaps` row per guild and day, which only one instance can insert.

Methods are synchronous: callers run them in worker threads.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from app.outcomes.rules import Outcome
from app.storage.community import setups_t
from app.storage.database import storage_errors
from app.storage.models import DailyRecap
from app.storage.outcomes import OutcomeStore, outcomes_t
from app.storage.rows import plans_t

recaps_t: Table = DailyRecap.__table__  # type: ignore[attr-defined]  # SQLModel exposes __table__ untyped


class RecapStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outcomes = OutcomeStore(engine)

    def ready(self, since: date) -> list[tuple[str, str, date]]:
        """(guild, channel, day) for each day since `since` with plans, all of them graded
        (no outcome pending or missing), in a guild with a recap channel and no recap yet."""
        plans = (
            select(setups_t.c.guild_id, setups_t.c.recap_channel, plans_t.c.date,
                   outcomes_t.c.status)
            .join(plans_t, plans_t.c.guild_id == setups_t.c.guild_id)
            .outerjoin(outcomes_t, outcomes_t.c.plan_id == plans_t.c.id)
            .where(setups_t.c.recap_channel.is_not(None), plans_t.c.date >= since)
        )  # fmt: skip
        claimed = select(recaps_t.c.guild_id, recaps_t.c.date).where(recaps_t.c.date >= since)
        with storage_errors(), self.engine.connect() as connection:
            rows = connection.execute(plans).all()
            done = {(r.guild_id, r.date) for r in connection.execute(claimed)}
        days: dict[tuple[str, str, date], bool] = {}
        for row in rows:
            key = (str(row.guild_id), str(row.recap_channel), row.date)
            days[key] = days.get(key, True) and row.status not in (None, "pending")
        return sorted(k for k, ok in days.items() if ok and (k[0], k[2]) not in done)

    def day(self, guild: str, day: date) -> list[tuple[str, Outcome]]:
        """The day's plans of the guild as (coach, outcome), in posting order."""
        query = (
            select(plans_t.c.id, plans_t.c.coach_name)
            .where(plans_t.c.guild_id == guild, plans_t.c.date == day)
            .order_by(plans_t.c.id)
        )
        with storage_errors(), self.engine.connect() as connection:
            plans = connection.execute(query).all()
        found = self.outcomes.of_plans(p.id for p in plans)
        return [(p.coach_name, found[p.id]) for p in plans if p.id in found]

    def claim(self, guild: str, day: date, channel: str, at: datetime) -> bool:
        """True for the one caller that claims the guild's day; False for every other."""
        try:
            with storage_errors(), self.engine.begin() as connection:
                connection.execute(
                    insert(recaps_t).values(
                        guild_id=guild, date=day, channel_id=channel, claimed_at=at
                    )
                )
        except IntegrityError:
            return False
        return True

"""Bounds on what members post: the dates a new plan may have, and each member's and each
server's daily quotas of new plans and chart megabytes, refused with an ephemeral message that
says which limit was hit and when it resets. Driven like Discord drives the app, with the
app's clock set by the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine, text

from app.errors import QuotaExceeded
from app.plans.quotas import Limits
from app.plans.service import PlanService
from app.records import Actor, Place, Usage
from app.settings import Settings, SettingsError, load_settings
from app.storage import postings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.support.clock import Clock
from tests.support.discord_edge import (
    OTHER,
    Discord,
    FakeDiscord,
    attachment,
    button_interaction,
    discord_app,
    ephemeral_text,
    fast_settings,
    png,
)

NEW_YORK = ZoneInfo("America/New_York")
# 11:00 in New York (daylight time since March 8th): New York's day ends at 04:00 UTC.
MORNING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 11, 4, 0, tzinfo=UTC)
THIRD = {"id": "53908232506183682", "username": "third", "global_name": "Third"}
ELSEWHERE = "390926798626357999"  # another server
KB = 1024


@contextmanager
def app(settings: Settings, signer: SigningKey, clock: Clock, **limits: Any) -> Iterator[Discord]:
    with discord_app(fast_settings(settings, **limits), signer, now=clock) as discord:
        yield discord


def posted(answer: dict[str, Any]) -> bool:
    """A public plan card (or the deferral of one with charts): the plan was saved."""
    return answer["type"] == 5 or not answer["data"].get("flags", 0) & (1 << 6)


def chart(fake: FakeDiscord, name: str, declared: int) -> dict[str, Any]:
    """One attachment whose size Discord declares as `declared` bytes."""
    url = fake.add_file(name, png(64))
    return {"chart1": attachment(url, name, declared)}


def resets_at(moment: datetime) -> str:
    return f"That is <t:{int(moment.timestamp())}:R>"


# --- new plans per day ------------------------------------------------------------------------


def test_without_limits_posts_still_count_once_a_limit_is_set_the_same_day(
    settings: Settings, signer: SigningKey
) -> None:
    clock = Clock(MORNING)
    off = {
        "member_plans_per_day": 0,
        "guild_plans_per_day": 0,
        "member_chart_mb_per_day": 0,
        "guild_chart_mb_per_day": 0,
    }
    with app(settings, signer, clock, **off) as discord:
        for coach in ("d", "i"):
            assert posted(discord.command("plan", coach=coach, text="no limit today"))
    with app(settings, signer, clock, **{**off, "member_plans_per_day": 2}) as discord:
        refusal = ephemeral_text(discord.command("plan", coach="s", text="three"))
        assert refusal.startswith("You have posted 2 new plans in this server today")


def test_a_members_new_plans_past_the_daily_limit_wait_for_new_yorks_midnight(
    settings: Settings, signer: SigningKey
) -> None:
    clock = Clock(MORNING)
    with app(settings, signer, clock, member_plans_per_day=2) as discord:
        assert posted(discord.command("plan", coach="d", text="one"))
        assert posted(discord.command("plan", coach="i", text="two"))
        refusal = ephemeral_text(discord.command("plan", coach="s", text="three"))
        assert refusal.startswith(
            "You have posted 2 new plans in this server today (America/New_York); a member may "
            "post 2 per day (edits do not count). You can post new plans again at midnight "
            "America/New_York, when the day's count starts again."
        )
        assert resets_at(MIDNIGHT) in refusal
        # Edits are not new plans: the author still edits, and another member still posts.
        assert posted(discord.command("edit", coach="d", text="one, edited"))
        assert posted(discord.command("plan", coach="s", text="rival's", user=OTHER))
        # Past midnight in UTC, but still the 10th in New York: still refused.
        clock.now = MIDNIGHT - timedelta(minutes=1)
        assert "You have posted 2 new plans" in ephemeral_text(
            discord.command("plan", coach="n", text="three")
        )
        clock.now = MIDNIGHT
        assert posted(discord.command("plan", coach="n", text="a new day"))
        assert discord.client.get("/api/coach-plans/?coach=n&date=2026-03-11").json()["plan"] == (
            "a new day"
        )
    # The refused plan was not saved.
    with app(settings, signer, clock) as discord:
        assert discord.client.get("/api/coach-plans/?coach=n&date=2026-03-10").status_code == 404


def test_a_server_past_its_daily_limit_refuses_every_member_other_servers_post_on(
    settings: Settings, signer: SigningKey
) -> None:
    with app(settings, signer, Clock(MORNING), guild_plans_per_day=2) as discord:
        assert posted(discord.command("plan", coach="d", text="one"))
        assert posted(discord.command("plan", coach="i", text="two", user=OTHER))
        refusal = ephemeral_text(discord.command("plan", coach="s", text="three", user=THIRD))
        assert refusal.startswith(
            "This server has had 2 new plans today (America/New_York); it may get 2 per day "
            "(edits do not count). New plans can be posted again at midnight America/New_York"
        )
        assert resets_at(MIDNIGHT) in refusal
        assert posted(discord.command("plan", coach="s", text="elsewhere", guild_id=ELSEWHERE))


def test_a_deleted_plan_still_counts_as_posted(settings: Settings, signer: SigningKey) -> None:
    """Deleting and posting again is no way around the limit."""
    with app(settings, signer, Clock(MORNING), member_plans_per_day=1) as discord:
        assert posted(discord.command("plan", coach="d", text="one"))
        asked = discord.command("delete", coach="d")
        [row] = asked["data"]["components"]
        [confirm] = [b["custom_id"] for b in row["components"] if b["label"] == "Confirm"]
        discord.send(button_interaction(confirm))
        assert discord.client.get("/api/coach-plans/?coach=d").status_code == 404
        refusal = ephemeral_text(discord.command("plan", coach="d", text="again"))
        assert refusal.startswith("You have posted 1 new plan in this server today")


# --- chart megabytes per day ------------------------------------------------------------------


def test_charts_past_a_members_daily_megabytes_are_refused_in_plan_and_edit(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    clock = Clock(MORNING)
    with discord_app(
        fast_settings(settings, member_chart_mb_per_day=1), signer, fake, now=clock
    ) as discord:
        first = chart(fake, "a.png", 600 * KB)
        assert posted(discord.command("plan", coach="d", text="one", attachments=first))
        more = chart(fake, "b.png", 600 * KB)
        refusal = ephemeral_text(discord.command("edit", coach="d", attachments=more))
        assert refusal.startswith(
            "These charts (0.6 MB) would take you past the 1.0 MB of charts a member may attach "
            "per day: you have attached 0.6 MB in this server today (America/New_York). Attach "
            "at most 0.4 MB more, or wait until midnight America/New_York"
        )
        assert resets_at(MIDNIGHT) in refusal
        refused = chart(fake, "c.png", 600 * KB)
        refusal = ephemeral_text(
            discord.command("plan", coach="i", text="two", attachments=refused)
        )
        assert refusal.startswith("These charts (0.6 MB) would take you past the 1.0 MB")
        # Nothing of the refused commands was saved; what fits still goes in.
        assert discord.client.get("/api/coach-plans/?coach=i").status_code == 404
        small = chart(fake, "d.png", 300 * KB)
        assert posted(discord.command("edit", coach="d", attachments=small))
        charts = discord.client.get("/api/coach-plans/?coach=d").json()["charts"]
        assert [c["filename"] for c in charts] == ["a.png", "d.png"]
        # Another member has their own megabytes; a new day gives the member theirs back.
        assert posted(discord.command("plan", coach="s", text="x", attachments=more, user=OTHER))
        clock.now = MIDNIGHT
        assert posted(discord.command("edit", coach="d", date="2026-03-10", attachments=refused))


def test_charts_past_a_servers_daily_megabytes_are_refused(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    with discord_app(
        fast_settings(settings, guild_chart_mb_per_day=1), signer, fake, now=Clock(MORNING)
    ) as discord:
        assert posted(
            discord.command(
                "plan", coach="d", text="one", attachments=chart(fake, "a.png", 600 * KB)
            )
        )
        attached = chart(fake, "b.png", 600 * KB)
        refusal = ephemeral_text(
            discord.command("plan", coach="i", text="two", attachments=attached, user=OTHER)
        )
        assert refusal.startswith(
            "These charts (0.6 MB) would take this server past the 1.0 MB of charts it may get "
            "per day: its members have attached 0.6 MB today (America/New_York). Attach at "
            "most 0.4 MB more"
        )
        assert posted(
            discord.command("plan", coach="i", text="two", attachments=attached, guild_id=ELSEWHERE)
        )


def test_zero_turns_every_limit_off(
    settings: Settings, signer: SigningKey, fake: FakeDiscord
) -> None:
    off = {
        "plan_days_back": 0,
        "plan_days_ahead": 0,
        "member_plans_per_day": 0,
        "guild_plans_per_day": 0,
        "member_chart_mb_per_day": 0,
        "guild_chart_mb_per_day": 0,
    }
    with discord_app(fast_settings(settings, **off), signer, fake, now=Clock(MORNING)) as discord:
        for n, day in enumerate(["1990-01-02", "2026-03-10", "2099-12-31"]):
            big = chart(fake, f"{n}.png", 10 * 1024 * KB)
            answer = discord.command("plan", coach="d", text="x", date=day, attachments=big)
            assert posted(answer), answer


# --- the date window --------------------------------------------------------------------------


def test_a_new_plans_date_outside_the_window_is_refused_naming_the_range(
    settings: Settings, signer: SigningKey
) -> None:
    clock = Clock(MORNING)
    window = {"plan_days_back": 366, "plan_days_ahead": 31}  # the defaults
    allowed = (
        "a new plan's date must be from 2025-03-09 to 2026-04-10 (366 days back to 31 days "
        "ahead, today being 2026-03-10 in America/New_York)."
    )
    with app(settings, signer, clock, **window) as discord:
        for day in ("2025-03-08", "2026-04-11"):
            refusal = ephemeral_text(discord.command("plan", coach="d", text="x", date=day))
            assert refusal == f"{day} is out of range: {allowed}"
        assert posted(discord.command("plan", coach="d", text="first day", date="2025-03-09"))
        assert posted(discord.command("plan", coach="d", text="last day", date="2026-04-10"))
        # The window bounds new plans only: a year later, the plan is still edited.
        clock.now = MORNING + timedelta(days=400)
        assert posted(discord.command("edit", coach="d", date="2026-04-10", text="edited"))


def test_one_sided_windows_name_their_one_bound(settings: Settings, signer: SigningKey) -> None:
    with app(settings, signer, Clock(MORNING), plan_days_back=0, plan_days_ahead=1) as discord:
        assert posted(discord.command("plan", coach="d", text="x", date="1990-01-02"))
        refusal = ephemeral_text(discord.command("plan", coach="d", text="x", date="2026-03-12"))
        assert refusal == (
            "2026-03-12 is out of range: a new plan's date must be 2026-03-11 or earlier (at "
            "most 1 day ahead, today being 2026-03-10 in America/New_York)."
        )


# --- settings ---------------------------------------------------------------------------------


def test_the_limits_default_to_the_documented_values(tmp_path: Path) -> None:
    found = load_settings(mock_mode=True, database_path=tmp_path / "plans.db")
    assert (found.plan_days_back, found.plan_days_ahead) == (366, 31)
    assert (found.member_plans_per_day, found.guild_plans_per_day) == (30, 300)
    assert (found.member_chart_mb_per_day, found.guild_chart_mb_per_day) == (200, 2000)


def test_a_negative_limit_stops_start_up_naming_the_setting() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(mock_mode=True, member_plans_per_day=-1, plan_days_ahead="soon")
    problems = "\n".join(refused.value.problems)
    assert "MEMBER_PLANS_PER_DAY" in problems and "PLAN_DAYS_AHEAD" in problems


# --- the count in the database ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_posts_near_the_limit_never_all_pass(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Eight posts by one member at once, with room for three: exactly three are saved, though
    each runs in its own transaction on its own connection."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'plans.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    plans = PlanService(
        PlanRepository(engine),
        coaches=["d"],
        timezone=NEW_YORK,
        limits=Limits(member_plans=3),
    )
    author, start = Actor(id="111", name="coach"), threading.Barrier(8)
    outcomes: list[str] = []

    def post(n: int) -> None:
        start.wait()
        try:
            plans.post("d", date(2026, 1, 1) + timedelta(days=n), "x", author, place=Place("1"))
            outcomes.append("posted")
        except QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["posted"] * 3 + ["refused"] * 5
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM coach_plans")).scalar() == 3
    finally:
        engine.dispose()


def test_the_days_count_is_one_range_of_an_index(engine: Engine) -> None:
    """The count reads only the guild's postings since the day's start, by the index, on
    SQLite and PostgreSQL; and what it counts is the member's and the guild's."""
    plans = PlanService(PlanRepository(engine), coaches=["d", "i"], timezone=NEW_YORK)
    plans.post("d", "2026-03-10", "x", Actor(id="2", name="a"), place=Place("1"))
    plans.post("i", "2026-03-10", "y", Actor(id="3", name="b"), place=Place("1"))
    query = postings.usage_query("1", "2", MORNING - timedelta(days=1))
    inlined = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL enable_seqscan = off"))  # the table is tiny
            plan = list(connection.execute(text(f"EXPLAIN {inlined}")).scalars())
        else:
            plan = [row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {inlined}"))]
        assert any("ix_plan_postings_guild_posted" in line for line in plan), plan
        assert not any("SCAN plan_postings" in line or "Seq Scan" in line for line in plan), plan
        used = postings.usage_since(connection, "1", "2", MORNING - timedelta(days=1))
    assert used == Usage(member_plans=1, member_chart_bytes=0, guild_plans=2, guild_chart_bytes=0)

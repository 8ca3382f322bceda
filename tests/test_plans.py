"""The plan rules, the same suite on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from app.errors import (
    AlreadyHandled,
    BadDate,
    BadText,
    NotAuthor,
    PlanExists,
    PlanNotFound,
    StaleVersion,
    TooManyCharts,
    UnknownCoach,
)
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.storage.repository import PlanRepository
from commands import hints
from tests.support.clock import Clock

GUILD = "1"
HERE = Place(guild_id=GUILD)

DAY = date(2025, 3, 14)
COACH_D = Actor(id="123456789012345678", name="coach d")
OTHER = Actor(id="876543210987654321", name="someone else")
NY = ZoneInfo("America/New_York")


def chart(n: int = 1) -> NewChart:
    return NewChart(f"https://cdn.discordapp.test/{n}.png", f"chart{n}.png", "image/png", 1000 + n)


@pytest.fixture
def plans(engine: Engine) -> PlanService:
    return PlanService(
        PlanRepository(engine), coaches=["d", "i", "s", "n"], timezone=NY, max_charts=3
    )


# --- posting -----------------------------------------------------------------------------------


def test_a_posted_plan_reads_back_with_its_charts(plans: PlanService) -> None:
    place = Place(guild_id="1", channel_id="2", channel="plans")
    posted = plans.post("D", "2025-03-14", "  Watch 950  ", COACH_D, place=place, charts=[chart()])
    got = plans.get(GUILD, "d", DAY)
    assert got == posted
    assert (got.coach, got.date, got.text, got.version) == ("d", DAY, "Watch 950", 1)
    assert (got.author, got.author_id, got.channel) == ("coach d", COACH_D.id, "plans")
    assert got.created_at.utcoffset() == timedelta(0)
    assert [c.filename for c in got.charts] == ["chart1.png"]


def test_second_plan_same_day_is_refused_pointing_to_edit(plans: PlanService) -> None:
    plans.post("d", DAY, "Watch 950", COACH_D, place=HERE)
    with pytest.raises(PlanExists, match="already has a plan") as refused:
        plans.post("d", DAY, "Another", OTHER, place=HERE)
    # The rules know nothing of Discord: the answer there adds the command that does it right.
    assert "/" not in refused.value.message
    assert "Use /edit coach:d date:2025-03-14" in hints.refusal(refused.value)
    plans.post("i", DAY, "Another coach is fine", OTHER, place=HERE)
    plans.post("d", DAY + timedelta(days=1), "Another day is fine", COACH_D, place=HERE)


@pytest.mark.parametrize(
    ("coach", "day", "body", "error", "says"),
    [
        ("x", "2025-03-14", "t", UnknownCoach, "Coaches are: d, i, s, n"),
        ("", "2025-03-14", "t", UnknownCoach, "No coach given"),
        ("d", "2026-02-30", "t", BadDate, "not a real calendar date"),
        ("d", "14.03.2025", "t", BadDate, "YYYY-MM-DD"),
        ("d", "2025-3-14", "t", BadDate, "YYYY-MM-DD"),
        ("d", "2025-03-14", "   ", BadText, "empty"),
        ("d", "2025-03-14", "x" * 4001, BadText, "4001 characters; the limit is 4000"),
    ],
)
def test_bad_input_is_refused_with_a_message_that_says_why(
    plans: PlanService, coach: str, day: str, body: str, error: type, says: str
) -> None:
    with pytest.raises(error, match=says):
        plans.post(coach, day, body, COACH_D, place=HERE)
    assert plans.list_by_date(GUILD, DAY) == []


def test_text_of_exactly_4000_chars_is_accepted(plans: PlanService) -> None:
    assert len(plans.post("d", DAY, "x" * 4000, COACH_D, place=HERE).text) == 4000


def test_date_defaults_to_today_in_the_timezone(plans: PlanService) -> None:
    # 02:30 UTC is still the evening before in New York.
    late = Clock(datetime(2025, 3, 15, 2, 30, tzinfo=UTC))
    plans = PlanService(plans.repository, coaches=plans.coaches, timezone=NY, clock=late)
    posted = plans.post("d", None, "today", COACH_D, place=HERE)
    assert posted.date == date(2025, 3, 14)
    assert plans.day("yesterday") == posted.date - timedelta(days=1)
    assert plans.get(GUILD, "d", "today") == posted


def test_charts_are_capped_per_plan_in_all(plans: PlanService) -> None:
    with pytest.raises(TooManyCharts, match="at most 3"):
        plans.post("d", DAY, "t", COACH_D, charts=[chart(n) for n in range(4)], place=HERE)
    plans.post("d", DAY, "t", COACH_D, charts=[chart(1), chart(2)], place=HERE)
    with pytest.raises(TooManyCharts, match="Add at most 1"):
        plans.edit(GUILD, "d", DAY, COACH_D, charts=[chart(3), chart(4)])
    assert len(plans.edit(GUILD, "d", DAY, COACH_D, charts=[chart(3)]).charts) == 3


# --- editing -----------------------------------------------------------------------------------


def test_every_edit_keeps_the_previous_text_in_history(plans: PlanService) -> None:
    posted = plans.post("d", DAY, "v1", COACH_D, place=HERE)
    plans.edit(GUILD, "d", DAY, COACH_D, text="v2")
    edited = plans.edit(GUILD, "d", DAY, COACH_D, text="v3")
    assert (edited.text, edited.version) == ("v3", 3)
    assert edited.edited_at is not None and edited.edited_at >= posted.created_at
    current, entries = plans.history(GUILD, "d", DAY)
    assert current.text == "v3"
    assert [e.plan_text for e in entries] == ["v2", "v1"]
    assert {e.edited_by_id for e in entries} == {COACH_D.id}


def test_only_the_author_edits(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, place=HERE)
    with pytest.raises(NotAuthor, match="Only coach d"):
        plans.edit(GUILD, "d", DAY, OTHER, text="hijack")
    assert plans.get(GUILD, "d", DAY).text == "v1"
    assert plans.history(GUILD, "d", DAY)[1] == []


def test_an_edit_based_on_a_stale_version_is_refused(plans: PlanService) -> None:
    posted = plans.post("d", DAY, "v1", COACH_D, place=HERE)
    plans.edit(GUILD, "d", DAY, COACH_D, text="v2", expected_version=posted.version)
    with pytest.raises(StaleVersion, match="changed by someone else"):
        plans.edit(GUILD, "d", DAY, COACH_D, text="v2 again", expected_version=posted.version)
    assert plans.get(GUILD, "d", DAY).text == "v2"


def test_editing_a_missing_plan_says_how_to_post_one(plans: PlanService) -> None:
    with pytest.raises(PlanNotFound, match="has no plan") as refused:
        plans.edit(GUILD, "d", DAY, COACH_D, text="v2")
    assert "Post one with /plan coach:d date:2025-03-14" in hints.refusal(refused.value)


def test_an_edit_with_nothing_to_change_is_refused(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, place=HERE)
    with pytest.raises(BadText, match="Nothing to change"):
        plans.edit(GUILD, "d", DAY, COACH_D)


# --- deleting ----------------------------------------------------------------------------------


def test_delete_is_soft_and_frees_the_coach_and_date(plans: PlanService) -> None:
    posted = plans.post("d", DAY, "v1", COACH_D, place=HERE)
    deleted = plans.delete(GUILD, "d", DAY, COACH_D)
    assert deleted.is_deleted
    with pytest.raises(PlanNotFound):
        plans.get(GUILD, "d", DAY)
    assert plans.list_by_date(GUILD, DAY) == []
    assert plans.get_by_id(GUILD, posted.id).text == "v1"  # still stored
    again = plans.post("d", DAY, "a new plan", COACH_D, place=HERE)
    assert again.id != posted.id


def test_only_the_author_or_a_moderator_deletes(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, place=HERE)
    with pytest.raises(NotAuthor, match="moderator"):
        plans.delete(GUILD, "d", DAY, OTHER)
    assert plans.get(GUILD, "d", DAY).text == "v1"
    assert plans.delete(GUILD, "d", DAY, OTHER, moderator=True).is_deleted


def test_a_delete_pinned_to_a_replaced_plan_changes_nothing(plans: PlanService) -> None:
    first = plans.post("d", DAY, "v1", COACH_D, place=HERE)
    plans.delete(GUILD, "d", DAY, COACH_D)
    plans.post("d", DAY, "v2", COACH_D, place=HERE)
    with pytest.raises(StaleVersion):
        plans.delete(GUILD, "d", DAY, COACH_D, plan_id=first.id, expected_version=first.version)
    assert plans.get(GUILD, "d", DAY).text == "v2"


# --- lists -------------------------------------------------------------------------------------


def test_lists_by_date_author_and_dates_for_autocomplete(plans: PlanService) -> None:
    for offset in range(30):
        plans.post("d", DAY - timedelta(days=offset), f"plan {offset}", COACH_D, place=HERE)
    plans.post("i", DAY, "i's plan", OTHER, place=HERE)
    plans.delete(GUILD, "d", DAY - timedelta(days=1), COACH_D)
    assert [p.coach for p in plans.list_by_date(GUILD, DAY)] == ["d", "i"]
    assert [p.coach for p in plans.list_by_author(GUILD, OTHER.id, DAY)] == ["i"]
    assert [p.text for p in plans.list_by_author(GUILD, COACH_D.id, DAY - timedelta(days=2))] == [
        "plan 2"
    ]
    dates = plans.dates_with_plans(GUILD, "d")
    assert len(dates) == 25 and dates == sorted(dates, reverse=True)
    assert dates[0] == DAY and DAY - timedelta(days=1) not in dates
    assert plans.dates_with_plans(GUILD, "d", "2025-02-2") == [
        date(2025, 2, n) for n in (28, 27, 26, 25, 24, 23, 22, 21, 20)
    ]
    assert plans.dates_with_plans(GUILD, "d", "'; drop table") == []
    assert plans.dates_with_plans(GUILD, "s") == []


def test_counts_report_live_plans_charts_and_edits(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, charts=[chart(1), chart(2)], place=HERE)
    plans.edit(GUILD, "d", DAY, COACH_D, text="v2")
    plans.post("i", DAY, "x", OTHER, place=HERE)
    plans.delete(GUILD, "i", DAY, OTHER)
    assert plans.counts() == {"plans": 1, "charts": 2, "edits": 1}


# --- the schema guards the rules too ------------------------------------------------------------


def test_the_database_allows_one_live_plan_per_guild_coach_and_date(engine: Engine) -> None:
    insert = text(
        "INSERT INTO coach_plans (coach_name, date, plan, author, author_id, guild_id, "
        "created_at, is_deleted, version) VALUES ('d', '2025-03-14', 't', 'a', '1', :guild, "
        "CURRENT_TIMESTAMP, :deleted, 1)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"deleted": True, "guild": "1"})
        connection.execute(insert, {"deleted": True, "guild": "1"})
        connection.execute(insert, {"deleted": False, "guild": "1"})
        # Another community's plan for the same coach and date is its own.
        connection.execute(insert, {"deleted": False, "guild": "2"})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"deleted": False, "guild": "1"})


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO plan_history (plan_id, plan_text, edited_by, edited_by_id, edited_at)"
                " VALUES (424242, 't', 'a', '1', CURRENT_TIMESTAMP)"
            )
        )


# --- idempotency: a request delivered twice changes things once ---------------------------------


def test_a_write_repeated_with_the_same_key_is_done_once(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, once="post-1", place=HERE)
    plans.edit(GUILD, "d", DAY, COACH_D, text="v2", once="edit-1")
    with pytest.raises(AlreadyHandled, match="already carried out"):
        plans.edit(GUILD, "d", DAY, COACH_D, text="v2", once="edit-1")
    with pytest.raises(AlreadyHandled):
        plans.post("i", DAY, "a different plan, same request", COACH_D, once="post-1", place=HERE)
    current, entries = plans.history(GUILD, "d", DAY)
    assert (current.text, current.version) == ("v2", 2)
    assert [e.plan_text for e in entries] == ["v1"]
    assert plans.list_by_date(GUILD, DAY) == [current]


def test_a_refused_write_does_not_use_up_its_key(plans: PlanService) -> None:
    plans.post("d", DAY, "v1", COACH_D, place=HERE)
    with pytest.raises(PlanExists):
        plans.post("d", DAY, "again", COACH_D, once="retry-me", place=HERE)
    plans.delete(GUILD, "d", DAY, COACH_D)
    assert plans.post("d", DAY, "again", COACH_D, once="retry-me", place=HERE).text == "again"


def test_keys_older_than_a_day_are_forgotten(plans: PlanService, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO handled_requests (key, handled_at) VALUES ('old', :at)"),
            {"at": datetime.now(UTC) - timedelta(days=2)},
        )
    plans.post("d", DAY, "v1", COACH_D, once="new", place=HERE)
    with engine.connect() as connection:
        keys: Sequence[str] = (
            connection.execute(text("SELECT key FROM handled_requests")).scalars().all()
        )
    assert list(keys) == ["new"]

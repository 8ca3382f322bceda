"""The REST read API as a program sees it: the contract's JSON, as_of reads, and JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from app.plans.service import PlanService
from app.records import Actor, NewChart, Place, Plan
from app.runtime.web import create_app
from app.settings import Settings
from tests.support.clock import Clock

GUILD = "998877665544332211"

DAY = date(2025, 3, 14)
AUTHOR = Actor(id="123456789012345678", name="coach d")
PLACE = Place(guild_id="998877665544332211", channel_id="112233445566778899", channel="plans")
PLAN_FIELDS = {
    "id", "coach", "date", "plan", "author", "author_id", "channel", "channel_id", "guild_id",
    "created_at", "edited_at", "charts", "levels", "outcome",
}  # fmt: skip


@pytest.fixture
def plans(client: TestClient) -> PlanService:
    plans: PlanService = client.app_state["services"].plans
    return plans


def post(plans: PlanService, coach: str = "d", day: date = DAY, text: str = "Watch 950") -> Plan:
    chart = NewChart("https://cdn.discordapp.test/spy.png", "spy.png", "image/png", 2048)
    return plans.post(coach, day, text, AUTHOR, place=PLACE, charts=[chart])


def assert_error(response, status: int, code: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "message", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["error"] == code
    return body


# --- reads ------------------------------------------------------------------------------------


def test_a_plan_has_exactly_the_contracts_fields(client: TestClient, plans: PlanService) -> None:
    posted = post(plans)
    response = client.get("/api/coach-plans/", params={"coach": "d", "date": "2025-03-14"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PLAN_FIELDS
    assert body["id"] == posted.id
    assert (body["coach"], body["date"], body["plan"]) == ("d", "2025-03-14", "Watch 950")
    assert (body["author"], body["author_id"]) == ("coach d", "123456789012345678")
    assert (body["channel"], body["channel_id"]) == ("plans", "112233445566778899")
    assert body["guild_id"] == "998877665544332211"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert body["edited_at"] is None
    [chart] = body["charts"]
    assert set(chart) == {"id", "url", "filename", "content_type"}
    assert chart["url"] == f"http://testserver/charts/{chart['id']}"
    assert (chart["filename"], chart["content_type"]) == ("spy.png", "image/png")


@pytest.mark.parametrize("slash", ["/", ""])
def test_every_read_path_answers_with_or_without_the_slash(
    client: TestClient, plans: PlanService, slash: str
) -> None:
    post(plans)
    day = {"date": "2025-03-14"}

    def get(path: str, **params: str) -> dict[str, object]:
        response = client.get(path + slash, params={**day, **params}, follow_redirects=False)
        assert response.status_code == 200, (path + slash, response.text)
        body: dict[str, object] = response.json()
        return body

    assert get("/api/coach-plans", coach="d")["plan"] == "Watch 950"
    assert get("/api/coach-plans/all")["count"] == 1
    assert get("/api/coach-plans/history", coach="d")["coach"] == "d"


def test_date_defaults_to_today_in_the_timezone(client: TestClient, plans: PlanService) -> None:
    post(plans, day=plans.today(), text="Today's plan")
    assert client.get("/api/coach-plans/?coach=d").json()["plan"] == "Today's plan"
    assert client.get("/api/coach-plans/all").json()["date"] == plans.today().isoformat()


def test_chart_urls_use_public_base_url_when_set(settings: Settings) -> None:
    public = settings.model_copy(update={"public_base_url": "https://plans.example.com"})
    with TestClient(create_app(public)) as client:
        post(client.app_state["services"].plans)
        body = client.get("/api/coach-plans/?coach=d&date=2025-03-14").json()
    assert body["charts"][0]["url"] == f"https://plans.example.com/charts/{body['charts'][0]['id']}"


def test_all_lists_a_days_plans_ordered_by_coach(client: TestClient, plans: PlanService) -> None:
    for coach in ("n", "d", "s"):
        post(plans, coach=coach, text=f"plan of {coach}")
    post(plans, coach="i", day=DAY + timedelta(days=1))
    body = client.get("/api/coach-plans/all?date=2025-03-14").json()
    assert set(body) == {"date", "count", "plans"}
    assert (body["date"], body["count"]) == ("2025-03-14", 3)
    assert [plan["coach"] for plan in body["plans"]] == ["d", "s", "n"]  # COACHES order
    assert all(set(plan) == PLAN_FIELDS for plan in body["plans"])


def test_a_day_without_plans_is_an_empty_list(client: TestClient) -> None:
    body = client.get("/api/coach-plans/all?date=2025-03-14").json()
    assert body == {"date": "2025-03-14", "count": 0, "plans": []}


def test_history_lists_earlier_texts_newest_first(client: TestClient, plans: PlanService) -> None:
    posted = post(plans, text="v1")
    plans.edit(GUILD, "d", DAY, AUTHOR, text="v2")
    plans.edit(GUILD, "d", DAY, AUTHOR, text="v3")
    body = client.get("/api/coach-plans/history?coach=d&date=2025-03-14").json()
    assert set(body) == {"coach", "date", "plan_id", "history", "deleted"}
    assert (body["coach"], body["date"], body["plan_id"]) == ("d", "2025-03-14", posted.id)
    assert body["deleted"] is None  # a live plan
    assert [entry["plan_text"] for entry in body["history"]] == ["v2", "v1"]
    for entry in body["history"]:
        assert set(entry) == {"plan_text", "edited_by", "edited_at"}
        assert datetime.fromisoformat(entry["edited_at"]).utcoffset() == timedelta(0)


def test_a_deleted_plan_is_not_found(client: TestClient, plans: PlanService) -> None:
    post(plans)
    plans.delete(GUILD, "d", DAY, AUTHOR)
    assert_error(client.get("/api/coach-plans/?coach=d&date=2025-03-14"), 404)
    assert client.get("/api/coach-plans/all?date=2025-03-14").json()["count"] == 0


# --- as_of: the text as it stood at an instant -----------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 14, 14, 0, tzinfo=UTC))


@pytest.fixture
def timed(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """The app on the test's clock: each write is stamped with the time the test set."""
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


def test_as_of_returns_each_version_at_its_time(timed: TestClient, clock: Clock) -> None:
    client, plans = timed, timed.app_state["services"].plans
    first = post(plans, text="v1")
    clock.advance()
    second = plans.edit(GUILD, "d", DAY, AUTHOR, text="v2")
    clock.advance()
    third = plans.edit(GUILD, "d", DAY, AUTHOR, text="v3")
    assert second.edited_at is not None and third.edited_at is not None

    def text_at(moment: datetime) -> tuple[int, str | None]:
        response = client.get(
            "/api/coach-plans/",
            params={"coach": "d", "date": "2025-03-14", "as_of": moment.isoformat()},
        )
        return response.status_code, response.json().get("plan")

    half = timedelta(milliseconds=500)
    assert text_at(first.created_at - half) == (404, None)  # not posted yet
    assert text_at(first.created_at + half) == (200, "v1")
    assert text_at(second.edited_at + half) == (200, "v2")
    assert text_at(third.edited_at + half) == (200, "v3")
    # The same instant written with another offset reads the same version.
    in_tokyo = (second.edited_at + half).astimezone(ZoneInfo("Asia/Tokyo"))
    assert text_at(in_tokyo) == (200, "v2")
    before_delete = clock.advance()
    clock.advance()
    plans.delete(GUILD, "d", DAY, AUTHOR)
    assert text_at(before_delete) == (200, "v3")
    assert text_at(clock.advance()) == (404, None)


def test_health_and_metrics_tell_the_apps_time(timed: TestClient, clock: Clock) -> None:
    # The same clock stamps the plans and the status answers: a monitor comparing them sees one
    # time, and a test moves it instead of waiting.
    clock.advance(3600)
    for path in ("/health", "/metrics"):
        stamped = datetime.fromisoformat(timed.get(path).json()["timestamp"])
        assert stamped == datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


def test_as_of_accepts_a_z_suffix(client: TestClient, plans: PlanService) -> None:
    post(plans)
    later = (datetime.now(UTC) + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.get(f"/api/coach-plans/?coach=d&date=2025-03-14&as_of={later}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        ("2025-03-14T13:30:00", "has no UTC offset"),
        ("yesterday", "is not an ISO 8601 instant"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_a_naive_or_malformed_as_of_is_refused(client: TestClient, as_of: str, says: str) -> None:
    response = client.get("/api/coach-plans/", params={"coach": "d", "as_of": as_of})
    assert says in assert_error(response, 400)["message"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/coach-plans/?coach=x", 400, "d, i, s, n"),
        ("/api/coach-plans/history?coach=zed", 400, "d, i, s, n"),
        ("/api/coach-plans/?coach=d&date=2025-13-01", 400, "YYYY-MM-DD"),
        ("/api/coach-plans/all?date=14.03.2025", 400, "YYYY-MM-DD"),
        ("/api/coach-plans/all?date=", 400, "YYYY-MM-DD"),
        ("/api/coach-plans/?coach=", 400, "d, i, s, n"),
        ("/api/coach-plans/?coach=d&date=2025-03-14", 404, ""),
        ("/api/coach-plans/history?coach=d&date=2025-03-14", 404, ""),
        ("/api/coach-plans/", 422, "'coach' is required"),
        ("/api/coach-plans/history?date=2025-03-14", 422, "'coach' is required"),
        ("/api/coach-plans/?coach=d&data=2025-03-14", 422, "Unknown query parameter 'data'"),
        ("/api/coach-plans/all?coach=d", 422, "Unknown query parameter 'coach'"),
        ("/api/coach-plans/?coach=d&coach=i", 422, "more than once"),
        ("/api/coach-plans/all?date=" + "9" * 3000, 413, "too large"),
        ("/api/coach-plans/nope", 404, "No such endpoint"),
    ],
)
def test_bad_reads_get_a_json_error_that_says_why(
    client: TestClient, path: str, status: int, says: str
) -> None:
    body = assert_error(client.get(path), status)
    assert says in body["message"]


def test_other_methods_are_refused_with_405(client: TestClient) -> None:
    response = client.post("/api/coach-plans/", json={"coach": "d"})
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_a_read_with_a_body_is_refused_with_413(client: TestClient) -> None:
    response = client.request("GET", "/api/coach-plans/all", content=b"x" * 100)
    assert "too large" in assert_error(response, 413, "payload_too_large")["message"]


def test_a_server_failure_is_a_500_without_internals(settings: Settings) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        db = Path(settings.database_url.removeprefix("sqlite:///"))
        # Closed first: closing the last connection would checkpoint the WAL over the damage.
        engine = client.app_state["services"].engine
        engine.dispose()
        # Swapped in whole: the chart retry task starting meanwhile must not open the file while
        # it is empty (an empty database, "no such table") and keep that connection pooled.
        damaged = db.with_name("damaged.db")
        damaged.write_bytes(b"this is not a database" * 1000)
        damaged.replace(db)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        engine.dispose()  # nor any connection opened before the swap
        response = client.get(f"/api/coach-plans/?coach=d&date=2025-03-14&guild={GUILD}")
    body = assert_error(response, 500, "internal_error")
    for leak in ("sqlite", "Traceback", "database disk", str(db), "File "):
        assert leak.lower() not in response.text.lower()
    assert body["message"].startswith("Something went wrong on our side")

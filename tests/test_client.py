"""The Python client: reads from the real service, retries what may pass, refuses bad input."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.client import (
    ApiError,
    InvalidRequest,
    ServiceUnavailable,
    create_async_client,
    create_client,
)
from app.plans.service import PlanService
from app.records import Actor, NewChart, Place
from app.retry import Backoff, retry_after
from app.runtime.web import create_app
from app.settings import Settings
from app.storage.database import make_engine, migrate
from app.storage.repository import PlanRepository
from tests.conftest import FakeApi, settings_in
from tests.support.clock import Clock
from tests.support.live_server import live_server
from tests.support.retry_time import SetTime

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)


def mock_client(fake_api: FakeApi, clock: SetTime | None = None, **options: Any):  # type: ignore[no-untyped-def]
    """A client of the fake API whose waits between tries pass on `clock`, set by the test."""
    return create_client(
        api_base_url="http://api.test",
        transport=fake_api.transport(),
        sleep=(clock or SetTime()).sleep,
        **options,
    )


# --- against the real service -------------------------------------------------------------------


class Seeded:
    """A live service with plans written through the service's own rules."""

    def __init__(self, base_url: str, settings: Settings, plans: PlanService) -> None:
        self.base_url = base_url
        self.settings = settings
        self.plans = plans
        self.today = plans.today()
        self.created: datetime
        self.first_edit: datetime


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    settings = settings_in(tmp_path_factory.mktemp("client"))
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = Clock()  # from now: the client asks for today by the system's clock
    plans = PlanService(
        PlanRepository(engine, clock),
        coaches=settings.coaches,
        timezone=settings.zone,
        clock=clock,
    )
    today = plans.today()
    author = Actor(id="111", name="coach d")
    chart = NewChart("https://cdn.test/spy.png", "spy.png", "image/png", 1000)
    posted = plans.post("d", today, "Watch 950", author, charts=[chart], place=HERE)
    clock.advance()  # so each version has its own instant
    edited = plans.edit(GUILD, "d", today, author, text="Long above 950")
    clock.advance()
    plans.edit(GUILD, "d", today, author, text="Long above 955, stop 948")
    plans.post("i", today, "Flat today", Actor(id="222", name="coach i"), place=HERE)
    with live_server(create_app(settings, clock=clock)) as base_url:
        state = Seeded(base_url, settings, plans)
        state.created, state.first_edit = posted.created_at, edited.edited_at  # type: ignore[assignment]
        yield state
    engine.dispose()


def test_the_client_reads_todays_plan_from_the_service(seeded: Seeded) -> None:
    with create_client(api_base_url=seeded.base_url) as client:
        plan = client.fetch_coach_plan("d")
    assert plan is not None
    assert plan["plan"] == "Long above 955, stop 948"
    assert plan["date"] == seeded.today.isoformat()
    assert plan["charts"][0]["url"].startswith(f"{seeded.base_url}/charts/")


def test_a_coach_without_a_plan_reads_as_none(seeded: Seeded) -> None:
    with create_client(api_base_url=seeded.base_url) as client:
        assert client.fetch_coach_plan("s") is None
        assert client.fetch_history("s") is None


def test_all_plans_and_history_come_back_as_the_service_sends_them(seeded: Seeded) -> None:
    with create_client(api_base_url=seeded.base_url) as client:
        plans = client.fetch_all_coach_plans(seeded.today)
        history = client.fetch_history("d", seeded.today.isoformat())
    assert [plan["coach"] for plan in plans] == ["d", "i"]
    assert history is not None
    assert [entry["plan_text"] for entry in history["history"]] == ["Long above 950", "Watch 950"]


def test_as_of_reads_the_text_as_it_stood_then(seeded: Seeded) -> None:
    between = seeded.first_edit + timedelta(microseconds=1)
    with create_client(api_base_url=seeded.base_url) as client:
        then = client.fetch_coach_plan("d", seeded.today, as_of=between)
        before = client.fetch_coach_plan("d", seeded.today, as_of=seeded.created - timedelta(1))
    assert then is not None and then["plan"] == "Long above 950"
    assert before is None


def test_agent_state_names_every_coach(seeded: Seeded) -> None:
    with create_client(api_base_url=seeded.base_url) as client:
        state = client.agent_state()
    assert state["coach_d_plan"] == "Long above 955, stop 948"
    assert len(state["coach_d_charts"]) == 1 and state["coach_d_charts"][0].startswith("http")
    assert state["coach_i_plan"] == "Flat today"
    for coach in ("s", "n"):
        assert state[f"coach_{coach}_plan"].startswith("No plan")
        assert state[f"coach_{coach}_charts"] == []


def test_health_and_metrics_come_from_the_service(seeded: Seeded) -> None:
    with create_client(api_base_url=seeded.base_url) as client:
        client.fetch_coach_plan("d")
        client.fetch_coach_plan("d")
        health = client.check_health()
        metrics = client.get_metrics()
    assert health["status"] == "healthy"
    assert metrics["requests"]["total"] >= 1
    assert metrics["database"]["total_plans"] == 2
    assert metrics["client"] == {
        "cache_hits": 1,
        "cache_misses": 1,
        "api_calls": 3,  # the plan once, /health, /metrics
        "errors": 0,
        "retries": 0,
        "stale_served": 0,
    }


def test_the_async_client_reads_the_same_answers(seeded: Seeded) -> None:
    async def read() -> tuple[object, ...]:
        async with create_async_client(api_base_url=seeded.base_url) as client:
            return (
                await client.fetch_coach_plan("d"),
                await client.fetch_coach_plan("s"),
                await client.fetch_all_coach_plans(),
                await client.fetch_history("d"),
                await client.agent_state(),
                await client.check_health(),
                (await client.get_metrics())["client"]["cache_misses"],
            )

    plan, missing, plans, history, state, health, misses = asyncio.run(read())
    with create_client(api_base_url=seeded.base_url) as client:
        assert plan == client.fetch_coach_plan("d")
        assert plans == client.fetch_all_coach_plans()
        assert history == client.fetch_history("d")
        assert state == client.agent_state()
    assert missing is None
    assert health["status"] == "healthy"  # type: ignore[index]
    # agent_state reuses the cached list of all plans; it asks for the guild's roster and the
    # coaches' records once each.
    assert misses == 6


def test_the_api_key_is_sent_when_the_service_needs_one(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, api_key="s3cret")
    with live_server(create_app(settings)) as base_url:
        with create_client(api_base_url=base_url, api_key="s3cret") as client:
            assert client.fetch_coach_plan("d") is None
        with create_client(api_base_url=base_url, api_key="wrong") as client:
            with pytest.raises(ApiError) as refused:
                client.fetch_coach_plan("d")
            assert client.get_metrics()["client"]["retries"] == 0
    assert refused.value.status == 401


# --- retries, timeouts and refusals -------------------------------------------------------------


def test_server_errors_are_retried_until_an_answer_comes(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    fake_api.failures = [httpx.Response(500), httpx.Response(502), httpx.Response(503)]
    clock = SetTime()
    client = mock_client(fake_api, clock, reconnect_attempts=3, reconnect_delay_seconds=2)
    assert client.fetch_coach_plan("d", "2025-03-14")["plan"] == "Long above 950"
    counters = client.get_metrics()["client"]
    assert (counters["retries"], counters["errors"], counters["api_calls"]) == (3, 3, 5)
    # Backing off: the ceiling doubles (2, 4, 8 s), each wait between its half and itself.
    assert len(clock.waits) == 3
    for wait, ceiling in zip(clock.waits, (2, 4, 8), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_connection_errors_and_timeouts_are_retried(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    fake_api.failures = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")]
    client = mock_client(fake_api, reconnect_attempts=2)
    assert client.fetch_coach_plan("d", "2025-03-14") is not None
    assert client.get_metrics()["client"]["retries"] == 2


def test_too_many_requests_waits_as_long_as_retry_after_asks(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    fake_api.failures = [httpx.Response(429, headers={"Retry-After": "12"})]
    clock = SetTime()
    client = mock_client(fake_api, clock, reconnect_attempts=1)
    assert client.fetch_coach_plan("d", "2025-03-14") is not None
    assert clock.waits == [12.0]


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_a_refusal_is_never_retried(fake_api: FakeApi, status: int) -> None:
    fake_api.failures = [
        httpx.Response(status, json={"error": "nope", "message": "Bad.", "request_id": "r9"})
    ]
    client = mock_client(fake_api, reconnect_attempts=5)
    with pytest.raises(ApiError, match=r"Bad\.") as refused:
        client.fetch_coach_plan("d", "2025-03-14")
    assert (refused.value.status, refused.value.code, refused.value.request_id) == (
        status,
        "nope",
        "r9",
    )
    assert len(fake_api.requests) == 1


def test_the_service_staying_down_ends_in_service_unavailable(fake_api: FakeApi) -> None:
    fake_api.failures = [httpx.Response(503)] * 10
    clock = SetTime()
    client = mock_client(fake_api, clock, reconnect_attempts=2)
    with pytest.raises(ServiceUnavailable, match=r"after 3 tries.*HTTP 503"):
        client.fetch_all_coach_plans("2025-03-14")
    assert len(fake_api.requests) == 3
    assert len(clock.waits) == 2  # between the tries, none after the last


def test_a_slow_server_times_out_and_the_retry_gets_the_answer() -> None:
    calls = []

    async def slow_once(request: Request) -> Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            await asyncio.sleep(0.5)
        return JSONResponse({"date": "2025-03-14", "count": 0, "plans": []})

    app = Starlette(routes=[Route("/api/coach-plans/all", slow_once)])
    with (
        live_server(app) as base_url,
        create_client(
            api_base_url=base_url,
            connection_timeout=0.2,
            reconnect_attempts=2,
            sleep=SetTime().sleep,
        ) as client,
    ):
        assert client.fetch_all_coach_plans("2025-03-14") == []
        assert client.get_metrics()["client"]["retries"] == 1


def test_nothing_listening_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    base_url = f"http://127.0.0.1:{port}"
    with create_client(
        api_base_url=base_url, reconnect_attempts=1, sleep=SetTime().sleep
    ) as client:
        with pytest.raises(ServiceUnavailable, match="ConnectError"):
            client.fetch_coach_plan("d", "2025-03-14")
        assert client.check_health()["status"] == "unreachable"
        metrics = client.get_metrics()
    assert "error" in metrics and metrics["client"]["errors"] >= 2


def test_backoff_doubles_with_jitter_and_has_a_ceiling() -> None:
    low = Backoff(retries=5, base_delay=1.0, jitter=lambda: 0.0)
    high = Backoff(retries=5, base_delay=1.0, jitter=lambda: 1.0)
    assert [low.delay(n, None) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [high.delay(n, None) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert high.delay(10, None) == 60.0


def test_retry_after_may_be_seconds_or_a_date() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    now = Clock(datetime(2025, 3, 14, 13, 0, tzinfo=UTC))
    soon = format_datetime(now() + timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Response(503, headers={"Retry-After": soon}), now) == 30.0
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.fetch_coach_plan("x"), "unknown coach 'x'; the coaches are d, i"),
        (lambda c: c.fetch_history("", "2025-03-14"), "coach must be"),
        (lambda c: c.fetch_coach_plan("d", "14/03/2025"), "YYYY-MM-DD"),
        (lambda c: c.fetch_all_coach_plans(datetime.now(UTC)), "not a datetime"),
        (lambda c: c.fetch_coach_plan("d", as_of=datetime(2025, 3, 14, 9)), "no timezone"),
        (lambda c: c.fetch_coach_plan("d", as_of="yesterday"), "not an ISO 8601"),
    ],
)
def test_bad_input_is_refused_before_any_request(fake_api: FakeApi, call, message) -> None:  # type: ignore[no-untyped-def]
    client = mock_client(fake_api, coaches="d,i")
    with pytest.raises(InvalidRequest, match=message):
        call(client)
    assert fake_api.requests == []


def test_agent_state_says_no_plan_when_the_service_cannot_be_reached(fake_api: FakeApi) -> None:
    fake_api.down = True
    client = mock_client(fake_api, reconnect_attempts=0)
    state = client.agent_state(date(2025, 3, 14))
    keys = ("plan", "charts", "levels", "record")
    assert set(state) == {f"coach_{c}_{k}" for c in "disn" for k in keys}
    assert state["coach_d_record"] is None
    assert state["coach_d_plan"] == (
        "No plan from coach d for 2025-03-14: the Coach Plans service could not be reached."
    )


def test_the_client_sends_its_key_and_explicit_dates(fake_api: FakeApi) -> None:
    client = mock_client(fake_api, api_key="k1", timezone="Asia/Tokyo")
    client.fetch_coach_plan("D")
    sent = fake_api.requests[0]
    assert sent.headers["authorization"] == "Bearer k1"
    assert sent.url.params["coach"] == "d"
    assert sent.url.params["date"] == datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()


def test_settings_come_from_the_environment_when_not_given(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACHES", "a,b")
    monkeypatch.setenv("RECONNECT_ATTEMPTS", "0")
    fake_api.failures = [httpx.Response(503)]
    client = create_client(api_base_url="http://api.test", transport=fake_api.transport())
    with pytest.raises(InvalidRequest, match="the coaches are a, b"):
        client.fetch_coach_plan("d")
    with pytest.raises(ServiceUnavailable, match="after 1 tries"):
        client.fetch_coach_plan("a", "2025-03-14")
    monkeypatch.setenv("MAX_CACHE_SIZE", "many")
    with pytest.raises(ValueError, match="MAX_CACHE_SIZE"):
        create_client()


def test_the_async_client_retries_and_serves_stale_like_the_blocking_one(
    fake_api: FakeApi,
) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    fake_api.failures = [httpx.Response(502)]

    clock = SetTime()

    async def scenario() -> tuple[object, object, dict[str, int]]:
        async with create_async_client(
            api_base_url="http://api.test",
            transport=fake_api.transport(),
            cache_ttl_seconds=0,
            reconnect_attempts=1,
            sleep=clock.pause,
        ) as client:
            fresh = await client.fetch_coach_plan("d", "2025-03-14")
            fake_api.down = True
            stale = await client.fetch_coach_plan("d", "2025-03-14")
            fake_api.down = False
            return fresh, stale, (await client.get_metrics())["client"]

    fresh, stale, counters = asyncio.run(scenario())
    assert stale == {**fresh, "stale": True}  # type: ignore[dict-item]
    assert counters["retries"] == 2 and counters["stale_served"] == 1
    assert len(clock.waits) == 2  # after the 502, and once while the service was down


def test_discords_retry_after_in_the_body_wins_over_the_header() -> None:
    limited = httpx.Response(429, json={"retry_after": 0.25}, headers={"Retry-After": "9"})
    assert retry_after(limited) == 0.25
    assert Backoff(retries=3, base_delay=5.0).delay(0, limited) == 0.25


class SlowHost(SetTime):
    """Takes every connection and never answers: each try costs the whole connection timeout
    on the time the client is given, the time its waits between tries pass on too."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.tries += 1
        self.advance(request.extensions["timeout"]["connect"])
        raise httpx.ConnectTimeout("timed out", request=request)


@pytest.mark.parametrize("kind", ["blocking", "async"])
def test_a_read_gives_up_at_its_deadline_not_after_every_retry(kind: str) -> None:
    host = SlowHost()
    options: dict[str, Any] = {
        "api_base_url": "http://api.test",
        "connection_timeout": 2,
        "reconnect_attempts": 50,  # 50 tries of 2 s would be 100 s
        "reconnect_delay_seconds": 0.25,  # waits of 0.125-0.25 s, 0.25-0.5 s, 0.5-1 s...
        "deadline_seconds": 7,
        "timer": host.clock,
    }
    with pytest.raises(ServiceUnavailable, match="within its 7 s deadline"):
        if kind == "blocking":
            client = create_client(transport=httpx.MockTransport(host), sleep=host.sleep, **options)
            client.fetch_history("d")
        else:

            async def read() -> None:
                async with create_async_client(
                    transport=httpx.MockTransport(host), sleep=host.pause, **options
                ) as client:
                    await client.fetch_history("d")

            asyncio.run(read())
    # Three tries and two waits fit in 7 s; a third wait and a fourth try would not.
    assert (host.tries, len(host.waits)) == (3, 2)
    assert 6 < host.now <= 7

"""The client's cache: TTL, LRU eviction, short life of "no plan", today's key, stale answers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.client import ServiceUnavailable, create_client
from app.client.blocking import CoachPlansClient
from app.client.cache import MISSING, AnswerCache
from app.client.config import build_config
from app.client.core import ClientCore
from tests.conftest import FakeApi


class FakeTimer:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(fake_api: FakeApi, timer: FakeTimer, **options: Any) -> CoachPlansClient:
    options = {"reconnect_attempts": 1, "reconnect_delay_seconds": 0.001, **options}
    return create_client(
        api_base_url="http://api.test", transport=fake_api.transport(), timer=timer, **options
    )


# --- the cache itself ---------------------------------------------------------------------------


def test_an_answer_expires_after_the_ttl() -> None:
    timer = FakeTimer()
    cache = AnswerCache(ttl=10, absent_ttl=5, maxsize=4, timer=timer)
    cache.put("k", {"plan": "x"})
    timer.now += 9.9
    assert cache.get("k") == {"plan": "x"}
    timer.now += 0.2
    assert cache.get("k") is MISSING


def test_no_plan_is_trusted_for_less_time_than_a_plan() -> None:
    timer = FakeTimer()
    cache = AnswerCache(ttl=3600, absent_ttl=60, maxsize=4, timer=timer)
    cache.put("absent", None)
    cache.put("present", {"plan": "x"})
    timer.now += 61
    assert cache.get("absent") is MISSING
    assert cache.get("present") == {"plan": "x"}


def test_the_least_recently_used_answer_is_evicted_first() -> None:
    cache = AnswerCache(ttl=60, absent_ttl=60, maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now more recent than b
    cache.put("c", 3)
    assert cache.get("b") is MISSING
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_a_zero_ttl_caches_nothing_but_remembers_the_last_answer() -> None:
    cache = AnswerCache(ttl=0, absent_ttl=0, maxsize=2)
    cache.put("k", {"plan": "x"})
    assert cache.get("k") is MISSING
    assert cache.last_known("k") == {"plan": "x"}


def test_last_known_answers_are_bounded_too() -> None:
    cache = AnswerCache(ttl=60, absent_ttl=60, maxsize=2)
    for key in "abc":
        cache.put(key, key)
    assert cache.last_known("a") is MISSING
    assert cache.last_known("c") == "c"


def test_the_cache_stays_consistent_under_many_threads() -> None:
    cache = AnswerCache(ttl=60, absent_ttl=1, maxsize=50)
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        try:
            for n in range(2000):
                key = (seed * 7 + n) % 120
                if n % 3:
                    cache.get(key)
                else:
                    cache.put(key, None if key % 5 == 0 else {"n": key})
                cache.last_known(key)
        except BaseException as exc:  # collected so the main thread sees it
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 50


# --- the cache as a caller sees it ----------------------------------------------------------------


def test_a_second_fetch_is_served_from_the_cache(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    client = make_client(fake_api, FakeTimer())
    first = client.fetch_coach_plan("d", "2025-03-14")
    second = client.fetch_coach_plan("d", "2025-03-14")
    assert first == second and first is not None and first["plan"] == "Long above 950"
    assert len(fake_api.requests) == 1
    counters = client.get_metrics()["client"]
    assert (counters["cache_hits"], counters["cache_misses"]) == (1, 1)


def test_a_plan_is_fetched_again_once_the_ttl_has_passed(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "first")
    timer = FakeTimer()
    client = make_client(fake_api, timer, cache_ttl_seconds=30)
    client.fetch_coach_plan("d", "2025-03-14")
    fake_api.add_plan("d", "2025-03-14", "edited")
    timer.now += 29
    assert client.fetch_coach_plan("d", "2025-03-14")["plan"] == "first"  # type: ignore[index]
    timer.now += 2
    assert client.fetch_coach_plan("d", "2025-03-14")["plan"] == "edited"  # type: ignore[index]


def test_a_missing_plan_is_asked_for_again_after_a_minute(fake_api: FakeApi) -> None:
    timer = FakeTimer()
    client = make_client(fake_api, timer)
    assert client.fetch_coach_plan("d", "2025-03-14") is None
    fake_api.add_plan("d", "2025-03-14", "posted late")
    timer.now += 30
    assert client.fetch_coach_plan("d", "2025-03-14") is None  # still the cached "no plan"
    timer.now += 31
    assert client.fetch_coach_plan("d", "2025-03-14")["plan"] == "posted late"  # type: ignore[index]


def test_today_is_the_date_in_the_timezone_so_yesterday_is_never_served_as_today(
    fake_api: FakeApi,
) -> None:
    fake_api.add_plan("d", "2025-03-13", "Thursday's plan")
    fake_api.add_plan("d", "2025-03-14", "Friday's plan")
    now = [datetime(2025, 3, 14, 3, 59, tzinfo=UTC)]  # 23:59 on the 13th in New York
    config = build_config(
        api_base_url="http://api.test",
        api_key=None,
        coaches=None,
        timezone="America/New_York",
        cache_ttl_seconds=3600,
        max_cache_size=10,
        reconnect_attempts=0,
        reconnect_delay_seconds=0,
        connection_timeout=1,
    )
    client = CoachPlansClient(ClientCore(config, clock=lambda: now[0]), fake_api.transport())
    assert client.fetch_coach_plan("d")["plan"] == "Thursday's plan"  # type: ignore[index]
    now[0] += timedelta(minutes=2)  # midnight passes in New York, well within the TTL
    assert client.fetch_coach_plan("d")["plan"] == "Friday's plan"  # type: ignore[index]


def test_the_last_known_plan_is_served_as_stale_when_the_service_is_down(
    fake_api: FakeApi,
) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950", charts=1)
    timer = FakeTimer()
    client = make_client(fake_api, timer, cache_ttl_seconds=10)
    fresh = client.fetch_coach_plan("d", "2025-03-14")
    all_fresh = client.fetch_all_coach_plans("2025-03-14")
    fake_api.down = True
    timer.now += 3600
    stale = client.fetch_coach_plan("d", "2025-03-14")
    assert stale == {**fresh, "stale": True}  # type: ignore[dict-item]
    assert client.fetch_all_coach_plans("2025-03-14") == [{**all_fresh[0], "stale": True}]
    assert client.get_metrics()["client"]["stale_served"] == 2


def test_with_nothing_cached_a_down_service_is_an_error(fake_api: FakeApi) -> None:
    fake_api.down = True
    client = make_client(fake_api, FakeTimer())
    with pytest.raises(ServiceUnavailable, match="did not answer after 2 tries"):
        client.fetch_coach_plan("d", "2025-03-14")


def test_changing_a_returned_plan_does_not_change_the_cache(fake_api: FakeApi) -> None:
    fake_api.add_plan("d", "2025-03-14", "Long above 950")
    client = make_client(fake_api, FakeTimer())
    mine = client.fetch_coach_plan("d", "2025-03-14")
    mine["plan"] = "scribbled on"  # type: ignore[index]
    assert client.fetch_coach_plan("d", "2025-03-14")["plan"] == "Long above 950"  # type: ignore[index]


def test_threads_sharing_one_client_count_every_lookup(fake_api: FakeApi) -> None:
    for coach in "disn":
        fake_api.add_plan(coach, "2025-03-14", f"plan {coach}")
    client = make_client(fake_api, FakeTimer(), max_cache_size=2)
    errors: list[BaseException] = []

    def read(coach: str) -> None:
        try:
            for _ in range(50):
                assert client.fetch_coach_plan(coach, "2025-03-14")["coach"] == coach  # type: ignore[index]
        except BaseException as exc:  # collected so the main thread sees it
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(coach,)) for coach in "disn" * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counters = client.get_metrics()["client"]
    assert counters["cache_hits"] + counters["cache_misses"] == 400
    assert counters["cache_misses"] == len(fake_api.requests) - 1  # the last one is /metrics

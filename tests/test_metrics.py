"""/metrics as the contract's JSON and /metrics/prometheus as text: both move with the traffic."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app.observability.metrics import Metrics
from app.plans.service import PlanService
from app.records import Actor, Place

GUILD = "290926798626357999"
HERE = Place(guild_id=GUILD)


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics/prometheus")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_has_exactly_the_contracts_shape(client: TestClient) -> None:
    body = client.get("/metrics").json()
    assert set(body) == {"timestamp", "uptime_seconds", "requests", "interactions", "database"}
    assert set(body["requests"]) == {"total", "success", "error", "error_rate_percent"}
    assert set(body["interactions"]) == {"total", "by_command"}
    assert body["database"] == {"total_plans": 0, "total_charts": 0, "total_edits": 0}
    assert body["timestamp"].endswith("+00:00")
    assert body["uptime_seconds"] >= 0


def test_request_counters_move_by_outcome(client: TestClient) -> None:
    before = client.get("/metrics").json()["requests"]
    client.get("/health")
    client.get("/api/coach-plans/all")
    client.get("/api/coach-plans/?coach=nobody")
    after = client.get("/metrics").json()["requests"]
    # The first /metrics request is counted once it has answered, so it shows here.
    assert after["success"] - before["success"] == 3
    assert after["error"] - before["error"] == 1
    assert after["total"] == after["success"] + after["error"]
    assert after["error_rate_percent"] == round(100 * after["error"] / after["total"], 2)


def test_database_counters_follow_plans_charts_and_edits(client: TestClient) -> None:
    plans: PlanService = client.app_state["services"].plans
    author = Actor(id="111", name="coach d")
    plans.post("d", plans.today(), "Watch 950", author, place=HERE)
    plans.edit(GUILD, "d", plans.today(), author, text="Long above 950")
    assert client.get("/metrics").json()["database"] == {
        "total_plans": 1,
        "total_charts": 0,
        "total_edits": 1,
    }


def test_interactions_are_counted_by_command(client: TestClient) -> None:
    metrics = client.app_state["services"].metrics
    for command in ("plan", "plan", "history"):
        metrics.count_interaction(command)
    assert client.get("/metrics").json()["interactions"] == {
        "total": 3,
        "by_command": {"plan": 2, "history": 1},
    }
    assert samples(client)[("coach_plans_interactions_total", (("command", "plan"),))] == 2


def test_prometheus_counts_requests_and_times_each_route(client: TestClient) -> None:
    first = samples(client)
    for _ in range(3):
        client.get("/api/coach-plans/all")
    client.get("/no/such/page")
    second = samples(client)
    route = (("method", "GET"), ("route", "/api/coach-plans/all"))
    assert second[("coach_plans_request_duration_seconds_count", route)] == 3
    assert ("coach_plans_request_duration_seconds_bucket", (("le", "0.005"), *route)) in second
    success = ("coach_plans_requests_total", (("outcome", "success"),))
    error = ("coach_plans_requests_total", (("outcome", "error"),))
    assert second[success] - first.get(success, 0) == 4  # three reads and the first scrape
    assert second[error] - first.get(error, 0) == 1


def test_prometheus_buckets_are_cumulative_and_a_bound_holds_its_own_value() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.005, 0.0051, 7.0):  # 7 s: beyond the last bound
        metrics.observe("GET", "/x", 200, seconds)
    text = generate_latest(metrics.registry).decode()
    counts = {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "coach_plans_request_duration_seconds_bucket"
    }
    assert counts["0.001"] == 1
    assert counts["0.0025"] == 1
    assert counts["0.005"] == 2  # "le": 0.005 s itself is in the 0.005 bucket
    assert counts["0.01"] == 3
    assert counts["5.0"] == 3
    assert counts["+Inf"] == 4
    assert metrics.snapshot()["requests"] == {
        "total": 4,
        "success": 4,
        "error": 0,
        "error_rate_percent": 0.0,
    }

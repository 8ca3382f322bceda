"""API_KEY guards the read API, charts and metrics; CORS_ORIGINS decides which browsers may read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from app.runtime.web import create_app
from app.settings import Settings

GUARDED = [
    "/api/coach-plans/?coach=d",
    "/api/coach-plans?coach=d",
    "/api/coach-plans/all",
    "/api/coach-plans/history?coach=d",
    "/api/unknown",
    "/charts/1",
    "/metrics",
    "/metrics/prometheus",
]
OPEN = ["/", "/health", "/openapi.json"]


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient]:
    keyed_settings = settings.model_copy(update={"api_key": SecretStr("s3cret-key")})
    with TestClient(create_app(keyed_settings)) as client:
        yield client


def cors_client(settings: Settings, origins: list[str]) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"cors_origins": origins})))


@pytest.mark.parametrize("path", GUARDED)
def test_guarded_paths_need_the_key(keyed: TestClient, path: str) -> None:
    response = keyed.get(path, headers={"X-Request-ID": "req-1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": "unauthorized",
        "message": "Missing API key: send the header 'Authorization: Bearer <API_KEY>'.",
        "request_id": "req-1",
    }


@pytest.mark.parametrize("path", GUARDED)
def test_the_right_key_opens_guarded_paths(keyed: TestClient, path: str) -> None:
    response = keyed.get(path, headers={"Authorization": "Bearer s3cret-key"})
    assert response.status_code != 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-key",
        "Bearer s3cret-key-and-more",
        "Bearer ",
        "Basic czNjcmV0LWtleQ==",
        "s3cret-key",
    ],
)
def test_a_wrong_key_is_refused(keyed: TestClient, header: str) -> None:
    response = keyed.get("/api/coach-plans/all", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_the_scheme_name_is_case_insensitive(keyed: TestClient) -> None:
    response = keyed.get("/metrics", headers={"Authorization": "bearer s3cret-key"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", OPEN)
def test_status_and_discovery_stay_open(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_health_without_the_key_says_only_up_or_down(settings: Settings) -> None:
    # Mock mode, so that the answer would have it to show.
    mock = {"mock_mode": True, "discord_public_key": None}
    keyed = settings.model_copy(update={"api_key": SecretStr("s3cret-key"), **mock})
    with TestClient(create_app(keyed)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            brief = client.get("/health", headers=headers)
            assert brief.status_code == 200
            assert set(brief.json()) == {"status", "timestamp"}
            assert brief.json()["status"] == "healthy" and "mock" not in brief.text
        full = client.get("/health", headers={"Authorization": "Bearer s3cret-key"}).json()
        assert full["components"]["discord"]["status"] == "mock"
        assert full["components"]["database"] == {"status": "up", "plan_count": 0}
        # The platform's check, which sends no key, still tells a broken database.
        db = Path(keyed.database_url.removeprefix("sqlite:///"))
        db.write_bytes(b"this is not a database" * 1000)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        down = client.get("/health")
        assert down.status_code == 503 and down.json()["status"] == "unhealthy"
        assert set(down.json()) == {"status", "timestamp"}


def test_interactions_are_not_asked_for_the_key(keyed: TestClient) -> None:
    # Discord signs its requests instead; whatever /interactions answers, it is not our 401.
    response = keyed.post("/interactions", content=b"{}")
    assert "www-authenticate" not in response.headers


def test_without_api_key_everything_is_open(client: TestClient) -> None:
    assert client.get("/api/coach-plans/all").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_any_origin_may_read_by_default(client: TestClient) -> None:
    response = client.get("/api/coach-plans/all", headers={"Origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_an_allowed_origin_is_echoed_and_a_refused_one_is_not(settings: Settings) -> None:
    with cors_client(settings, ["https://desk.example"]) as client:
        allowed = client.get("/api/coach-plans/all", headers={"Origin": "https://desk.example"})
        refused = client.get("/api/coach-plans/all", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers


def test_preflight_is_answered_for_an_allowed_origin_only(settings: Settings) -> None:
    preflight = {"Access-Control-Request-Method": "GET"}
    with cors_client(settings, ["https://desk.example"]) as client:
        allowed = client.options(
            "/api/coach-plans/",
            headers={
                **preflight,
                "Origin": "https://desk.example",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        refused = client.options(
            "/api/coach-plans/", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "GET" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_preflight_needs_no_key_and_the_401_is_readable_cross_origin(settings: Settings) -> None:
    keyed = settings.model_copy(
        update={"api_key": SecretStr("k"), "cors_origins": ["https://desk.example"]}
    )
    origin = {"Origin": "https://desk.example"}
    with TestClient(create_app(keyed)) as client:
        preflight = client.options(
            "/api/coach-plans/all", headers={**origin, "Access-Control-Request-Method": "GET"}
        )
        unauthorized = client.get("/api/coach-plans/all", headers=origin)
    assert preflight.status_code == 200
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == "https://desk.example"

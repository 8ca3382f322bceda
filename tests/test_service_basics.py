"""The service's outside before any feature: index, health, request ids, JSON errors, logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app import __version__
from app.observability.logs import configure_logging
from app.runtime.web import create_app
from app.settings import Settings


def test_index_names_the_service_and_its_endpoints(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "coach-plans"
    assert body["version"] == __version__
    assert "GET /health" in body["endpoints"]
    assert "POST /interactions" in body["endpoints"]


def test_health_queries_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert body["components"]["database"] == {"status": "up", "plan_count": 0}
    assert body["components"]["discord"]["status"] == "configured"
    assert body["timestamp"].endswith("+00:00")


def test_health_is_503_when_the_database_is_broken(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        # Another program wrecks the file under the running service.
        db = Path(settings.database_url.removeprefix("sqlite:///"))
        db.write_bytes(b"this is not a database" * 1000)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        response = client.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["components"]["database"]["status"] == "down"


def test_health_reports_mock_mode(settings: Settings) -> None:
    mock = settings.model_copy(update={"mock_mode": True, "discord_public_key": None})
    with TestClient(create_app(mock)) as client:
        assert client.get("/health").json()["components"]["discord"]["status"] == "mock"
    assert mock.mock_key_file.exists()


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/").headers["x-request-id"]
    assert first and second and first != second


def test_a_valid_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/", headers={"X-Request-ID": "trace-42.abc"})
    assert response.headers["x-request-id"] == "trace-42.abc"


@pytest.mark.parametrize("bad", ["", "x" * 200, "has space", "semi;colon", "é"])
def test_an_unsafe_incoming_request_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/", headers={"X-Request-ID": bad.encode("utf-8")})
    assert response.headers["x-request-id"] not in ("", bad)
    assert len(response.headers["x-request-id"]) == 32


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/nope", headers={"X-Request-ID": "abc"})
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "No such endpoint: /nope. GET / lists the endpoints.",
        "request_id": "abc",
    }


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def _file_log_lines(settings: Settings) -> list[dict[str, object]]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = Path(settings.log_file).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _close_log_handlers() -> None:
    """Undo configure_logging: the handlers go, and their log files are closed."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()


@pytest.fixture
def json_logging(settings: Settings) -> Iterator[Settings]:
    settings = settings.model_copy(update={"log_format": "json"})
    configure_logging(settings)
    yield settings
    _close_log_handlers()


def test_access_line_per_request_with_request_id(json_logging: Settings) -> None:
    with TestClient(create_app(json_logging)) as client:
        client.get("/health", headers={"X-Request-ID": "req-123"})
    lines = _file_log_lines(json_logging)
    access = [line for line in lines if line["logger"] == "coach_plans.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "req-123"
    assert access[0]["method"] == "GET"
    assert access[0]["path"] == "/health"
    assert access[0]["status"] == 200
    assert isinstance(access[0]["duration_ms"], float)


def test_lines_logged_outside_requests_have_no_request_id(json_logging: Settings) -> None:
    logging.getLogger("coach_plans").info("hello")
    line = _file_log_lines(json_logging)[-1]
    assert line["message"] == "hello"
    assert line["request_id"] == "-"


def test_text_log_lines_show_the_request_id(settings: Settings) -> None:
    configure_logging(settings)
    try:
        with TestClient(create_app(settings)) as client:
            client.get("/", headers={"X-Request-ID": "text-req-9"})
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = Path(settings.log_file).read_text()
    finally:
        _close_log_handlers()
    assert "[text-req-9] coach_plans.access: GET / 200" in text


def test_log_file_rotates_and_keeps_backup_count(settings: Settings) -> None:
    settings = settings.model_copy(update={"log_max_size_mb": 0.001, "log_backup_count": 2})
    configure_logging(settings)
    try:
        for n in range(200):
            logging.getLogger("coach_plans").info("line %d %s", n, "x" * 50)
    finally:
        _close_log_handlers()
    files = sorted(p.name for p in Path(settings.log_file).parent.iterdir())
    assert files == ["coach_plans.log", "coach_plans.log.1", "coach_plans.log.2"]
    assert Path(settings.log_file).stat().st_size <= 1100

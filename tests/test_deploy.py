"""fly.toml and the Dockerfile agree with the service's own settings and routes."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

import pytest

from app.settings import load_settings
from app.web import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fly() -> dict:
    return tomllib.loads((ROOT / "fly.toml").read_text())


def test_fly_env_is_valid_settings(fly: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in fly["env"].items():
        monkeypatch.setenv(name, value)
    settings = load_settings(discord_public_key="ab" * 32)
    assert settings.api_port == fly["http_service"]["internal_port"]
    assert settings.api_host == "0.0.0.0"


def test_fly_scales_to_zero_behind_https(fly: dict) -> None:
    service = fly["http_service"]
    assert service["force_https"] is True
    assert service["auto_stop_machines"] in ("stop", "suspend", True)
    assert service["auto_start_machines"] is True
    assert service["min_machines_running"] == 0


def test_fly_health_check_hits_a_real_route(fly: dict) -> None:
    (check,) = fly["http_service"]["checks"]
    app = create_app(load_settings(mock_mode=True))
    paths = {getattr(route, "path", None) for route in app.routes}
    assert check["path"] == "/health" and check["path"] in paths
    assert check["method"] == "GET"


def test_database_charts_and_logs_live_on_the_volume(fly: dict) -> None:
    mount = PurePosixPath(fly["mounts"]["destination"])
    env = fly["env"]
    for name in ("DATABASE_PATH", "CHART_STORAGE_DIR", "LOG_FILE"):
        assert mount in PurePosixPath(env[name]).parents, name


def test_secrets_are_named_but_never_set_in_fly_toml(fly: dict) -> None:
    text = (ROOT / "fly.toml").read_text()
    assert "fly secrets set DISCORD_PUBLIC_KEY=" in text
    for secret in ("DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN", "API_KEY"):
        assert secret not in fly["env"]


def test_image_is_slim_and_drops_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "compileall" in dockerfile
    assert "--reuid=coach" in dockerfile
    assert "'.[dev]'" not in dockerfile  # no test tools in the runtime image

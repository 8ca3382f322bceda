"""fly.toml and the Dockerfile agree with the service's own settings and routes."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.runtime.web import create_app
from app.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_fly_env_is_valid_settings(fly: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in fly["env"].items():
        monkeypatch.setenv(name, value)
    settings = load_settings(discord_public_key="ab" * 32)
    assert settings.api_port == fly["http_service"]["internal_port"]
    assert settings.api_host == "0.0.0.0"


def test_fly_scales_to_zero_behind_https(fly: dict[str, Any]) -> None:
    service = fly["http_service"]
    assert service["force_https"] is True
    assert service["auto_stop_machines"] in ("stop", "suspend", True)
    assert service["auto_start_machines"] is True
    assert service["min_machines_running"] == 0


def test_fly_health_check_hits_a_real_route(fly: dict[str, Any], tmp_path: Path) -> None:
    (check,) = fly["http_service"]["checks"]
    # The index lists the route table; it needs no storage, so no lifespan runs here.
    settings = load_settings(mock_mode=True, mock_key_file=tmp_path / "mock.key")
    listed = TestClient(create_app(settings)).get("/").json()["endpoints"]
    assert check["path"] == "/health" and "GET /health" in listed
    assert check["method"] == "GET"


def test_database_charts_and_logs_live_on_the_volume(fly: dict[str, Any]) -> None:
    mount = PurePosixPath(fly["mounts"]["destination"])
    env = fly["env"]
    for name in ("DATABASE_PATH", "CHART_STORAGE_DIR", "LOG_FILE"):
        assert mount in PurePosixPath(env[name]).parents, name


# What `fly postgres attach` and `fly storage create` add as secrets (README, "Several instances").
FLY_SECRETS = {
    "DATABASE_URL": "postgres://coach_plans:pw@coach-plans-db.flycast:5432/coach_plans"
    "?sslmode=disable",
    "BUCKET_NAME": "coach-plans-charts",
    "AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev",
    "AWS_ACCESS_KEY_ID": "tid_key",
    "AWS_SECRET_ACCESS_KEY": "tsec_secret",
    "AWS_REGION": "auto",
}


def test_several_instances_run_on_fly_postgres_and_tigris_as_the_readme_sets_them(
    fly: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.runtime.services import open_store
    from app.storage.database import make_engine

    env = {k: v for k, v in fly["env"].items() if k not in ("DATABASE_PATH", "CHART_STORAGE_DIR")}
    for name, value in {**env, "LOG_FILE": "", **FLY_SECRETS}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(discord_public_key="ab" * 32)
    assert open_store(settings).backend == "bucket"
    assert settings.chart_bucket == "coach-plans-charts"
    engine = make_engine(settings.database_url)
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    engine.dispose()


def test_the_single_machine_env_with_the_attached_database_url_does_not_start(
    fly: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why the README has the bucket come first on a deployed app: `fly storage create` restarts
    # the machine with every secret set so far, and fly.toml's DATABASE_PATH is still there.
    from app.settings import SettingsError

    for name, value in {**fly["env"], **FLY_SECRETS}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="DATABASE_PATH and DATABASE_URL are both set"):
        load_settings(discord_public_key="ab" * 32)


def test_secrets_are_named_but_never_set_in_fly_toml(fly: dict[str, Any]) -> None:
    text = (ROOT / "fly.toml").read_text()
    assert "fly secrets set DISCORD_PUBLIC_KEY=" in text
    for secret in ("DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN", "API_KEY"):
        assert secret not in fly["env"]


def test_image_is_slim_and_drops_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    start = (ROOT / "scripts" / "container-start.sh").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "compileall" in dockerfile
    assert 'CMD ["container-start", "coach-plans", "serve"]' in dockerfile
    assert "exec setpriv --reuid=" in start
    assert "'.[dev]'" not in dockerfile  # no test tools in the runtime image


def test_the_image_installs_dependencies_from_the_lock_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert "pip install --no-compile --require-hashes -r requirements.lock" in dockerfile
    # The project itself adds nothing the lock did not pin.
    assert "pip install --no-compile --no-deps ." in dockerfile


def test_fly_gives_the_graceful_shutdown_time_to_finish(fly: dict[str, Any]) -> None:
    assert fly["kill_signal"] == "SIGTERM"  # what serve finishes in-flight requests on
    cli = (ROOT / "app" / "cli.py").read_text()
    grace = int(re.search(r'"timeout_graceful_shutdown": (\d+)', cli)[1])  # type: ignore[index]
    assert int(fly["kill_timeout"].removesuffix("s")) > grace


@pytest.mark.skipif(os.geteuid() != 0, reason="handing a folder to another user needs root")
def test_the_container_start_hands_the_volume_over_only_when_its_owner_differs(
    tmp_path: Path,
) -> None:
    volume = tmp_path / "data"
    (volume / "charts").mkdir(parents=True)
    for n in range(50):
        (volume / "charts" / f"{n}.png").write_bytes(b"x")
    env = {**os.environ, "DATA_DIR": str(volume), "SERVICE_USER": "nobody"}
    start = [str(ROOT / "scripts" / "container-start.sh"), "id", "-un"]
    first = subprocess.run(start, env=env, capture_output=True, text=True, check=True)
    assert first.stdout.strip() == "nobody"  # the service runs as the service user
    owners = {path.owner() for path in [volume, *volume.rglob("*")]}
    assert owners == {"nobody"}
    changed = {path: path.stat().st_ctime_ns for path in volume.rglob("*")}
    second = subprocess.run(start, env=env, capture_output=True, text=True, check=True)
    assert second.stdout.strip() == "nobody"
    # Nothing was touched the second time: a wake does not walk the whole volume.
    assert {path: path.stat().st_ctime_ns for path in volume.rglob("*")} == changed


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "coach-plans serve --mock"),
        ({"DISCORD_PUBLIC_KEY": "ab" * 32}, "coach-plans serve"),
        ({"CONFIG": "my.yaml"}, "coach-plans serve --config my.yaml"),
    ],
)
def test_make_run_starts_one_serve_command(env: dict[str, str], expected: str) -> None:
    # What `make run` would run, as one shell command: mock mode unless a key or a config is given.
    clean = {k: v for k, v in os.environ.items() if k not in {"DISCORD_PUBLIC_KEY", "CONFIG"}}
    done = subprocess.run(
        ["make", "-n", "run"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    commands = done.stdout.replace("\\\n", " ").splitlines()
    [serve] = [" ".join(line.split()) for line in commands if "coach-plans serve" in line]
    assert serve.endswith(expected)

"""Shared fixtures: settings on a temp folder, a signer with a fresh key, the app and its client."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.runtime.web import create_app
from app.settings import Settings, load_settings
from app.storage.database import make_engine, migrate
from tests.support.discord_edge import Discord, FakeDiscord, discord_app, fast_settings

pytest_plugins = ["tests.support.postgres_server", "tests.support.bucket_server"]

# The suite's plans have fixed dates, some of them years back, which PLAN_DAYS_BACK would refuse
# as time passes: the window is off here, and tests/test_quotas.py tests it.
FIXED_DATES: dict[str, Any] = {"plan_days_back": 0}

_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"COACH_PLANS_CONFIG"}
_CHECKOUT = Path(__file__).resolve().parent.parent


def _default_paths_files() -> set[Path]:
    """The files under the folders the default settings write to (./data, ./logs)."""
    roots = {_CHECKOUT, Path.cwd()}
    return {path for root in roots for d in ("data", "logs") for path in (root / d).rglob("*")}


@pytest.fixture(scope="session", autouse=True)
def _checkout_stays_clean() -> Iterator[None]:
    """Every test keeps its files in a temp folder: a run leaves nothing in the checkout."""
    before = _default_paths_files()
    yield
    made = sorted(map(str, _default_paths_files() - before))
    assert not made, f"the tests wrote into the checkout: {made}; give them a tmp_path"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own settings must not leak into a test."""
    for name in list(os.environ):
        if name.upper() in _SETTING_NAMES:
            monkeypatch.delenv(name)
    # No test reaches Yahoo (the default price source); a grading test names its own source.
    monkeypatch.setenv("PRICE_SOURCE", "none")


@pytest.fixture
def signer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def settings(tmp_path: Path, signer: SigningKey) -> Settings:
    return load_settings(
        discord_public_key=signer.verify_key.encode().hex(),
        discord_application_id="123456789012345678",
        database_path=tmp_path / "data" / "coach_plans.db",
        chart_storage_dir=tmp_path / "data" / "charts",
        log_file=str(tmp_path / "logs" / "coach_plans.log"),
        mock_key_file=tmp_path / "data" / "mock_signing.key",
        discord_api_base_url="http://discord.test/api/v10",
        **FIXED_DATES,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a new database of the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'plans.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# --- the read API's far side, for client tests -------------------------------------------------


class FakeApi:
    """A stand-in for the read API behind an httpx.MockTransport: canned plans, failures on cue.

    `failures` are served first, one per request (a Response is returned, an exception raised);
    `down = True` refuses every connection.
    """

    def __init__(self) -> None:
        self.plans: dict[tuple[str, str], dict[str, object]] = {}
        self.requests: list[httpx.Request] = []
        self.failures: list[httpx.Response | Exception] = []
        self.down = False

    def add_plan(self, coach: str, day: str, text: str, charts: int = 0) -> dict[str, object]:
        plan: dict[str, object] = {
            "id": len(self.plans) + 1,
            "coach": coach,
            "date": day,
            "plan": text,
            "author": "coach",
            "author_id": "111",
            "channel": "plans",
            "channel_id": "222",
            "guild_id": "333",
            "created_at": f"{day}T12:00:00+00:00",
            "edited_at": None,
            "charts": [
                {
                    "id": n,
                    "url": f"http://api.test/charts/{n}",
                    "filename": f"c{n}.png",
                    "content_type": "image/png",
                }
                for n in range(1, charts + 1)
            ],
        }
        self.plans[coach, day] = plan
        return plan

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        query = request.url.params
        path = request.url.path.rstrip("/")
        if path == "/api/coach-plans/all":
            day = query["date"]
            plans = [plan for (_, d), plan in sorted(self.plans.items()) if d == day]
            return httpx.Response(200, json={"date": day, "count": len(plans), "plans": plans})
        plan = self.plans.get((query.get("coach", ""), query.get("date", "")))
        if path in ("/api/coach-plans", "/api/coach-plans/history") and plan is None:
            return _fake_error(404, "plan_not_found", "No plan.")
        if path == "/api/coach-plans":
            return httpx.Response(200, json=plan)
        if path == "/api/coach-plans/history":
            assert plan is not None
            body = {"coach": plan["coach"], "date": plan["date"], "plan_id": plan["id"]}
            return httpx.Response(200, json={**body, "history": [], "deleted": None})
        if path == "/metrics":
            return httpx.Response(200, json={"requests": {"total": len(self.requests)}})
        if path == "/health":
            return httpx.Response(200, json={"status": "healthy"})
        return _fake_error(404, "not_found", "No such endpoint.")


def _fake_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "message": message, "request_id": "r1"})


@pytest.fixture
def discord(settings: Settings, signer: SigningKey) -> Iterator[Discord]:
    """The app on a test client, Discord faked at its HTTP edge (tests/support/discord_edge.py)."""
    with discord_app(fast_settings(settings), signer) as app:
        yield app


@pytest.fixture
def fake() -> FakeDiscord:
    return FakeDiscord()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database, SQLite and PostgreSQL in turn."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fly() -> dict[str, Any]:
    """fly.toml, as Fly reads it."""
    return tomllib.loads((Path(__file__).resolve().parent.parent / "fly.toml").read_text())


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


def settings_in(folder: Path, **overrides: Any) -> Settings:
    """Settings on their own folder, for fixtures that outlive one test (a module's server)."""
    with pytest.MonkeyPatch.context() as patch:
        # Such fixtures start before the per-test environment cleaning, so clean here too.
        for name in list(os.environ):
            if name.upper() in _SETTING_NAMES:
                patch.delenv(name)
        return load_settings(
            discord_public_key=SigningKey.generate().verify_key.encode().hex(),
            discord_application_id="123456789012345678",
            database_path=folder / "data" / "coach_plans.db",
            chart_storage_dir=folder / "data" / "charts",
            log_file=str(folder / "logs" / "coach_plans.log"),
            mock_key_file=folder / "data" / "mock_signing.key",
            discord_api_base_url="http://discord.test/api/v10",
            **(FIXED_DATES | {"price_source": "none"} | overrides),
        )

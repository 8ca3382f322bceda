"""Shared fixtures: settings on a temp folder, a signer with a fresh key, the app and its client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from starlette.testclient import TestClient

from app.settings import Settings, load_settings
from app.web import create_app

pytest_plugins = ["tests.postgres_server"]

_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"COACH_PLANS_CONFIG"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own settings must not leak into a test."""
    for name in list(os.environ):
        if name.upper() in _SETTING_NAMES:
            monkeypatch.delenv(name)


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
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client

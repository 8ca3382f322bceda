"""Settings: environment beats YAML beats defaults; bad values stop start-up with exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings
from tests.support.service_process import base_env

KEY = "ab" * 32


def test_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", KEY)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./data/coach_plans.db"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 5000)
    assert settings.coaches == ["d", "i", "s", "n"]
    assert settings.timezone == "America/New_York"
    assert settings.cors_origins == ["*"]
    assert settings.max_chart_attachments == 10
    assert settings.max_chart_bytes == 10485760
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert (settings.log_level, settings.log_format) == ("INFO", "text")
    assert (settings.cache_ttl_seconds, settings.max_cache_size) == (3600, 100)
    assert settings.mock_mode is False


def test_environment_beats_yaml_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"DISCORD_PUBLIC_KEY: {KEY}\napi_port: 6000\nTIMEZONE: Europe/London\ncoaches: [a, b]\n"
    )
    monkeypatch.setenv("API_PORT", "7000")
    settings = load_settings(config)
    assert settings.api_port == 7000  # environment
    assert settings.timezone == "Europe/London"  # YAML, upper-case key
    assert settings.coaches == ["a", "b"]  # YAML list
    assert settings.log_level == "INFO"  # default


def test_comma_separated_lists_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACHES", "D, Alpha ,z")
    monkeypatch.setenv("ALLOWED_GUILD_IDS", "123,456")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example,https://b.example")
    settings = load_settings(mock_mode=True)
    assert settings.coaches == ["d", "alpha", "z"]
    assert settings.allowed_guild_ids == ["123", "456"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_database_path_is_shorthand_for_a_sqlite_url(tmp_path: Path) -> None:
    settings = load_settings(mock_mode=True, database_path=tmp_path / "x.db")
    assert settings.database_url == f"sqlite:///{tmp_path / 'x.db'}"


def test_database_path_and_url_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(mock_mode=True, database_path=tmp_path / "x.db", database_url="sqlite://")
    assert "DATABASE_PATH" in str(caught.value)


def test_public_key_is_required_outside_mock_mode() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems == [
        "DISCORD_PUBLIC_KEY: required unless mock mode is on (--mock or MOCK_MODE=true)"
    ]


def test_secrets_never_show_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "bot-token-secret-value")
    monkeypatch.setenv("API_KEY", "api-key-secret-value")
    settings = load_settings(mock_mode=True)
    assert "secret-value" not in repr(settings)
    assert "secret-value" not in str(settings.model_dump())
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "api-key-secret-value"
    monkeypatch.setenv("API_KEY", "")
    monkeypatch.setenv("API_PORT", "nope")
    with pytest.raises(SettingsError) as caught:
        load_settings(mock_mode=True)
    assert "secret-value" not in str(caught.value)


BAD_SETTINGS = [
    ({"API_PORT": "abc"}, "API_PORT"),
    ({"API_PORT": "70000"}, "API_PORT"),
    ({"TIMEZONE": "Mars/Base"}, "TIMEZONE"),
    ({"COACHES": ""}, "COACHES"),
    ({"COACHES": "d,i,D"}, "COACHES"),
    ({"DISCORD_PUBLIC_KEY": "abc123"}, "DISCORD_PUBLIC_KEY"),
    ({"DISCORD_PUBLIC_KEY": "zz" * 32}, "DISCORD_PUBLIC_KEY"),
    ({"MAX_CHART_ATTACHMENTS": "50"}, "MAX_CHART_ATTACHMENTS"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ({"MOCK_MODE": "true"}, "MOCK_MODE"),  # beside the real DISCORD_PUBLIC_KEY below
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {**base_env("/usr/bin:/bin"), "HOME": str(tmp_path), "LOG_FILE": str(tmp_path / "l.log")}
    return subprocess.run(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", *args],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "name"), BAD_SETTINGS, ids=[f"{n}={e[n]}" for e, n in BAD_SETTINGS]
)
def test_bad_setting_stops_start_up_with_exit_2(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    port = _free_port()
    # --port would beat API_PORT, so it is passed only when API_PORT is not the one under test.
    flags = [] if "API_PORT" in env else ["--port", str(port)]
    env = {"DISCORD_PUBLIC_KEY": KEY, "API_PORT": str(port), **env}
    result = _serve(tmp_path, env, *flags)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert "Traceback" not in result.stderr
    # Start-up stopped before the port was bound: nothing listens there.
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_mock_mode_beside_a_real_public_key_does_not_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _serve(tmp_path, {"DISCORD_PUBLIC_KEY": KEY}, "--mock", "--port", str(_free_port()))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "MOCK_MODE" in line and "unset DISCORD_PUBLIC_KEY" in line
    # The tools that only borrow mock mode's "no key needed" still load such settings.
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", KEY)
    assert load_settings(mock_mode=True).discord_public_key == KEY


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    env = {"API_PORT": "abc", "TIMEZONE": "Mars/Base", "MAX_CHART_ATTACHMENTS": "50"}
    result = _serve(tmp_path, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4  # the three above, and the missing DISCORD_PUBLIC_KEY
    for name in ["API_PORT", "TIMEZONE", "MAX_CHART_ATTACHMENTS", "DISCORD_PUBLIC_KEY"]:
        assert sum(name in line for line in lines) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("api_port: [unclosed\n", "not valid YAML"),
        ("no_such_setting: 1\n", "NO_SUCH_SETTING: unknown setting"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_bad_config_file_stops_start_up(tmp_path: Path, content: str, expected: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(content)
    result = _serve(tmp_path, {"DISCORD_PUBLIC_KEY": KEY}, "--config", str(config))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = _serve(tmp_path, {}, "--mock", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr

"""register_commands.py against the fake Discord at the HTTP edge, which keeps commands per scope
like Discord does and can be told to refuse or rate-limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import register_commands
from app.discord.rest import USER_AGENT
from app.settings import load_settings
from commands.registry import registry
from tests.support.discord_edge import APP_ID, FakeDiscord
from tests.support.discord_schema import check_commands
from tests.support.retry_time import SetTime
from tests.support.service_process import free_port

GUILD = "222222222222222222"
TOKEN = "fake-bot-token-value"


@pytest.fixture
def fake() -> FakeDiscord:
    return FakeDiscord(bot_token=TOKEN)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISCORD_APPLICATION_ID", APP_ID)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://discord.test/api/v10")
    monkeypatch.chdir(tmp_path)


def run(fake: FakeDiscord, *argv: str) -> int:
    return register_commands.main(list(argv), transport=fake)


def guild_path() -> str:
    return f"/api/v10/applications/{APP_ID}/guilds/{GUILD}/commands"


def definitions() -> list[dict[str, Any]]:
    """The command definitions the registry holds, i.e. what a registration would send."""
    return registry(load_settings(mock_mode=True)).to_discord()


@pytest.mark.usefixtures("env")
def test_first_registration_adds_every_command(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    names = [c["name"] for c in fake.commands[guild_path()]]
    assert sorted(names) == [
        "coaches", "delete", "edit", "history", "myplans", "outcome", "plan", "plans", "scorecard",
        "setup",
    ]  # fmt: skip
    for name in names:
        assert f"add        /{name}" in out
    assert "Registered 10 commands for guild" in out
    assert "Nothing to change" not in out
    put = fake.requests[-1]
    assert put.method == "PUT"
    assert put.headers["user-agent"] == USER_AGENT
    assert put.headers["user-agent"].startswith("DiscordBot (")


@pytest.mark.usefixtures("env")
def test_second_registration_keeps_everything_as_is(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    capsys.readouterr()
    assert run(fake, "--guild", GUILD, "--dry-run") == 0
    err = capsys.readouterr().err
    assert err.count("keep as is") == 10
    assert "add " not in err and "change " not in err
    assert "Nothing to change" in err


@pytest.mark.usefixtures("env")
def test_nothing_is_sent_when_discord_already_has_the_commands(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    fake.requests.clear()
    capsys.readouterr()
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    assert fake.methods() == ["GET"]
    assert out.count("keep as is") == 10
    assert "Nothing to change" in out
    assert "Registered" not in out


@pytest.mark.usefixtures("env")
def test_one_changed_command_is_still_sent(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    next(c for c in fake.commands[guild_path()] if c["name"] == "plan")["description"] = "old words"
    fake.requests.clear()
    capsys.readouterr()
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    assert fake.methods() == ["GET", "PUT"]
    assert "change     /plan" in out and "Nothing to change" not in out
    assert "Registered 10 commands for guild" in out


@pytest.mark.usefixtures("env")
def test_diff_names_added_changed_and_removed(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    stored = fake.commands[guild_path()]
    stored[:] = [c for c in stored if c["name"] != "history"]
    next(c for c in stored if c["name"] == "plan")["description"] = "old words"
    stored.append({"name": "oldcmd", "description": "gone soon", "type": 1, "id": "9"})
    capsys.readouterr()
    fake.requests.clear()
    assert run(fake, "--guild", GUILD, "--dry-run") == 0
    captured = capsys.readouterr()
    assert "add        /history" in captured.err
    assert "change     /plan" in captured.err
    assert "remove     /oldcmd" in captured.err
    assert "keep as is /edit" in captured.err
    assert "Nothing to change" not in captured.err
    # A dry run prints the JSON and sends nothing.
    assert json.loads(captured.out) == definitions()
    assert fake.methods() == ["GET"]
    assert "oldcmd" in {c["name"] for c in fake.commands[guild_path()]}


@pytest.mark.usefixtures("env")
def test_global_registration_uses_the_global_endpoint(fake: FakeDiscord) -> None:
    assert run(fake) == 0
    assert f"/api/v10/applications/{APP_ID}/commands" in fake.commands


@pytest.mark.usefixtures("env")
def test_rate_limit_is_waited_out_for_as_long_as_discord_asks(fake: FakeDiscord) -> None:
    fake.rate_limits = [2.5, 0.75]
    clock = SetTime()
    assert register_commands.main(["--guild", GUILD], transport=fake, sleep=clock.sleep) == 0
    assert len(fake.commands[guild_path()]) == 10
    assert clock.waits == [2.5, 0.75]


@pytest.mark.usefixtures("env")
def test_a_rate_limit_that_does_not_lift_is_explained(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.rate_limits = [30.0] * 10
    clock = SetTime()
    assert register_commands.main(["--guild", GUILD], transport=fake, sleep=clock.sleep) == 1
    assert "Discord kept rate-limiting guild" in capsys.readouterr().err
    assert clock.waits == [30.0] * 4  # five tries, waits between them
    assert guild_path() not in fake.commands


@pytest.mark.usefixtures("env")
def test_bad_token_is_explained(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "wrong-token-value")
    assert run(fake, "--guild", GUILD) == 1
    err = capsys.readouterr().err
    assert "401" in err and "DISCORD_BOT_TOKEN" in err
    assert "wrong-token-value" not in err


@pytest.mark.usefixtures("env")
def test_missing_access_is_explained(fake: FakeDiscord, capsys: pytest.CaptureFixture[str]) -> None:
    fake.commands_refusal = (403, {"message": "Missing Access", "code": 50001})
    assert run(fake, "--guild", GUILD) == 1
    err = capsys.readouterr().err
    assert "403" in err and "Missing Access" in err and "applications.commands" in err


@pytest.mark.usefixtures("env")
def test_invalid_form_body_is_listed_field_by_field(
    fake: FakeDiscord, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.commands_refusal = (
        400,
        {
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": {
                "0": {
                    "name": {
                        "_errors": [
                            {
                                "code": "APPLICATION_COMMAND_INVALID_NAME",
                                "message": "Command name is invalid",
                            }
                        ]
                    },
                    "options": {
                        "1": {
                            "description": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_BAD_LENGTH",
                                        "message": "Must be between 1 and 100 in length.",
                                    }
                                ]
                            }
                        }
                    },
                }
            },
        },
    )
    assert run(fake, "--guild", GUILD) == 1
    err = capsys.readouterr().err
    assert "Invalid Form Body" in err
    assert "0.name: Command name is invalid" in err
    assert "0.options.1.description: Must be between 1 and 100 in length." in err


def test_missing_credentials_exit_2(
    fake: FakeDiscord,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(fake, "--guild", GUILD) == 2
    err = capsys.readouterr().err
    assert "DISCORD_APPLICATION_ID" in err and "DISCORD_BOT_TOKEN" in err
    assert fake.requests == []


def test_a_dry_run_without_credentials_still_prints_the_definitions(
    fake: FakeDiscord,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(fake, "--dry-run") == 0
    captured = capsys.readouterr()
    assert "cannot be read" in captured.err and "nothing was sent" in captured.err
    printed = json.loads(captured.out)
    check_commands(printed)
    assert sorted(c["name"] for c in printed) == [
        "coaches", "delete", "edit", "history", "myplans", "outcome", "plan", "plans", "scorecard",
        "setup",
    ]  # fmt: skip
    assert fake.requests == []


@pytest.mark.parametrize("credentials", [True, False], ids=["with", "without-credentials"])
def test_a_dry_run_prints_only_the_json_on_stdout(
    credentials: bool,
    fake: FakeDiscord,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    if credentials:
        request.getfixturevalue("env")
    assert run(fake, "--guild", GUILD, "--dry-run") == 0
    captured = capsys.readouterr()
    # What `register_commands.py --dry-run | python -m json.tool` reads: the JSON and nothing else.
    assert json.loads(captured.out) == definitions()
    assert "Dry run: nothing was sent." in captured.err
    assert ("Commands for guild" in captured.err) is credentials
    assert fake.methods() == (["GET"] if credentials else [])


@pytest.mark.parametrize("discord", ["unreachable", "refusing"])
@pytest.mark.usefixtures("env")
def test_a_dry_run_prints_the_json_whatever_discord_does(
    discord: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if discord == "unreachable":
        # Nothing listens there: the real network answers with a refused connection.
        monkeypatch.setenv("DISCORD_API_BASE_URL", f"http://127.0.0.1:{free_port()}/api/v10")
        transport = None
    else:
        transport = FakeDiscord(bot_token="another-token")  # ours is refused with a 401
    assert register_commands.main(["--guild", GUILD, "--dry-run"], transport=transport) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == definitions()
    assert f"Could not read guild {GUILD}'s commands" in captured.err
    assert "nothing was compared" in captured.err and "Dry run: nothing was sent." in captured.err

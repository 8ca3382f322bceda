"""register_commands.py against a fake of Discord's API at the HTTP edge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import register_commands
from app.discord.rest import USER_AGENT
from app.settings import load_settings
from commands import registry
from tests.discord_schema import check_commands

APP_ID = "123456789012345678"
GUILD = "222222222222222222"
TOKEN = "fake-bot-token-value"


class FakeDiscordCommands:
    """Keeps commands per scope like Discord does; can be told to refuse or rate-limit."""

    def __init__(self) -> None:
        self.stored: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self.refuse: tuple[int, dict[str, Any]] | None = None
        self.rate_limit_next = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bot {TOKEN}":
            return httpx.Response(401, json={"message": "401: Unauthorized", "code": 0})
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return httpx.Response(
                429,
                json={
                    "message": "You are being rate limited.",
                    "retry_after": 0.01,
                    "global": False,
                },
            )
        if self.refuse:
            status, body = self.refuse
            return httpx.Response(status, json=body)
        scope = request.url.path
        if request.method == "GET":
            return httpx.Response(200, json=self.stored.get(scope, []))
        if request.method == "PUT":
            sent = json.loads(request.content)
            check_commands(sent)  # what Discord's own API description accepts
            self.stored[scope] = [as_discord_returns(command, n) for n, command in enumerate(sent)]
            return httpx.Response(200, json=self.stored[scope])
        return httpx.Response(405)

    def methods(self) -> list[str]:
        return [request.method for request in self.requests]


def _without_false_required(option: dict[str, Any]) -> dict[str, Any]:
    result = {key: value for key, value in option.items() if (key, value) != ("required", False)}
    if "options" in result:
        result["options"] = [_without_false_required(o) for o in result["options"]]
    return result


def as_discord_returns(command: dict[str, Any], n: int) -> dict[str, Any]:
    """A stored command as Discord's GET shows it: ids, a version and fields it fills in, with
    `required: false` left out of options; so an unchanged command never reads back verbatim."""
    return {
        "id": str(1000 + n),
        "application_id": APP_ID,
        "version": "1",
        "default_member_permissions": None,
        "nsfw": False,
        **command,
        "options": [_without_false_required(o) for o in command.get("options", [])],
    }


@pytest.fixture
def fake() -> FakeDiscordCommands:
    return FakeDiscordCommands()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISCORD_APPLICATION_ID", APP_ID)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_API_BASE_URL", "http://discord.test/api/v10")
    monkeypatch.chdir(tmp_path)


def run(fake: FakeDiscordCommands, *argv: str) -> int:
    return register_commands.main(list(argv), transport=httpx.MockTransport(fake))


def guild_path() -> str:
    return f"/api/v10/applications/{APP_ID}/guilds/{GUILD}/commands"


def definitions() -> list[dict[str, Any]]:
    """The command definitions the registry holds, i.e. what a registration would send."""
    return registry(load_settings(mock_mode=True)).to_discord()


@pytest.mark.usefixtures("env")
def test_first_registration_adds_every_command(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    names = [c["name"] for c in fake.stored[guild_path()]]
    assert sorted(names) == ["delete", "edit", "history", "myplans", "plan", "plans"]
    for name in names:
        assert f"add        /{name}" in out
    assert "Registered 6 commands for guild" in out
    assert "Nothing to change" not in out
    put = fake.requests[-1]
    assert put.method == "PUT"
    assert put.headers["user-agent"] == USER_AGENT
    assert put.headers["user-agent"].startswith("DiscordBot (")


@pytest.mark.usefixtures("env")
def test_second_registration_keeps_everything_as_is(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    capsys.readouterr()
    assert run(fake, "--guild", GUILD, "--dry-run") == 0
    err = capsys.readouterr().err
    assert err.count("keep as is") == 6
    assert "add " not in err and "change " not in err
    assert "Nothing to change" in err


@pytest.mark.usefixtures("env")
def test_nothing_is_sent_when_discord_already_has_the_commands(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    fake.requests.clear()
    capsys.readouterr()
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    assert fake.methods() == ["GET"]
    assert out.count("keep as is") == 6
    assert "Nothing to change" in out
    assert "Registered" not in out


@pytest.mark.usefixtures("env")
def test_one_changed_command_is_still_sent(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    next(c for c in fake.stored[guild_path()] if c["name"] == "plan")["description"] = "old words"
    fake.requests.clear()
    capsys.readouterr()
    assert run(fake, "--guild", GUILD) == 0
    out = capsys.readouterr().out
    assert fake.methods() == ["GET", "PUT"]
    assert "change     /plan" in out and "Nothing to change" not in out
    assert "Registered 6 commands for guild" in out


@pytest.mark.usefixtures("env")
def test_diff_names_added_changed_and_removed(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(fake, "--guild", GUILD) == 0
    stored = fake.stored[guild_path()]
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
    assert "oldcmd" in {c["name"] for c in fake.stored[guild_path()]}


@pytest.mark.usefixtures("env")
def test_global_registration_uses_the_global_endpoint(fake: FakeDiscordCommands) -> None:
    assert run(fake) == 0
    assert f"/api/v10/applications/{APP_ID}/commands" in fake.stored


@pytest.mark.usefixtures("env")
def test_rate_limit_is_waited_out(fake: FakeDiscordCommands) -> None:
    fake.rate_limit_next = 2
    assert run(fake, "--guild", GUILD) == 0
    assert len(fake.stored[guild_path()]) == 6


@pytest.mark.usefixtures("env")
def test_bad_token_is_explained(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "wrong-token-value")
    assert run(fake, "--guild", GUILD) == 1
    err = capsys.readouterr().err
    assert "401" in err and "DISCORD_BOT_TOKEN" in err
    assert "wrong-token-value" not in err


@pytest.mark.usefixtures("env")
def test_missing_access_is_explained(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.refuse = (403, {"message": "Missing Access", "code": 50001})
    assert run(fake, "--guild", GUILD) == 1
    err = capsys.readouterr().err
    assert "403" in err and "Missing Access" in err and "applications.commands" in err


@pytest.mark.usefixtures("env")
def test_invalid_form_body_is_listed_field_by_field(
    fake: FakeDiscordCommands, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.refuse = (
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
    fake: FakeDiscordCommands,
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
    fake: FakeDiscordCommands,
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
        "delete", "edit", "history", "myplans", "plan", "plans",
    ]  # fmt: skip
    assert fake.requests == []


@pytest.mark.parametrize("credentials", [True, False], ids=["with", "without-credentials"])
def test_a_dry_run_prints_only_the_json_on_stdout(
    credentials: bool,
    fake: FakeDiscordCommands,
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

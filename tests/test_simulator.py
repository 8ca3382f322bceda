"""`coach-plans send` syntax: typed slash commands become Discord-shaped interaction data."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest

from app.discord.protocol import EPHEMERAL
from app.interactions.signatures import load_or_create_mock_key
from app.mock.discord import FakeDiscord
from app.mock.payloads import stable_id
from app.mock.screen import Screen, render
from app.mock.simulator import SendError, command_data, parse_command, serve_files
from tests.support.fake_server import Exchange, fake_server
from tests.support.service_process import base_env, free_port

API_BASE = "https://discord.com/api/v10"
PLAN = {
    "name": "plan",
    "description": "Post a plan",
    "options": [
        {"name": "coach", "type": 3, "required": True, "description": "c"},
        {"name": "text", "type": 3, "required": True, "description": "t"},
        {"name": "date", "type": 3, "description": "d"},
        {"name": "chart1", "type": 11, "description": "a chart"},
        {"name": "count", "type": 4, "description": "n"},
        {"name": "ratio", "type": 10, "description": "r"},
        {"name": "loud", "type": 5, "description": "b"},
    ],
}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ('/plan coach:d text:"Watch 950"', ("plan", {"coach": "d", "text": "Watch 950"})),
        ("/PLAN coach:d text:'a b:c'", ("plan", {"coach": "d", "text": "a b:c"})),
        ("/plans", ("plans", {})),
        ('/edit coach:d text:"say \\"hi\\""', ("edit", {"coach": "d", "text": 'say "hi"'})),
        ("/plan text:", ("plan", {"text": ""})),
    ],
)
def test_typed_commands_are_parsed(typed: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_command(typed) == expected


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ('/plan text:"unclosed', "close your quotes"),
        ("plan coach:d", "start with a slash command"),
        ("/plan coach", "is not option:value"),
        ("", "start with a slash command"),
    ],
)
def test_bad_syntax_says_how_to_write_it(typed: str, hint: str) -> None:
    with pytest.raises(SendError, match=hint):
        parse_command(typed)


def test_options_are_typed_from_the_definition(tmp_path: Path) -> None:
    chart = tmp_path / "spy.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    with serve_files(API_BASE) as files:
        data = command_data(
            PLAN,
            {
                "coach": "d",
                "text": "Watch 950",
                "chart1": str(chart),
                "count": "3",
                "ratio": "1.5",
                "loud": "true",
            },
            files,
        )
        values = {o["name"]: o["value"] for o in data["options"]}
        assert values["count"] == 3 and values["ratio"] == 1.5 and values["loud"] is True
        attachment = data["resolved"]["attachments"][values["chart1"]]
        assert attachment["filename"] == "spy.png"
        assert attachment["size"] == 108
        assert attachment["content_type"] == "image/png"
        # On the Discord API host, which the service in mock mode answers itself: there the
        # file is really served, as Discord's CDN would.
        assert attachment["url"].startswith(f"{API_BASE}/mock-cdn/")
        assert anyio.run(_through_mock_discord, attachment["url"]) == chart.read_bytes()


def test_a_subcommand_without_options_is_sent() -> None:
    from app.settings import load_settings
    from commands.registry import registry

    listed = registry(load_settings(mock_mode=True)).to_discord()
    coaches = next(d for d in listed if d["name"] == "coaches")
    with serve_files(API_BASE) as files:
        data = command_data(coaches, {}, files, subcommand="list")
    assert data["name"] == "coaches"
    assert [o["name"] for o in data["options"]] == ["list"]


async def _through_mock_discord(url: str) -> bytes:
    transport = FakeDiscord(API_BASE, outside=httpx.AsyncHTTPTransport(), local_cdn=True)
    async with httpx.AsyncClient(transport=transport) as http:
        response = await http.get(url)
        assert response.status_code == 200
        return response.content


@pytest.mark.parametrize(
    ("values", "hint"),
    [
        ({"coach": "d"}, "needs text:"),
        ({"coach": "d", "text": "x", "colour": "red"}, "has no option colour"),
        ({"coach": "d", "text": "x", "count": "many"}, "not a whole number"),
        ({"coach": "d", "text": "x", "chart1": "/no/such.png"}, "no such file"),
        ({"coach": "d", "text": "x", "loud": "yes"}, "true or false"),
    ],
)
def test_bad_options_are_refused_before_sending(values: dict[str, str], hint: str) -> None:
    with serve_files(API_BASE) as files, pytest.raises(SendError, match=hint):
        command_data(PLAN, values, files)


def test_same_user_name_is_the_same_discord_id() -> None:
    assert stable_id("user:alice") == stable_id("user:alice")
    assert stable_id("user:alice") != stable_id("user:bob")
    assert len(stable_id("user:alice")) == 18


def test_render_shows_ephemeral_messages_buttons_and_followups() -> None:
    answer = {
        "type": 4,
        "data": {
            "flags": EPHEMERAL,
            "content": "Delete this plan?",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 4, "label": "Confirm", "custom_id": "delete:yes:1:1"}
                    ],
                }
            ],
        },
    }
    followup = {"content": "Charts archived."}
    text = render(answer, [followup])
    assert "only you can see this" in text and "Delete this plan?" in text
    assert "[Confirm] (danger; --click delete:yes:1:1)" in text
    assert "follow-up" in text and "Charts archived." in text


def test_render_shows_a_components_v2_card_with_its_files() -> None:
    card = {
        "flags": 1 << 15,
        "components": [
            {
                "type": 17,
                "accent_color": 0x2B6CB0,
                "components": [
                    {"type": 10, "content": "## Coach d — plan for 2026-03-02"},
                    {"type": 10, "content": "Watch 950\nstop 940"},
                    {
                        "type": 12,
                        "items": [
                            {"media": {"url": "attachment://1-spy.png"}, "description": "spy.png"}
                        ],
                    },
                    {"type": 14, "divider": True},
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 2, "label": "History", "custom_id": "history:7"}
                        ],
                    },
                ],
            }
        ],
        "attachments": [{"id": "0", "filename": "1-spy.png", "size": 4096}],
        "id": "@original",  # the deferred answer, edited
    }
    text = render({"type": 5}, [card])
    lines = text.splitlines()
    assert lines[0] == "(Coach Plans is thinking…)"
    assert lines[1].startswith("── answer, in place of it (visible to everyone)")
    assert "┏━━ #2b6cb0" in lines
    assert "┃ ## Coach d — plan for 2026-03-02" in lines
    assert "┃ Watch 950" in lines and "┃ stop 940" in lines
    assert "┃ [image] 1-spy.png (4096 bytes) — spy.png" in lines
    assert "┃ [History] (secondary; --click history:7)" in lines
    assert lines[-1] == "┗━━"


def test_an_answer_deferred_for_the_caller_alone_is_shown_as_theirs_alone() -> None:
    # An edit of @original carries no EPHEMERAL flag: the deferral decided who sees it.
    listed = {"id": "@original", "flags": 1 << 15, "components": [{"type": 10, "content": "x"}]}
    text = render({"type": 5, "data": {"flags": EPHEMERAL}}, [listed])
    assert "answer, in place of it (only you can see this)" in text
    followup = {"id": "1", "flags": EPHEMERAL, "content": "Only you"}
    assert "follow-up (only you can see this)" in render({"type": 5}, [followup])


def test_render_shows_a_modal_and_how_to_submit_it() -> None:
    modal = {
        "type": 9,
        "data": {
            "custom_id": "edit:7:2",
            "title": "Edit plan",
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 4,
                            "custom_id": "text",
                            "label": "Plan",
                            "style": 2,
                            "max_length": 4000,
                            "value": "line one\nline two",
                        }
                    ],
                }
            ],
        },
    }
    text = render(modal, [])
    assert "modal: Edit plan" in text
    assert "    | line two" in text
    # The hint is a shell command line that submits the fields as they are.
    hint = text.split("Save it with: ", 1)[1]
    *command, fields = shlex.split(hint)
    assert command == ["coach-plans", "send", "--submit", "edit:7:2"]
    assert parse_command(f"/submit {fields}") == ("submit", {"text": "line one\nline two"})


def test_render_shows_mentions_and_timestamps_as_discord_draws_them() -> None:
    at = 1796673808  # 2026-12-07 20:03:28 UTC
    message = {
        "flags": EPHEMERAL,
        "content": f"Deleted by bob (<@{stable_id('user:bob')}>) on <t:{at}:f>.",
        "components": [
            {"type": 10, "content": f"<@123> <@&456> <t:{at}:F> <t:{at}:d> <t:{at}:t> <t:{at}:R>"}
        ],
    }
    screen = Screen(
        names={stable_id("user:bob"): "bob"},
        zone=ZoneInfo("America/New_York"),
        now=lambda: datetime.fromtimestamp(at + 7200, UTC),
    )
    text = render({"type": 4, "data": message}, [], screen)
    assert "Deleted by bob (@bob) on December 7, 2026 3:03 PM." in text
    assert "@unknown-user @unknown-role Monday, December 7, 2026 3:03 PM 12/07/2026 3:03 PM" in text
    assert "2 hours ago" in text
    assert "<@" not in text and "<t:" not in text


def test_send_says_in_one_line_when_the_service_goes_away_mid_wait(tmp_path: Path) -> None:
    """The service defers, then stops: `send` says so and exits 1, with no traceback."""

    def once_then_gone(call: Exchange) -> None:
        if call.method != "POST":
            call.answer(404)
            return
        call.answer(200, json.dumps({"type": 5}).encode(), "application/json", last=True)
        server.stop()

    load_or_create_mock_key(tmp_path / "mock.key")  # what the service makes in mock mode
    with fake_server(once_then_gone) as server:
        done = send_plan(tmp_path, server.url)
    assert done.returncode == 1, done.stderr
    assert "went away while we waited" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1


def send_plan(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **base_env(),
        "MOCK_MODE": "true",
        "MOCK_KEY_FILE": str(tmp_path / "mock.key"),
        "LOG_FILE": str(tmp_path / "send.log"),
    }
    exe = Path(sys.executable).parent / "coach-plans"
    return subprocess.run(
        [str(exe), "send", "--url", url, '/plan coach:d text:"Watch 950"'],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_send_to_a_service_that_is_not_running_says_so_in_one_line(tmp_path: Path) -> None:
    load_or_create_mock_key(tmp_path / "mock.key")
    env = {**base_env(), "MOCK_MODE": "true", "MOCK_KEY_FILE": str(tmp_path / "mock.key")}
    exe = Path(sys.executable).parent / "coach-plans"
    done = subprocess.run(
        [str(exe), "send", "--url", f"http://127.0.0.1:{free_port()}", "/plans"],
        env={**env, "LOG_FILE": str(tmp_path / "send.log")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot reach the service" in done.stderr and "is it running?" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

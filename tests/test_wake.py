"""A start from zero with DISCORD_PUBLIC_KEY in the environment: the server listens before it
loads its settings and builds the app (app/runtime/wake.py).

Each test runs `coach-plans serve` as a real process; Discord's webhook endpoints are a small
HTTP server on 127.0.0.1 that keeps every call.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from nacl.signing import SigningKey

from app import defaults
from app.discord import protocol
from app.mock import payloads
from app.runtime.wake import Early, early_start
from tests.support.discord_edge import AUTHOR, seed_plan
from tests.support.fake_server import Exchange, fake_server
from tests.support.service_process import free_port, loaded_modules, serve, service_env

KEY = SigningKey.generate()
PUBLIC = KEY.verify_key.encode().hex()
DAY = "2026-03-02"


class StandInDiscord:
    """Discord's webhook endpoints: answers every call with {} and keeps (method, path, body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []
        self.arrived = threading.Condition()
        self.api = ""  # once served

    def handle(self, call: Exchange) -> None:
        body = call.body()
        with self.arrived:
            self.calls.append((call.method, call.path, body))
            self.arrived.notify_all()
        call.answer(200, b"{}", "application/json")

    def edit_of(self, token: str, timeout: float = 30) -> bytes:
        """The body of the edit that replaced the answer to `token`."""
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: [b for m, p, b in self.calls if m == "PATCH" and f"/{token}/" in p],
                timeout,
            )
        assert found, f"no edit of the answer to {token}: {self.calls}"
        return found[0]


@pytest.fixture
def discord() -> Iterator[StandInDiscord]:
    stand_in = StandInDiscord()
    with fake_server(stand_in.handle) as server:
        stand_in.api = f"{server.url}/api/v10"
        yield stand_in


def woken_env(folder: Path, discord: StandInDiscord, **settings: str) -> dict[str, str]:
    return service_env(
        folder,
        DISCORD_PUBLIC_KEY=PUBLIC,
        DISCORD_APPLICATION_ID=payloads.APPLICATION_ID,
        DISCORD_API_BASE_URL=discord.api,
        LOG_FORMAT="json",
        **settings,
    )


@contextmanager
def woken(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`coach-plans serve`, yielded as soon as its port accepts a connection."""
    port = free_port()
    proc = serve(folder, env, port, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def post(base: str, payload: dict[str, object]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = payloads.signed_headers(KEY, body)
    return httpx.post(f"{base}/interactions", content=body, headers=headers, timeout=30)


def test_the_command_that_wakes_the_server_is_deferred_then_answered(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    env = woken_env(tmp_path, discord)
    seed_plan(f"sqlite:///{env['DATABASE_PATH']}", DAY, "Long above 950, stop 940")
    data = payloads.command_data("plans", [payloads.option("date", DAY)])
    command = payloads.guild_interaction(protocol.APPLICATION_COMMAND, data, user=AUTHOR)
    with woken(tmp_path, env) as (base, _):
        answer = post(base, command)
        assert answer.status_code == 200
        # Discord's "thinking…", seen by the caller alone as /plans' list is.
        assert answer.json() == {
            "type": protocol.DEFERRED_CHANNEL_MESSAGE,
            "data": {"flags": protocol.EPHEMERAL},
        }
        assert b"Long above 950" in discord.edit_of(str(command["token"]))
        metrics = httpx.get(f"{base}/metrics", timeout=30).json()
    assert metrics["interactions"]["by_command"] == {"plans": 1}
    assert metrics["requests"]["total"] == 1  # the command, answered before the app was built


def test_an_edit_that_wakes_the_server_opens_its_form(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    # A form cannot follow a deferral: the front leaves /edit to the app, which opens it.
    env = woken_env(tmp_path, discord)
    seed_plan(f"sqlite:///{env['DATABASE_PATH']}", DAY, "Long above 950, stop 940")
    data = payloads.command_data(
        "edit", [payloads.option("coach", "d"), payloads.option("date", DAY)]
    )
    command = payloads.guild_interaction(protocol.APPLICATION_COMMAND, data, user=AUTHOR)
    with woken(tmp_path, env) as (base, _):
        answer = post(base, command).json()
    assert answer["type"] == protocol.MODAL
    assert "Long above 950" in json.dumps(answer["data"])


def test_a_ping_before_the_settings_load_is_answered_counted_and_logged(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    env = woken_env(tmp_path, discord)
    with woken(tmp_path, env) as (base, proc):
        pong = post(base, {"type": protocol.PING})
        assert pong.json() == {"type": protocol.PONG}
        request_id = pong.headers["X-Request-ID"]
        assert httpx.get(f"{base}/health", timeout=30).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=30).json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert metrics["interactions"]["by_command"] == {"ping": 1}
    # What was logged before the settings said where logs go is in the file, as JSON lines.
    lines = [json.loads(line) for line in Path(env["LOG_FILE"]).read_text().splitlines()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("Uvicorn running on http://127.0.0.1:") for m in messages)
    access = [line for line in lines if line.get("path") == "/interactions"]
    assert [(a["status"], a["request_id"]) for a in access] == [(200, request_id)]


def test_a_bad_signature_at_wake_is_refused_by_the_app(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    with woken(tmp_path, woken_env(tmp_path, discord)) as (base, _):
        body = json.dumps({"type": protocol.PING}).encode()
        headers = payloads.signed_headers(SigningKey.generate(), body)
        refused = httpx.post(f"{base}/interactions", content=body, headers=headers, timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_signature"


def test_a_bad_setting_found_after_listening_stops_with_status_2(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    env = woken_env(tmp_path, discord, TIMEZONE="Mars/Olympus")
    with woken(tmp_path, env) as (_, proc):
        assert proc.wait(timeout=30) == 2
        errors = proc.communicate()[1]
    [line] = errors.splitlines()  # one line, no traceback
    assert line.startswith("coach-plans: setting error: TIMEZONE: 'Mars/Olympus' is not an IANA")


@pytest.mark.parametrize(
    ("environ", "flags", "expected"),
    [
        ({"DISCORD_PUBLIC_KEY": PUBLIC.upper()}, {}, Early("0.0.0.0", 5000, PUBLIC)),
        ({"discord_public_key": PUBLIC, "API_PORT": "8080"}, {}, Early("0.0.0.0", 8080, PUBLIC)),
        (
            {"DISCORD_PUBLIC_KEY": PUBLIC, "API_PORT": "8080"},
            {"port": 9000, "host": "::1"},
            Early("::1", 9000, PUBLIC),
        ),
        ({"DISCORD_PUBLIC_KEY": PUBLIC, "MOCK_MODE": "no"}, {}, Early("0.0.0.0", 5000, PUBLIC)),
        # Only the settings can tell: the server loads them before it listens.
        ({"DISCORD_PUBLIC_KEY": PUBLIC}, {"config": Path("config.yaml")}, None),
        ({"DISCORD_PUBLIC_KEY": PUBLIC}, {"mock": True}, None),
        ({"DISCORD_PUBLIC_KEY": PUBLIC, "MOCK_MODE": "true"}, {}, None),
        ({}, {}, None),
        ({"DISCORD_PUBLIC_KEY": "abc123"}, {}, None),
        ({"DISCORD_PUBLIC_KEY": PUBLIC, "API_PORT": "abc"}, {}, None),
        ({"DISCORD_PUBLIC_KEY": PUBLIC, "API_PORT": "70000"}, {}, None),
        ({"DISCORD_PUBLIC_KEY": PUBLIC, "discord_public_key": "0" * 64}, {}, None),
    ],
)
def test_the_server_listens_first_only_when_the_environment_decides(
    environ: dict[str, str], flags: dict[str, object], expected: Early | None
) -> None:
    options: dict[str, object] = {"config": None, "mock": False, "host": None, "port": None}
    assert early_start(environ, **{**options, **flags}) == expected  # type: ignore[arg-type]


def test_the_woken_start_path_loads_neither_the_settings_nor_the_app() -> None:
    # Everything imported before a woken server listens; the settings' validation (pydantic),
    # the app and its storage load in a worker thread once it does.
    code = "import uvicorn, app.cli, app.runtime.server, app.runtime.wake, app.observability.logs"
    heavy = ("pydantic", "pydantic_settings", "sqlalchemy", "httpx", "yaml")
    ours = (
        "starlette.applications",
        "app.settings",
        "app.runtime.web",
        "app.interactions.endpoint",
    )
    assert loaded_modules(code, (*heavy, *ours)) == []


def test_an_app_that_cannot_be_built_stops_the_server_and_says_why(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    # The log file's folder cannot be made (a file is in the way): found once the settings
    # are loaded, after the server listens, when logs have nowhere to go yet but stderr.
    (tmp_path / "in-the-way").write_text("")
    env = woken_env(tmp_path, discord, LOG_FILE=str(tmp_path / "in-the-way" / "serve.log"))
    with woken(tmp_path, env) as (_, proc):
        assert proc.wait(timeout=30) == 1
        errors = proc.communicate()[1]
    assert "the service could not be built, so it cannot serve" in errors
    assert "in-the-way" in errors.splitlines()[-2]  # the error names the path


def test_a_woken_server_takes_its_connection_deadline_from_the_settings(
    tmp_path: Path, discord: StandInDiscord
) -> None:
    env = woken_env(tmp_path, discord, HEADER_TIMEOUT_SECONDS="1")
    with woken(tmp_path, env) as (base, _):
        assert httpx.get(f"{base}/health", timeout=30).status_code == 200  # the app is built
        port = httpx.URL(base).port
        assert port is not None
        # Closed by the server within half the default deadline: the setting's 1 s applied.
        wait = defaults.HEADER_TIMEOUT_SECONDS / 2
        with socket.create_connection(("127.0.0.1", port), timeout=wait) as idle:
            assert idle.recv(1) == b""

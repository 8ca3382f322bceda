"""A start from zero: the server answers Discord before its storage is ready.

The storage is held back for real: another connection keeps the SQLite file locked, so the
warm-up waits on it as it would on a slow volume or a database still starting, until the test
lets go. Discord is faked at the HTTP edge only.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nacl.signing import SigningKey
from starlette.testclient import TestClient

from app.discord import protocol
from app.mock import payloads
from app.runtime.warming import WAIT_SECONDS
from app.runtime.web import create_app
from app.settings import Settings
from tests.discord_edge import (
    AUTHOR,
    AnswerClock,
    Discord,
    FakeDiscord,
    attachment,
    autocomplete_data,
    card_text,
    chart_path,
    edited,
    fast_settings,
    gallery,
    png,
    seed_plan,
    texts,
)
from tests.service_process import BIN, free_port, loaded_modules, service_env

DAY = "2026-03-02"


@contextmanager
def locked(path: Path, seconds: float) -> Iterator[threading.Event]:
    """The database file held by another connection, as a slow disk or another process would
    hold it: for `seconds` once the yielded event is set (the app has started), so a slow start
    of the test app never eats into the time the tests count on."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("BEGIN EXCLUSIVE")
    started = threading.Event()
    done = threading.Event()

    def hold() -> None:
        started.wait()
        done.wait(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        yield started
    finally:
        started.set()
        done.set()
        holder.join()


@contextmanager
def cold_app(settings: Settings, signer: SigningKey, hold: float) -> Iterator[Discord]:
    """The app started while its database is locked, for `hold` seconds from then on."""
    settings = fast_settings(settings)
    seed_plan(settings.database_url, DAY, "Long above 950, stop 940")
    fake = FakeDiscord()
    with locked(settings.database_path, hold) as app_started:
        clock = AnswerClock(create_app(settings, http_transport=fake))
        with TestClient(clock) as client:
            app_started.set()
            yield Discord(client, signer, fake, clock)
    fake.assert_no_problems()


def test_ping_is_answered_while_the_storage_warms_up(settings: Settings, signer: SigningKey):
    with cold_app(settings, signer, hold=1.5) as discord:
        started = time.monotonic()
        ping = {"id": payloads.new_id(), "type": protocol.PING, "application_id": "1", "version": 1}
        assert discord.send(ping) == {"type": protocol.PONG}
        assert time.monotonic() - started < 1.0  # not held for the 1.5 s warm-up


def test_a_command_is_deferred_then_answered_once_the_storage_is_ready(
    settings: Settings, signer: SigningKey
) -> None:
    with cold_app(settings, signer, hold=1.5) as discord:
        started = time.monotonic()
        answer = discord.command("plans", date=DAY)
        # Deferred at once, visible only to the caller as /plans' list is.
        assert answer == {"type": 5, "data": {"flags": protocol.EPHEMERAL}}
        assert discord.clock.sent_at[0] - started < 1.0
        [(edited_at, path, body)] = discord.fake.edits
        assert path.endswith("/messages/@original")
        assert "Long above 950" in card_text(body)
        assert edited_at - started < 3.0  # Discord's users wait no longer than a normal answer


def test_a_refusal_after_a_public_deferral_is_shown_to_the_caller_alone(
    settings: Settings, signer: SigningKey
) -> None:
    with cold_app(settings, signer, hold=0.3) as discord:
        answer = discord.command("plan", coach="d", text="Again", date=DAY)
        assert answer == {"type": 5}  # /plan's answer is public
        # The plan exists: the public "thinking…" goes, and the refusal follows for one eye.
        delete, follow_up = discord.fake.requests
        assert (delete.method, delete.url.path.endswith("/messages/@original")) == ("DELETE", True)
        assert follow_up.method == "POST" and follow_up.url.path == delete.url.path.removesuffix(
            "/messages/@original"
        )
        refusal = json.loads(follow_up.content)
        assert refusal["flags"] == protocol.EPHEMERAL
        assert "already has a plan" in refusal["content"]


def test_a_plan_with_a_chart_is_shown_with_its_chart_after_a_cold_start(
    settings: Settings, signer: SigningKey
) -> None:
    with cold_app(settings, signer, hold=0.3) as discord:
        body = png(4096)
        url = discord.fake.add_file("spy.png", body)
        charts = {"chart1": attachment(url, "spy.png", len(body))}
        answer = discord.command("plan", coach="i", text="Fade 960", attachments=charts)
        assert answer == {"type": 5}
        edit, files = edited(discord.fake)
        assert texts(edit)[1] == "Fade 960" and gallery(edit) == ["1-spy.png"]
        assert files["1-spy.png"].data == body
        plan = discord.client.get("/api/coach-plans/?coach=i").json()
        [chart] = plan["charts"]
        assert discord.client.get(chart_path(chart["url"])).content == body


def test_autocomplete_gets_no_suggestions_when_the_storage_is_late(
    settings: Settings, signer: SigningKey
) -> None:
    with cold_app(settings, signer, hold=WAIT_SECONDS + 1) as discord:
        started = time.monotonic()
        answer = discord.send(
            payloads.guild_interaction(
                protocol.AUTOCOMPLETE, autocomplete_data("history", "2026", coach="d"), user=AUTHOR
            )
        )
        assert answer == {"type": protocol.AUTOCOMPLETE_RESULT, "data": {"choices": []}}
        assert time.monotonic() - started < 3.0  # inside Discord's deadline


def test_the_start_path_leaves_the_storage_and_http_libraries_unloaded(settings: Settings):
    # What the server imports before it listens: anything heavy here delays the first answer
    # after a wake (app/runtime/services.py). The warm-up loads these in a worker thread; the API's
    # models and prometheus-client wait for the warm-up or their first use.
    code = (
        "from app.settings import load_settings\n"
        "from app.runtime.web import create_app\n"
        f"create_app(load_settings(database_path={str(settings.database_path)!r}, mock_mode=True,"
        f" mock_key_file={str(settings.mock_key_file)!r}))"
    )
    heavy = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "psycopg", "obstore")
    heavy += ("pandas", "yfinance", "exchange_calendars")  # prices load with grading only
    assert loaded_modules(code, (*heavy, "prometheus_client", "app.api.models")) == []


def test_a_server_whose_database_cannot_open_stops_with_status_1(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(tmp_path, DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
    del env["DATABASE_PATH"]
    done = subprocess.run(
        [str(BIN / "coach-plans"), "serve", "--mock", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "could not open its database" in done.stderr

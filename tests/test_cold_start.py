"""A start from zero: the wake front answers Discord before the app and its storage are built.

The front (app/runtime/wake.py) builds the app and its storage in one worker thread, as
`serve` has it build them (app/runtime/web.py's app_with_storage), and is the only part that
defers; a server that loads its settings before it listens lets requests in once its storage
is ready. The storage is held back for real: another connection keeps the SQLite file locked,
so the build waits on it as it would on a slow volume or a database still starting, until the
test lets go. Discord is faked at the HTTP edge only.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nacl.signing import SigningKey
from starlette.testclient import TestClient

from app.discord import protocol
from app.mock import payloads
from app.observability.metrics import Metrics
from app.runtime.wake import Early, WakeApp
from app.runtime.web import app_with_storage, create_app
from app.settings import Settings
from tests.support.discord_edge import (
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
from tests.support.service_process import BIN, free_port, loaded_modules, service_env

DAY = "2026-03-02"


@contextmanager
def locked(path: Path) -> Iterator[Callable[[], None]]:
    """The database file held by another connection, as a slow disk or another process would
    hold it, until the test calls the yielded `release` (or the block ends)."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    connection.execute("BEGIN EXCLUSIVE")
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            connection.execute("ROLLBACK")
            connection.close()

    try:
        yield release
    finally:
        release()


def until(check: Callable[[], object], seconds: float = 30) -> None:
    """Wait for `check` to hold, bounded by a generous deadline (a loaded machine is slow)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.01)


@contextmanager
def woken_app(
    settings: Settings, signer: SigningKey
) -> Iterator[tuple[Discord, Callable[[], None]]]:
    """The wake front before the app, listening while the database is locked; yields the
    Discord driving it and `release`, which lets the storage open."""
    settings = fast_settings(settings)
    seed_plan(settings.database_url, DAY, "Long above 950, stop 940")
    assert settings.discord_public_key is not None
    fake = FakeDiscord()
    metrics = Metrics()
    failed = threading.Event()
    build = functools.partial(
        app_with_storage, settings, metrics, on_failure=failed.set, http_transport=fake
    )
    front = WakeApp(
        Early("127.0.0.1", 5000, settings.discord_public_key), metrics, build, failed.set
    )
    assert settings.database_path is not None
    with locked(settings.database_path) as release:
        clock = AnswerClock(front)
        with TestClient(clock) as client:
            assert client.portal is not None
            client.portal.call(front.listening)  # as the server does once it accepts connections
            yield Discord(client, signer, fake, clock), release
    assert not failed.is_set()
    fake.assert_no_problems()


def test_ping_is_answered_while_the_storage_is_locked(
    settings: Settings, signer: SigningKey
) -> None:
    with woken_app(settings, signer) as (discord, release):
        ping = {"id": payloads.new_id(), "type": protocol.PING, "application_id": "1", "version": 1}
        assert discord.send(ping) == {"type": protocol.PONG}  # the database is still locked
        release()


def test_a_command_is_deferred_then_answered_once_the_storage_is_ready(
    settings: Settings, signer: SigningKey
) -> None:
    with woken_app(settings, signer) as (discord, release):
        answer = discord.command("plans", date=DAY)
        # Deferred while the database is locked, visible only to the caller as /plans' list is.
        assert answer == {"type": 5, "data": {"flags": protocol.EPHEMERAL}}
        assert discord.fake.edits == []
        release()
        until(lambda: discord.fake.edits)
        [(_, path, body)] = discord.fake.edits
        assert path.endswith("/messages/@original")
        assert "Long above 950" in card_text(body)


def test_a_refusal_after_a_public_deferral_is_shown_to_the_caller_alone(
    settings: Settings, signer: SigningKey
) -> None:
    with woken_app(settings, signer) as (discord, release):
        answer = discord.command("plan", coach="d", text="Again", date=DAY)
        assert answer == {"type": 5}  # /plan's answer is public
        release()
        until(lambda: len(discord.fake.requests) >= 2)
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
    with woken_app(settings, signer) as (discord, release):
        body = png(4096)
        url = discord.fake.add_file("spy.png", body)
        charts = {"chart1": attachment(url, "spy.png", len(body))}
        answer = discord.command("plan", coach="i", text="Fade 960", attachments=charts)
        assert answer == {"type": 5}
        release()
        until(lambda: discord.fake.edits)
        edit, files = edited(discord.fake)
        assert texts(edit)[1] == "Fade 960" and gallery(edit) == ["1-spy.png"]
        assert files["1-spy.png"].data == body
        plan = discord.client.get("/api/coach-plans/?coach=i").json()
        [chart] = plan["charts"]
        assert discord.client.get(chart_path(chart["url"])).content == body


def test_autocomplete_at_wake_waits_for_the_app_and_gets_its_suggestions(
    settings: Settings, signer: SigningKey
) -> None:
    # Autocomplete cannot be deferred: the front leaves it to the app, which answers it in full
    # once it is built with its storage, however late (here past the 2 s a second "not ready
    # yet" path used to wait before it answered with no suggestions).
    with woken_app(settings, signer) as (discord, release):
        threading.Timer(2.5, release).start()
        answer = discord.send(
            payloads.guild_interaction(
                protocol.AUTOCOMPLETE, autocomplete_data("history", "2026", coach="d"), user=AUTHOR
            )
        )
    assert answer["type"] == protocol.AUTOCOMPLETE_RESULT
    assert DAY in json.dumps(answer["data"]["choices"])


def test_a_server_that_loads_its_settings_first_answers_in_full_once_listening(
    settings: Settings, signer: SigningKey
) -> None:
    # Without the front there is no deferral: the app lets requests in once its storage is
    # ready, so the first command gets its whole answer.
    settings = fast_settings(settings)
    seed_plan(settings.database_url, DAY, "Long above 950, stop 940")
    fake = FakeDiscord()
    assert settings.database_path is not None
    with locked(settings.database_path) as release:
        threading.Timer(0.3, release).start()  # the lock goes while the app starts
        clock = AnswerClock(create_app(settings, http_transport=fake))
        with TestClient(clock) as client:
            answer = Discord(client, signer, fake, clock).command("plans", date=DAY)
    assert answer["type"] == protocol.CHANNEL_MESSAGE
    assert "Long above 950" in card_text(answer["data"])
    assert fake.edits == []


def test_building_the_app_leaves_the_storage_and_http_libraries_unloaded(
    settings: Settings,
) -> None:
    # They load with the storage, in the worker thread that builds it (app/runtime/services.py):
    # on a woken server after it listens, and so off the path to its first answer (what the
    # woken server loads before it listens: tests/test_wake.py).
    code = (
        "from app.settings import load_settings\n"
        "from app.runtime.web import create_app\n"
        f"create_app(load_settings(database_path={str(settings.database_path)!r}, mock_mode=True,"
        f" mock_key_file={str(settings.mock_key_file)!r}))"
    )
    # Prices (pandas, yfinance, exchange-calendars) load with grading only.
    heavy: tuple[str, ...] = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "psycopg", "obstore")
    heavy += ("pandas", "yfinance", "exchange_calendars", "matplotlib", "PIL")
    assert loaded_modules(code, heavy) == []


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

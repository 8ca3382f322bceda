"""One record is one log line, whatever a request carries: control characters from the client
(a %0a in the path, a newline in an interaction id) are escaped in text and JSON lines alike."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from app.observability.logs import (
    JsonFormatter,
    LineHandler,
    TextFormatter,
    configure_logging,
    request_id_var,
)
from app.settings import Settings
from tests.support.discord_edge import (
    Discord,
    FakeDiscord,
    attachment,
    discord_app,
    fast_settings,
    png,
)

FORGED = "2025-01-01 00:00:00,000 INFO    [forged] coach_plans.access: GET /admin 200 1.0ms"
_RECORD_START = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ")


@contextmanager
def logging_app(settings: Settings, signer: SigningKey) -> Iterator[Discord]:
    configure_logging(settings)
    try:
        with discord_app(settings, signer) as app:
            yield app
    finally:
        root = logging.getLogger()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()


@pytest.fixture(params=["text", "json"])
def logged(
    request: pytest.FixtureRequest, settings: Settings, signer: SigningKey
) -> Iterator[tuple[Discord, Settings]]:
    settings = fast_settings(settings, log_format=request.param)
    with logging_app(settings, signer) as app:
        yield app, settings


def log_lines(settings: Settings) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return Path(settings.log_file).read_text(encoding="utf-8").split("\n")[:-1]


def records(settings: Settings) -> list[str]:
    """The message of each record; a line that is not a record's own fails the test."""
    messages = []
    for line in log_lines(settings):
        if settings.log_format == "json":
            messages.append(json.loads(line)["message"])
        else:
            assert _RECORD_START.match(line), f"a line that starts no record: {line!r}"
            messages.append(line)
    return messages


def test_a_newline_in_the_request_path_does_not_forge_a_log_line(
    logged: tuple[Discord, Settings],
) -> None:
    discord, settings = logged
    discord.client.get("/api/coach-plans%0a" + FORGED.replace(" ", "%20"))
    discord.client.get("/charts/1%0d%0a" + FORGED.replace(" ", "%20"))
    access = [line for line in records(settings) if "GET /" in line]
    assert len(access) == 2
    assert "/api/coach-plans\\n2025-01-01" in access[0]
    assert "/charts/1\\r\\n2025-01-01" in access[1]
    assert not any(line.startswith(FORGED) for line in log_lines(settings))


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u202e", "\t"])
def test_other_control_characters_in_a_path_are_escaped(
    logged: tuple[Discord, Settings], char: str
) -> None:
    discord, settings = logged
    encoded = "".join(f"%{byte:02X}" for byte in char.encode())
    discord.client.get(f"/nope{encoded}x")
    [access] = [line for line in records(settings) if "GET /nope" in line]
    assert char not in access
    assert "/nope\\" in access


def test_any_message_is_escaped_not_only_the_access_line(
    logged: tuple[Discord, Settings],
) -> None:
    _, settings = logged
    # As a download warning would quote a client's filename.
    logging.getLogger("coach_plans").warning("chart %s (%s) failed", 7, "spy.png\n" + FORGED)
    [line] = [line for line in records(settings) if "chart 7" in line]
    assert "chart 7 (spy.png\\n2025-01-01" in line
    assert not any(line.startswith(FORGED) for line in log_lines(settings))


def test_the_access_line_keeps_its_fields_in_json(settings: Settings, signer: SigningKey) -> None:
    settings = fast_settings(settings, log_format="json")
    with logging_app(settings, signer) as discord:
        discord.client.get("/nope%0aforged")
        lines = [json.loads(line) for line in log_lines(settings)]
    [access] = [line for line in lines if line["logger"] == "coach_plans.access"]
    assert access["path"] == "/nope\\nforged"
    assert access["message"].startswith("GET /nope\\nforged 404")


def test_a_traceback_in_a_text_line_is_indented_under_its_record() -> None:
    try:
        raise ValueError("bad input\n" + FORGED)
    except ValueError:
        record = logging.LogRecord(
            "coach_plans", logging.ERROR, __file__, 1, "failed on %s", ("x\ny",), sys.exc_info()
        )
    record.request_id = "-"
    first, *rest = TextFormatter().format(record).split("\n")
    assert first.endswith("coach_plans: failed on x\\ny")
    assert rest and all(line.startswith("    ") for line in rest)
    assert any(FORGED in line for line in rest)


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_the_access_line_reads_the_same_with_or_without_our_own_handler(
    formatter: TextFormatter | JsonFormatter,
) -> None:
    # Our handler writes the access line directly; under another handler (a test's capture,
    # a library user's set-up) the same line comes from a LogRecord.
    fields: dict[str, object] = {
        "method": "GET",
        "path": "/a\nb",
        "status": 200,
        "duration_ms": 1.5,
    }
    record = logging.LogRecord(
        "coach_plans.access", logging.INFO, __file__, 1, "GET /a\nb 200 1.5ms", None, None
    )
    record.__dict__.update(fields)
    handler = LineHandler(io.StringIO(), None)
    handler.setFormatter(formatter)
    token = request_id_var.set("req-7")
    try:
        handler.emit(record)  # stamps the request id, as for any record
        direct = formatter.access(record.created, "GET /a\nb 200 1.5ms", fields)
    finally:
        request_id_var.reset(token)
    assert isinstance(handler.console, io.StringIO)
    assert handler.console.getvalue() == direct + "\n"


def test_an_interactions_access_line_times_the_answer_not_the_work_after_it(
    settings: Settings, signer: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    # /plan with a chart answers at once (Discord's "thinking…") and fetches the chart after;
    # the CDN takes seconds to serve it.
    fake = FakeDiscord()
    url = fake.add_file("spy.png", png(2048), delay=5)
    charts = {"chart1": attachment(url, "spy.png", 2048)}
    caplog.set_level(logging.INFO, logger="coach_plans.access")
    with discord_app(fast_settings(settings), signer, fake) as discord:
        answers: list[dict[str, object]] = []
        command = threading.Thread(
            target=lambda: answers.append(
                discord.command("plan", coach="d", text="With a chart", attachments=charts)
            )
        )
        command.start()
        deadline = time.monotonic() + 30
        while not [r for r in caplog.records if getattr(r, "path", None) == "/interactions"]:
            assert time.monotonic() < deadline, "no access line for /interactions"
            time.sleep(0.01)
        # The line is written once the answer is sent, while the chart is still on its way.
        assert fake.edits == []
        command.join(timeout=60)
    assert answers == [{"type": 5}]
    assert len(fake.edits) == 1

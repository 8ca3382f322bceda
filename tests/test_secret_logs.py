"""Nothing in the logs lets their reader act as someone else: interaction tokens, the signatures
of Discord's CDN links and the configured keys are masked in every line, whoever logs it (our
records, httpx, httpcore, uvicorn), at DEBUG, in text and JSON, in the log file and on the
console."""

from __future__ import annotations

import logging
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from app.discord import protocol
from app.mock.discord import CdnFile
from app.observability.log_format import JsonFormatter, TextFormatter
from app.observability.logs import LineHandler, configure_logging, hold_records, show_held_records
from app.settings import Settings
from tests.support.discord_edge import (
    APP_ID,
    CDN,
    CHANNEL,
    Discord,
    FakeDiscord,
    attachment,
    button_interaction,
    command_data,
    components,
    fast_settings,
    guild_interaction,
    png,
)
from tests.support.service_process import BIN, running_service, service_env
from tests.test_log_lines import logging_app

API_KEY = "k3y-" + secrets.token_urlsafe(24)
# Shaped like Discord's: a bot token is three dot-separated base64url parts.
API = protocol.API_BASE_URL
BOT_TOKEN = f"MTA{secrets.token_urlsafe(21)}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(28)}"


def interaction_token() -> str:
    """A token as Discord sends it: long, base64url, different for every interaction."""
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(120)


class Walkthrough:
    """Drives one member's session and notes every secret Discord handed the service."""

    def __init__(self, discord: Discord, fake: FakeDiscord) -> None:
        self.discord, self.fake = discord, fake
        self.secrets: list[str] = []

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        payload["token"] = token = interaction_token()
        self.secrets.append(token)
        return self.discord.send(payload)

    def command(self, name: str, **options: Any) -> dict[str, Any]:
        attachments = options.pop("attachments", None)
        data = command_data(name, attachments, **options)
        return self.send(guild_interaction(protocol.APPLICATION_COMMAND, data))

    def signed_chart(self, name: str) -> dict[str, Any]:
        """A chart on Discord's CDN behind a signed link, as every attachment URL now is."""
        ex, issued, hm = secrets.token_hex(4), secrets.token_hex(4), secrets.token_hex(32)
        self.secrets += [f"ex={ex}", f"is={issued}", hm]
        url = f"{CDN}/attachments/{CHANNEL}/{len(self.fake.files) + 1}/{name}"
        signed = f"{url}?ex={ex}&is={issued}&hm={hm}&"
        body = png(2048)
        self.fake.files[signed] = CdnFile(body)
        return attachment(signed, name, len(body))


def walk(discord: Discord, fake: FakeDiscord) -> list[str]:
    """Plan with a chart, an edit adding one, history, a refused and a confirmed delete, and
    API reads with the key; the secrets sent."""
    session = Walkthrough(discord, fake)
    chart = {"chart1": session.signed_chart("spy.png")}
    assert session.command("plan", coach="d", text="Long above 950", attachments=chart)["type"] == 5
    chart = {"chart1": session.signed_chart("qqq.png")}
    edit = session.command("edit", coach="d", text="Long above 955", attachments=chart)
    assert edit["type"] == 5
    assert "Long above 950" in str(session.command("history", coach="d"))
    asked = session.command("delete", coach="d")
    ids = [one.get("custom_id", "") for one in components(asked["data"])]
    [confirm] = [one for one in ids if ":yes:" in one]
    assert session.send(button_interaction(confirm))["type"] == protocol.UPDATE_MESSAGE
    keyed = {"Authorization": f"Bearer {API_KEY}"}
    assert discord.client.get("/api/coach-plans/history?coach=d", headers=keyed).status_code == 200
    assert len(fake.edits) == 2  # both deferred answers went to their webhooks
    return session.secrets


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_walkthrough_at_debug_leaves_no_token_or_signature_in_the_logs(
    settings: Settings,
    signer: SigningKey,
    log_format: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = fast_settings(
        settings,
        log_level="DEBUG",
        log_format=log_format,
        api_key=SecretStr(API_KEY),
        discord_bot_token=SecretStr(BOT_TOKEN),
    )
    with logging_app(settings, signer) as discord:
        sent = walk(discord, discord.fake)
        # What a library could log beside the request: an Authorization header's value.
        logging.getLogger("httpcore.http11").debug("headers: Authorization: Bot %s", BOT_TOKEN)
    outputs = {"log file": Path(settings.log_file).read_text(), "console": capsys.readouterr().err}
    for where, text in outputs.items():
        for secret in [*sent, BOT_TOKEN, API_KEY]:
            assert secret not in text, f"{where} holds {secret[:12]}…"
        # The lines are there, masked: httpx's own line for each call to a webhook.
        assert f"/webhooks/{APP_ID}/***/messages/@original" in text, where
        assert "?ex=***&is=***&hm=***" in text, where


def send(base: str, env: dict[str, str], folder: Path, *args: str) -> str:
    """`coach-plans send ARGS` to the service at `base`; what it prints."""
    done = subprocess.run(
        [str(BIN / "coach-plans"), "send", *args, "--url", base],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_real_mock_service_logs_no_interaction_token(tmp_path: Path, log_format: str) -> None:
    """`serve --mock` as a process at DEBUG (uvicorn, httpcore and httpx all log), driven by
    `coach-plans send`: the webhook calls and the kept-messages reads carry every token."""
    (tmp_path / "spy.png").write_bytes(png(4096))
    env = service_env(tmp_path, MOCK_MODE="true", LOG_LEVEL="DEBUG", LOG_FORMAT=log_format)
    with running_service(tmp_path, env) as (base, _):
        posted = send(base, env, tmp_path, '/plan coach:d text:"Fade the gap" chart1:./spy.png')
        assert "Fade the gap" in posted
        assert "Fade it" in send(base, env, tmp_path, '/edit coach:d text:"Fade it"')
        assert "Fade the gap" in send(base, env, tmp_path, "/history coach:d")
        asked = send(base, env, tmp_path, "/delete coach:d")
        confirm = re.search(r"\[Confirm\] \(\w+; --click (\S+)\)", asked)
        assert confirm is not None
        assert "deleted" in send(base, env, tmp_path, "--click", confirm.group(1)).lower()
    logs = (tmp_path / "logs" / "serve.log").read_text() + (tmp_path / "console.log").read_text()
    # Mock mode's tokens are "token-<snowflake>" (app/mock/payloads.py).
    assert re.findall(r"token-\d+", logs) == []
    assert "/mock/messages/***" in logs and "/webhooks/" in logs  # the lines are there
    assert "httpcore" in logs  # the chart's download over a real connection


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_token_in_a_traceback_or_a_logged_payload_is_masked(
    formatter: TextFormatter | JsonFormatter, capsys: pytest.CaptureFixture[str]
) -> None:
    token = interaction_token()
    handler = LineHandler(sys.stderr, None)
    handler.setFormatter(formatter)
    log = logging.getLogger("test.secrets")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise RuntimeError(f"Client error '404' for url '{API}/webhooks/1/{token}/messages/2'")
        except RuntimeError:
            log.exception("edit failed for %s", {"id": "1", "token": token})
    finally:
        log.removeHandler(handler)
    written = capsys.readouterr().err
    assert "edit failed" in written and "/webhooks/1/***/messages/2" in written
    assert token not in written


def test_the_database_password_is_masked(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://coach:s%40fe-pass-word@db.internal:5432/plans"
    configure_logging(settings.model_copy(update={"database_url": url}))
    try:
        # As a driver says where it failed to connect.
        logging.getLogger("psycopg").warning("cannot reach %s (password s@fe-pass-word)", url)
    finally:
        root = logging.getLogger()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
    written = capsys.readouterr().err
    assert "cannot reach postgresql+psycopg://coach:***@db.internal" in written
    assert "fe-pass-word" not in written


def test_records_held_by_a_server_that_stopped_early_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A woken server holds records until its settings say where logs go; when it stops before
    # that, they go to stderr.
    token = interaction_token()
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    hold_records()
    try:
        logging.getLogger("httpx").warning("PATCH %s/webhooks/1/%s/messages/@original", API, token)
        show_held_records()
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        root.handlers, root.level = handlers, level
    written = capsys.readouterr().err
    assert "/webhooks/1/***/messages/@original" in written and token not in written

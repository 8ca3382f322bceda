"""`coach-plans send`: one interaction to a running service in mock mode, shown as Discord would."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from nacl.signing import SigningKey

from app import defaults
from app.discord import protocol
from app.mock import payloads
from app.mock.screen import Screen, render
from app.mock.simulator import (
    CHANNEL_ID,
    GUILD_ID,
    LocalFiles,
    SendError,
    command_data,
    parse_command,
    parse_typed,
    role_id,
    serve_files,
    user_id,
)
from app.settings import Settings

FOLLOWUP_WAIT_SECONDS = 60
# A deferred answer is polled for, first often (it usually comes within milliseconds), then
# less and less often, up to this interval.
POLL_MAX_SECONDS = 0.2


def _signing_key(settings: Settings) -> SigningKey:
    try:
        return SigningKey(bytes.fromhex(settings.mock_key_file.read_text().strip()))
    except FileNotFoundError:
        raise SendError(
            f"no development key at {settings.mock_key_file}: start the service in mock mode "
            "first (`make run`, or `coach-plans serve --mock`) with the same settings"
        ) from None
    except ValueError:
        raise SendError(f"{settings.mock_key_file} does not hold a signing key") from None


def _user_id(args: argparse.Namespace) -> str:
    # The same Discord id every time for the same --user name.
    return user_id(args.user)


def _roles(args: argparse.Namespace) -> list[str]:
    """The role names of --roles; none given: the member holds no role."""
    return [name.strip() for name in (args.roles or "").split(",") if name.strip()]


def _again(args: argparse.Namespace, base: str) -> list[str]:
    """The start of a command line that sends as this one does (same program, service, user):
    the modal's hint runs as pasted, even where API_PORT was set for this one only."""
    program = sys.argv[0] if Path(sys.argv[0]).name == "coach-plans" else "coach-plans"
    words = [program, "send"]
    if args.config:
        words += ["--config", str(args.config)]
    if args.user != "trader":
        words += ["--user", args.user]
    if args.moderator:
        words.append("--moderator")
    if args.admin:
        words.append("--admin")
    if args.roles:
        words += ["--roles", args.roles]
    if base != f"http://127.0.0.1:{defaults.API_PORT}":
        words += ["--url", base]
    return words


def _payload(args: argparse.Namespace, settings: Settings, files: LocalFiles) -> dict[str, Any]:
    user = {"id": _user_id(args), "username": args.user}
    where: dict[str, Any] = {
        "user": {**user, "global_name": args.user},
        "permissions": (protocol.MANAGE_MESSAGES if args.moderator else 0)
        | (protocol.MANAGE_GUILD if args.admin else 0),
        "roles": [role_id(name) for name in _roles(args)],
        "guild_id": GUILD_ID,
        "channel_id": CHANNEL_ID,
        "application_id": settings.discord_application_id or "100000000000000000",
    }
    if args.click:
        return payloads.button_press(args.click, **where)
    if args.submit:
        _, values = parse_command(f"/submit {args.command}")
        data = payloads.modal_data(args.submit, values)
        return payloads.guild_interaction(protocol.MODAL_SUBMIT, data, **where)
    from commands.registry import registry

    name, subcommand, values = parse_typed(args.command)
    definitions = {c["name"]: c for c in registry(settings).to_discord()}
    if name not in definitions:
        raise SendError(f"no command /{name}; try one of: /{', /'.join(sorted(definitions))}")
    data = command_data(definitions[name], values, files, subcommand)
    return payloads.guild_interaction(protocol.APPLICATION_COMMAND, data, **where)


class GoneAway(Exception):
    """The service stopped answering after it took the interaction."""


# What a request to the service fails with when there is no answer.
NO_ANSWER = (OSError, http.client.HTTPException)


class Service:
    """The service's HTTP endpoint, over one kept-alive connection. The standard library's
    client, not httpx: a command typed at a terminal pays for its imports on every run, and
    httpx's are most of that."""

    def __init__(self, base: str, timeout: float) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SendError(f"--url {base!r} is not an http:// or https:// address")
        try:
            port = parts.port
        except ValueError:
            raise SendError(f"--url {base!r} has no valid port") from None
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.base = base
        self._prefix = parts.path.rstrip("/")
        self._connection = kind(parts.hostname, port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """The status and body of the answer; raises one of NO_ANSWER when there is none."""
        self._connection.request(method, self._prefix + path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._connection.close()


def _followups(service: Service, token: str, wait: bool) -> list[dict[str, Any]]:
    """Messages the service would have sent to Discord for this interaction (kept in mock mode)."""
    deadline = time.monotonic() + (FOLLOWUP_WAIT_SECONDS if wait else 0)
    pause = 0.005
    while True:
        try:
            status, body = service.request("GET", f"/mock/messages/{token}")
        except NO_ANSWER as exc:
            raise GoneAway(
                f"the service at {service.base} went away while we waited ({exc!r})"
            ) from None
        messages: list[dict[str, Any]] = (
            json.loads(body).get("messages", []) if status == 200 else []
        )
        if messages:
            return messages
        if time.monotonic() >= deadline:
            if wait:
                print(
                    f"(stopped waiting for a follow-up after {FOLLOWUP_WAIT_SECONDS:.0f} s: the "
                    "service has not replaced its deferred answer yet)",
                    file=sys.stderr,
                )
            return messages
        time.sleep(pause)
        pause = min(pause * 2, POLL_MAX_SECONDS)


def _save_files(
    service: Service, token: str, messages: list[dict[str, Any]], folder: Path
) -> list[Path]:
    """Each file uploaded with the answer, written to `folder` (a picture a newcomer can open)."""
    saved = []
    for message in messages:
        for attachment in message.get("attachments") or []:
            name = Path(str(attachment.get("filename") or "")).name
            if not name:
                continue
            try:
                status, body = service.request("GET", f"/mock/files/{token}/{quote(name)}")
            except NO_ANSWER as exc:
                raise GoneAway(f"the service at {service.base} went away ({exc!r})") from None
            if status != 200:
                continue  # dropped from the fake's bounded keep: nothing to save
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / name
                path.write_bytes(body)
            except OSError as exc:
                raise SendError(f"cannot write into --save {folder}: {exc}") from None
            saved.append(path)
    return saved


def send(args: argparse.Namespace, settings: Settings) -> int:
    base = (args.url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
    try:
        key = _signing_key(settings)
        service = Service(base, settings.connection_timeout)
        with serve_files(settings.discord_api_base_url) as files, contextlib.closing(service):
            payload = _payload(args, settings, files)
            body = json.dumps(payload).encode()
            headers = payloads.signed_headers(key, body)
            try:
                status, answered = service.request("POST", "/interactions", body, headers)
            except NO_ANSWER as exc:
                raise SendError(
                    f"cannot reach the service at {base} ({exc!r}): is it running?"
                ) from None
            if status != 200:
                text = answered.decode("utf-8", "replace")
                print(f"The service answered {status}: {text}", file=sys.stderr)
                return 1
            answer = json.loads(answered)
            kind = answer.get("type")
            deferred = kind in (protocol.DEFERRED_CHANNEL_MESSAGE, protocol.DEFERRED_UPDATE_MESSAGE)
            followups = _followups(service, payload["token"], wait=deferred)
            saved = _save_files(service, payload["token"], followups, args.save)
    except GoneAway as exc:
        print(f"coach-plans send: {exc}", file=sys.stderr)
        return 1
    except SendError as exc:
        print(f"coach-plans send: {exc}", file=sys.stderr)
        return 2
    try:
        screen = Screen(names={_user_id(args): args.user}, again=_again(args, base))
        print(render(answer, followups, screen), flush=True)
        for path in saved:
            print(f"saved {path}", flush=True)
    except BrokenPipeError:
        # The reader left early (`send … | head`): what it read is what it wanted. Python would
        # report the broken pipe again when it flushes stdout at exit; point stdout elsewhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0

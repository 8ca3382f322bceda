"""`coach-plans send`: one interaction to a running service in mock mode, shown as Discord would."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx
from nacl.signing import SigningKey

from app.settings import Settings
from app.signatures import sign
from app.simulator import (
    SendError,
    command_data,
    interaction,
    modal_data,
    parse_command,
    render,
    serve_files,
)

APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
FOLLOWUP_WAIT_SECONDS = 60


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


def _payload(args: argparse.Namespace, settings: Settings, files: Any) -> dict[str, Any]:
    application_id = settings.discord_application_id or "100000000000000000"
    common = {"application_id": application_id, "moderator": args.moderator}
    if args.click:
        data = {"custom_id": args.click, "component_type": 2}
        payload = interaction(MESSAGE_COMPONENT, data, args.user, **common)
        payload["message"] = {
            "id": "100000000000000003",
            "channel_id": payload["channel_id"],
            "content": "",
            "flags": 64,
            "components": [],
        }
        return payload
    if args.submit:
        _, values = parse_command(f"/submit {args.command}")
        return interaction(MODAL_SUBMIT, modal_data(args.submit, values), args.user, **common)
    from commands import registry

    name, values = parse_command(args.command)
    definitions = {c["name"]: c for c in registry(settings).to_discord()}
    if name not in definitions:
        raise SendError(f"no command /{name}; try one of: /{', /'.join(sorted(definitions))}")
    data = command_data(definitions[name], values, files)
    return interaction(APPLICATION_COMMAND, data, args.user, **common)


def _followups(http: httpx.Client, base: str, token: str, wait: bool) -> list[dict[str, Any]]:
    """Messages the service would have sent to Discord for this interaction (kept in mock mode)."""
    deadline = time.monotonic() + (FOLLOWUP_WAIT_SECONDS if wait else 0)
    while True:
        response = http.get(f"{base}/mock/messages/{token}")
        messages = response.json().get("messages", []) if response.status_code == 200 else []
        if messages or time.monotonic() >= deadline:
            return messages
        time.sleep(0.2)


def send(args: argparse.Namespace, settings: Settings) -> int:
    base = (args.url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")
    try:
        key = _signing_key(settings)
        with (
            serve_files(settings.discord_api_base_url) as files,
            httpx.Client(timeout=settings.connection_timeout) as http,
        ):
            payload = _payload(args, settings, files)
            body = json.dumps(payload).encode()
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Signature-Ed25519": sign(key, timestamp, body),
                "X-Signature-Timestamp": timestamp,
            }
            try:
                response = http.post(f"{base}/interactions", content=body, headers=headers)
            except httpx.TransportError as exc:
                raise SendError(
                    f"cannot reach the service at {base} ({exc}): is it running?"
                ) from None
            if response.status_code != 200:
                print(
                    f"The service answered {response.status_code}: {response.text}", file=sys.stderr
                )
                return 1
            answer = response.json()
            deferred = answer.get("type") in (5, 6)
            followups = _followups(http, base, payload["token"], wait=deferred)
    except SendError as exc:
        print(f"coach-plans send: {exc}", file=sys.stderr)
        return 2
    print(render(answer, followups))
    return 0

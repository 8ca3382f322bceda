"""A local stand-in for Discord: `coach-plans send` turns a typed slash command into a signed
interaction, sends it to the service, and prints what a Discord user would see."""

from __future__ import annotations

import hashlib
import http.server
import mimetypes
import shlex
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.mock_discord import mock_cdn_base

# Discord's application command option types
# (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type).
STRING, INTEGER, BOOLEAN, NUMBER, ATTACHMENT = 3, 4, 5, 10, 11

GUILD_ID = "100000000000000001"
CHANNEL_ID = "100000000000000002"
EPHEMERAL = 1 << 6


class SendError(Exception):
    """The typed command cannot be sent; the message says how to write it."""


def snowflake(seed: str) -> str:
    """A stable Discord-like id for a name, so `--user alice` is the same user every time."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:7], "big")
    return str(100000000000000000 + digest % 800000000000000000)


def parse_command(text: str) -> tuple[str, dict[str, str]]:
    """'/plan coach:d text:"Watch 950"' → ("plan", {"coach": "d", "text": "Watch 950"})."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise SendError(f"cannot read the command: {exc} (close your quotes)") from None
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        raise SendError('start with a slash command, e.g. /plan coach:d text:"Watch 950"')
    name, values = words[0][1:].lower(), {}
    for word in words[1:]:
        key, sep, value = word.partition(":")
        if not sep or not key:
            raise SendError(f"{word!r} is not option:value (quote values with spaces)")
        values[key.lower()] = value
    return name, values


@dataclass
class LocalFiles:
    """Serves the local chart files to the service, as Discord's CDN would. Their URLs are on
    the Discord API host, which the service in mock mode answers itself (app/mock_discord.py):
    the service fetches chart URLs from Discord's hosts only."""

    base_url: str = ""
    files: dict[str, Path] = field(default_factory=dict)

    def add(self, path: Path) -> str:
        key = f"{len(self.files) + 1}/{quote(path.name)}"
        self.files[key] = path
        return f"{self.base_url}/{key}"


@contextmanager
def serve_files(api_base_url: str) -> Iterator[LocalFiles]:
    """Serve attached files on 127.0.0.1 for as long as the command takes."""
    local = LocalFiles()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = local.files.get(self.path.lstrip("/"))
            if path is None:
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    local.base_url = mock_cdn_base(api_base_url, httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield local
    finally:
        httpd.shutdown()
        httpd.server_close()


def _convert(option: dict[str, Any], raw: str, files: LocalFiles, resolved: dict[str, Any]) -> Any:
    name, kind = option["name"], option.get("type", STRING)
    if kind == INTEGER:
        try:
            return int(raw)
        except ValueError:
            raise SendError(f"{name}: {raw!r} is not a whole number") from None
    if kind == NUMBER:
        try:
            return float(raw)
        except ValueError:
            raise SendError(f"{name}: {raw!r} is not a number") from None
    if kind == BOOLEAN:
        if raw.lower() not in ("true", "false"):
            raise SendError(f"{name}: write true or false")
        return raw.lower() == "true"
    if kind == ATTACHMENT:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise SendError(f"{name}: no such file {raw!r}")
        attachment_id = snowflake(f"{path.resolve()}:{time.time_ns()}")
        url = files.add(path)
        resolved[attachment_id] = {
            "id": attachment_id,
            "filename": path.name,
            "size": path.stat().st_size,
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        }
        return attachment_id
    return raw


def command_data(
    definition: dict[str, Any], values: dict[str, str], files: LocalFiles
) -> dict[str, Any]:
    """The `data` of an APPLICATION_COMMAND interaction for these option values."""
    known = {option["name"]: option for option in definition.get("options", [])}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SendError(
            f"/{definition['name']} has no option {', '.join(unknown)}; "
            f"its options are: {', '.join(known) or 'none'}"
        )
    missing = [n for n, o in known.items() if o.get("required") and n not in values]
    if missing:
        raise SendError(f"/{definition['name']} needs {', '.join(f'{n}:…' for n in missing)}")
    resolved: dict[str, Any] = {}
    options = [
        {
            "name": n,
            "type": known[n].get("type", STRING),
            "value": _convert(known[n], v, files, resolved),
        }
        for n, v in values.items()
    ]
    data: dict[str, Any] = {
        "id": snowflake(f"command:{definition['name']}"),
        "name": definition["name"],
        "type": 1,
        "options": options,
    }
    if resolved:
        data["resolved"] = {"attachments": resolved}
    return data


def interaction(
    kind: int, data: dict[str, Any] | None, user: str, *, application_id: str, moderator: bool
) -> dict[str, Any]:
    permissions = (1 << 13) if moderator else 0  # MANAGE_MESSAGES
    user_id = snowflake(f"user:{user}")
    body: dict[str, Any] = {
        "id": snowflake(f"interaction:{time.time_ns()}"),
        "application_id": application_id,
        "type": kind,
        "token": f"mock-{snowflake(f'token:{time.time_ns()}')}",
        "version": 1,
        "guild_id": GUILD_ID,
        "channel_id": CHANNEL_ID,
        "channel": {"id": CHANNEL_ID, "name": "trading-plans", "type": 0},
        "member": {
            "user": {"id": user_id, "username": user, "global_name": user, "discriminator": "0"},
            "permissions": str(permissions),
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
        },
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID},
        "context": 0,
    }
    if data is not None:
        body["data"] = data
    return body


def modal_data(custom_id: str, values: dict[str, str]) -> dict[str, Any]:
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
        for key, value in values.items()
    ]
    return {"custom_id": custom_id, "components": rows}


# --- what a Discord user sees ----------------------------------------------------------------

_STYLE = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link"}


def render_message(message: dict[str, Any], *, title: str) -> list[str]:
    flags = int(message.get("flags") or 0)
    if title == "message updated":
        who = "seen by whoever saw it before"  # an update keeps the message's audience
    else:
        who = "only you can see this" if flags & EPHEMERAL else "visible to everyone"
    lines = [f"── {title} ({who}) " + "─" * 20]
    if message.get("content"):
        lines.append(message["content"])
    for embed in message.get("embeds") or []:
        if embed.get("title"):
            lines.append(f"┃ {embed['title']}")
        for text_line in (embed.get("description") or "").splitlines():
            lines.append(f"┃ {text_line}")
        for item in embed.get("fields") or []:
            lines.append(f"┃ {item.get('name')}: {item.get('value')}")
        if embed.get("image"):
            lines.append(f"┃ [image] {embed['image'].get('url')}")
        if embed.get("footer"):
            lines.append(f"┃ — {embed['footer'].get('text')}")
        if embed.get("url") and not embed.get("title"):
            lines.append(f"┃ {embed['url']}")
    for row in message.get("components") or []:
        buttons = []
        for component in row.get("components") or []:
            style = _STYLE.get(component.get("style", 2), "")
            buttons.append(
                f"[{component.get('label', '?')}] ({style}; --click {component.get('custom_id')})"
            )
        if buttons:
            lines.append("  ".join(buttons))
    return lines


def render(response: dict[str, Any], followups: list[dict[str, Any]]) -> str:
    """Discord's answer to one interaction, as text for a terminal."""
    kind = response.get("type")
    data = response.get("data") or {}
    if kind == 1:
        lines = ["PONG"]
    elif kind in (4, 7):
        lines = render_message(data, title="message" if kind == 4 else "message updated")
    elif kind in (5, 6):
        lines = ["(Coach Plans is thinking…)"]
    elif kind == 8:
        choices = data.get("choices") or []
        lines = ["Suggestions:"] + [f"  {c.get('name')}  (value {c.get('value')})" for c in choices]
        if not choices:
            lines.append("  (none)")
    elif kind == 9:
        lines = [f"── modal: {data.get('title')} " + "─" * 20]
        inputs = []
        for row in data.get("components") or []:
            for component in row.get("components") or []:
                inputs.append(component.get("custom_id"))
                limit = component.get("max_length")
                lines.append(
                    f"  {component.get('label')} ({component.get('custom_id')}"
                    f"{f', up to {limit} chars' if limit else ''}):"
                )
                for text_line in (component.get("value") or "").splitlines() or [""]:
                    lines.append(f"    | {text_line}")
        example = " ".join(f'{name}:"…"' for name in inputs)
        lines.append(f"Save it with: coach-plans send --submit {data.get('custom_id')} {example}")
    else:
        lines = [f"(answer of type {kind})"]
    for message in followups:
        lines += render_message(message, title="follow-up")
    return "\n".join(lines)

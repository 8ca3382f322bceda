"""A local stand-in for Discord: `coach-plans send` turns a typed slash command into a signed
interaction, sends it to the service, and prints what a Discord user would see."""

from __future__ import annotations

import http.server
import mimetypes
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.discord import payloads, protocol
from app.discord.fake import local_cdn_base
from app.discord.protocol import ATTACHMENT, BOOLEAN, INTEGER, NUMBER, STRING

# Where `coach-plans send` users are: plans stay in this guild from one run to the next.
GUILD_ID = "100000000000000001"
CHANNEL_ID = "100000000000000002"
# The id the fake Discord keeps the edited first answer under (PATCH …/messages/@original).
ORIGINAL = "@original"


class SendError(Exception):
    """The typed command cannot be sent; the message says how to write it."""


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
    the Discord API host, which the service in mock mode answers itself (app/discord/fake.py):
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
    local.base_url = local_cdn_base(api_base_url, httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield local
    finally:
        httpd.shutdown()
        httpd.server_close()


def _convert(option: dict[str, Any], raw: str) -> Any:
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
    return raw


def _attachment(name: str, raw: str, files: LocalFiles) -> dict[str, Any]:
    """A local file, served as Discord's CDN would serve an attachment."""
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SendError(f"{name}: no such file {raw!r}")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    url = files.add(path)
    return payloads.attachment(url, path.name, path.stat().st_size, content_type, image_size=None)


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
    attachments: dict[str, dict[str, Any]] = {}
    options = []
    for option_name, raw in values.items():
        option = known[option_name]
        kind = option.get("type", STRING)
        if kind == ATTACHMENT:
            attachments[option_name] = _attachment(option_name, raw, files)
        else:
            options.append(payloads.option(option_name, _convert(option, raw), kind))
    name = definition["name"]
    command_id = payloads.stable_id(f"command:{name}")
    return payloads.command_data(name, options, attachments, command_id=command_id)


# --- what a Discord user sees ----------------------------------------------------------------

_STYLE = {
    protocol.PRIMARY: "primary",
    protocol.SECONDARY: "secondary",
    protocol.SUCCESS: "success",
    protocol.DANGER: "danger",
    protocol.LINK: "link",
}


def _ephemeral(message: dict[str, Any]) -> bool:
    return bool(int(message.get("flags") or 0) & protocol.EPHEMERAL)


def render_message(
    message: dict[str, Any], *, title: str, ephemeral: bool | None = None
) -> list[str]:
    """`ephemeral` None: the message's own flags say who sees it."""
    if ephemeral is None:
        ephemeral = _ephemeral(message)
    if title == "message updated":
        who = "seen by whoever saw it before"  # an update keeps the message's audience
    else:
        who = "only you can see this" if ephemeral else "visible to everyone"
    lines = [f"── {title} ({who}) " + "─" * 20]
    if message.get("content"):
        lines.append(message["content"])
    sizes = {a.get("filename"): a.get("size") for a in message.get("attachments") or []}
    for component in message.get("components") or []:
        lines += _component(component, sizes, "")
    return lines


def _component(component: dict[str, Any], sizes: dict[Any, Any], indent: str) -> list[str]:
    """A Components V2 component (or a classic action row) as terminal lines; a container's
    content is drawn inside a bar."""
    kind = component.get("type")
    if kind == protocol.CONTAINER:
        accent = component.get("accent_color")
        colour = f" #{accent:06x}" if isinstance(accent, int) else ""
        lines = [f"{indent}┏━━{colour}"]
        for inner in component.get("components") or []:
            lines += _component(inner, sizes, indent + "┃ ")
        return [*lines, f"{indent}┗━━"]
    if kind == protocol.TEXT_DISPLAY:
        return [f"{indent}{line}" for line in str(component.get("content", "")).splitlines()]
    if kind == protocol.SEPARATOR:
        return [f"{indent}{'─' * 30 if component.get('divider', True) else ''}"]
    if kind == protocol.MEDIA_GALLERY:
        lines = []
        for item in component.get("items") or []:
            url = str((item.get("media") or {}).get("url", ""))
            name = url.removeprefix("attachment://")
            size = sizes.get(name) if url.startswith("attachment://") else None
            about = f"{name} ({size} bytes)" if size is not None else url
            alt = f" — {item['description']}" if item.get("description") else ""
            lines.append(f"{indent}[image] {about}{alt}")
        return lines
    if kind == protocol.ACTION_ROW:
        buttons = []
        for button in component.get("components") or []:
            style = _STYLE.get(button.get("style", protocol.SECONDARY), "")
            buttons.append(
                f"[{button.get('label', '?')}] ({style}; --click {button.get('custom_id')})"
            )
        return [f"{indent}{'  '.join(buttons)}"] if buttons else []
    return [f"{indent}(component of type {kind})"]


def render(response: dict[str, Any], followups: list[dict[str, Any]]) -> str:
    """Discord's answer to one interaction, as text for a terminal."""
    kind = response.get("type")
    data = response.get("data") or {}
    if kind == protocol.PONG:
        lines = ["PONG"]
    elif kind in (protocol.CHANNEL_MESSAGE, protocol.UPDATE_MESSAGE):
        updated = kind == protocol.UPDATE_MESSAGE
        lines = render_message(data, title="message updated" if updated else "message")
    elif kind in (protocol.DEFERRED_CHANNEL_MESSAGE, protocol.DEFERRED_UPDATE_MESSAGE):
        lines = ["(Coach Plans is thinking…)"]
    elif kind == protocol.AUTOCOMPLETE_RESULT:
        choices = data.get("choices") or []
        lines = ["Suggestions:"] + [f"  {c.get('name')}  (value {c.get('value')})" for c in choices]
        if not choices:
            lines.append("  (none)")
    elif kind == protocol.MODAL:
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
        if message.get("id") == ORIGINAL:
            # The edit of the deferred answer replaces "thinking…"; the deferral decided who
            # sees it (an edit carries no EPHEMERAL flag).
            lines += render_message(
                message, title="answer, in place of it", ephemeral=_ephemeral(data)
            )
        else:
            lines += render_message(message, title="follow-up")
    return "\n".join(lines)

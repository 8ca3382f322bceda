"""A local stand-in for Discord: `coach-plans send` turns a typed slash command into a signed
interaction, sends it to the service, and prints what a Discord user would see."""

from __future__ import annotations

import http.server
import mimetypes
import re
import shlex
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.discord import payloads, protocol
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
    the service fetches chart URLs from Discord's hosts only. The server starts with the first
    file: a command without attachments starts none."""

    api_base_url: str
    files: dict[str, Path] = field(default_factory=dict)
    _server: http.server.ThreadingHTTPServer | None = None
    _base_url: str = ""

    def add(self, path: Path) -> str:
        if self._server is None:
            self._start()
        key = f"{len(self.files) + 1}/{quote(path.name)}"
        self.files[key] = path
        return f"{self._base_url}/{key}"

    def _start(self) -> None:
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = files.get(self.path.lstrip("/"))
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

        # Here, not at the top: the fake (and httpx with it) loads only for a command with files.
        from app.discord.fake import local_cdn_base

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._base_url = local_cdn_base(self.api_base_url, self._server.server_address[1])
        # A short poll: shutdown() waits for the loop to notice, once per command.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def serve_files(api_base_url: str) -> Iterator[LocalFiles]:
    """Serve attached files on 127.0.0.1 for as long as the command takes."""
    local = LocalFiles(api_base_url)
    try:
        yield local
    finally:
        local.close()


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

# What Discord's clients draw in place of their markup: mentions and timestamps
# (https://discord.com/developers/docs/reference#message-formatting).
_MARKUP = re.compile(
    r"<@!?(?P<user>\d+)>|<@&(?P<role>\d+)>|<t:(?P<time>-?\d{1,13})(?::(?P<style>[tTdDfFR]))?>"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Screen:
    """What the terminal knows when it shows a message as Discord would: the names of the
    users it knows by id, the reader's time zone (None: this machine's) and clock, and the
    command line that repeats this one (the modal's hint starts with it)."""

    names: Mapping[str, str] = field(default_factory=dict)
    zone: tzinfo | None = None
    now: Callable[[], datetime] = _utc_now
    again: Sequence[str] = ("coach-plans", "send")

    def text(self, text: str) -> str:
        """`text` with mentions as names and timestamps as the reader's dates and times."""
        return _MARKUP.sub(self._shown, text)

    def _shown(self, match: re.Match[str]) -> str:
        if match["user"]:
            return "@" + self.names.get(match["user"], "unknown-user")
        if match["role"]:
            return "@" + self.names.get(match["role"], "unknown-role")
        try:
            moment = datetime.fromtimestamp(int(match["time"]), UTC).astimezone(self.zone)
        except (OverflowError, OSError, ValueError):
            return match[0]  # out of any calendar: left as typed
        return _timestamp(moment, match["style"] or "f", self.now())


def _timestamp(moment: datetime, style: str, now: datetime) -> str:
    """A timestamp in one of Discord's styles, as its English clients write them."""
    hour = f"{moment.hour % 12 or 12}:{moment:%M}"
    noon = "AM" if moment.hour < 12 else "PM"
    day = f"{moment:%B} {moment.day}, {moment.year}"
    shown = {
        "t": f"{hour} {noon}",
        "T": f"{hour}:{moment:%S} {noon}",
        "d": f"{moment:%m/%d/%Y}",
        "D": day,
        "f": f"{day} {hour} {noon}",
        "F": f"{moment:%A}, {day} {hour} {noon}",
    }
    return shown[style] if style in shown else _relative((moment - now).total_seconds())


def _relative(seconds: float) -> str:
    size = abs(seconds)
    for unit, length in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400),
                         ("hour", 3600), ("minute", 60), ("second", 1)):  # fmt: skip
        if size >= length or unit == "second":
            count = round(size / length)
            break
    amount = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def _ephemeral(message: dict[str, Any]) -> bool:
    return bool(int(message.get("flags") or 0) & protocol.EPHEMERAL)


def render_message(
    message: dict[str, Any],
    *,
    title: str,
    ephemeral: bool | None = None,
    screen: Screen | None = None,
) -> list[str]:
    """`ephemeral` None: the message's own flags say who sees it."""
    screen = screen or Screen()
    if ephemeral is None:
        ephemeral = _ephemeral(message)
    if title == "message updated":
        who = "seen by whoever saw it before"  # an update keeps the message's audience
    else:
        who = "only you can see this" if ephemeral else "visible to everyone"
    lines = [f"── {title} ({who}) " + "─" * 20]
    if message.get("content"):
        lines.append(screen.text(message["content"]))
    sizes = {a.get("filename"): a.get("size") for a in message.get("attachments") or []}
    for component in message.get("components") or []:
        lines += _component(component, sizes, "", screen)
    return lines


def _component(
    component: dict[str, Any], sizes: dict[Any, Any], indent: str, screen: Screen
) -> list[str]:
    """A Components V2 component (or a classic action row) as terminal lines; a container's
    content is drawn inside a bar."""
    kind = component.get("type")
    if kind == protocol.CONTAINER:
        accent = component.get("accent_color")
        colour = f" #{accent:06x}" if isinstance(accent, int) else ""
        lines = [f"{indent}┏━━{colour}"]
        for inner in component.get("components") or []:
            lines += _component(inner, sizes, indent + "┃ ", screen)
        return [*lines, f"{indent}┗━━"]
    if kind == protocol.TEXT_DISPLAY:
        content = screen.text(str(component.get("content", "")))
        return [f"{indent}{line}" for line in content.splitlines()]
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


def render(
    response: dict[str, Any], followups: list[dict[str, Any]], screen: Screen | None = None
) -> str:
    """Discord's answer to one interaction, as text for a terminal."""
    screen = screen or Screen()
    kind = response.get("type")
    data = response.get("data") or {}
    if kind == protocol.PONG:
        lines = ["PONG"]
    elif kind in (protocol.CHANNEL_MESSAGE, protocol.UPDATE_MESSAGE):
        updated = kind == protocol.UPDATE_MESSAGE
        title = "message updated" if updated else "message"
        lines = render_message(data, title=title, screen=screen)
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
                inputs.append((component.get("custom_id"), component.get("value") or ""))
                limit = component.get("max_length")
                lines.append(
                    f"  {component.get('label')} ({component.get('custom_id')}"
                    f"{f', up to {limit} chars' if limit else ''}):"
                )
                for text_line in (component.get("value") or "").splitlines() or [""]:
                    lines.append(f"    | {text_line}")
        # The fields as they are now, quoted twice: once for the shell, once for --submit's
        # own option:value syntax, so the line runs as pasted once its values are changed.
        fields = " ".join(f"{name}:{_option_value(value)}" for name, value in inputs)
        submit = [*screen.again, "--submit", str(data.get("custom_id")), fields]
        lines.append(f"Save it with: {shlex.join(submit)}")
    else:
        lines = [f"(answer of type {kind})"]
    for message in followups:
        if message.get("id") == ORIGINAL:
            # The edit of the deferred answer replaces "thinking…"; the deferral decided who
            # sees it (an edit carries no EPHEMERAL flag).
            lines += render_message(
                message, title="answer, in place of it", ephemeral=_ephemeral(data), screen=screen
            )
        else:
            lines += render_message(message, title="follow-up", screen=screen)
    return "\n".join(lines)


def _option_value(value: str) -> str:
    """`value` written so that parse_command reads it back as it is."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

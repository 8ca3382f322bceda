"""A local stand-in for Discord: `coach-plans send` turns a typed slash command into a signed
interaction and serves the files it attaches; app/mock/screen.py prints what a Discord user would
see of the answer."""

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

from app.discord.protocol import (
    ATTACHMENT,
    BOOLEAN,
    INTEGER,
    NUMBER,
    ROLE,
    STRING,
    SUB_COMMAND,
    USER,
)
from app.mock import payloads

# Where `coach-plans send` users are: plans stay in this guild from one run to the next.
GUILD_ID = "100000000000000001"
CHANNEL_ID = "100000000000000002"


class SendError(Exception):
    """The typed command cannot be sent; the message says how to write it."""


def parse_command(text: str) -> tuple[str, dict[str, str]]:
    """'/plan coach:d text:"Watch 950"' → ("plan", {"coach": "d", "text": "Watch 950"})."""
    name, subcommand, values = parse_typed(text)
    if subcommand is not None:
        raise SendError(f"{subcommand!r} is not option:value (quote values with spaces)")
    return name, values


def parse_typed(text: str) -> tuple[str, str | None, dict[str, str]]:
    """'/coaches add name:alex' → ("coaches", "add", {"name": "alex"}): a bare word right
    after the command's name is its subcommand."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise SendError(f"cannot read the command: {exc} (close your quotes)") from None
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        raise SendError('start with a slash command, e.g. /plan coach:d text:"Watch 950"')
    name, values = words[0][1:].lower(), {}
    subcommand = None
    if len(words) > 1 and ":" not in words[1]:
        subcommand, words = words[1].lower(), words[1:]
    for word in words[1:]:
        key, sep, value = word.partition(":")
        if not sep or not key:
            raise SendError(f"{word!r} is not option:value (quote values with spaces)")
        values[key.lower()] = value
    return name, subcommand, values


def user_id(name: str) -> str:
    """The id `coach-plans send` gives a user name, the same every time (`--user`, `@name`)."""
    return payloads.stable_id(f"user:{name}")


def role_id(name: str) -> str:
    """The id `coach-plans send` gives a role name, the same every time (`--roles`, `@name`)."""
    return payloads.stable_id(f"role:{name}")


@dataclass
class LocalFiles:
    """Serves the local chart files to the service, as Discord's CDN would. Their URLs are on
    the Discord API host, which the service in mock mode answers itself (app/mock/discord.py):
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
        from app.mock.discord import local_cdn_base

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
    if kind in (USER, ROLE):
        # `member:@bob`, `role:@coaches`: names stand for the ids `--user` and `--roles` use.
        if raw.startswith("@") and len(raw) > 1:
            return user_id(raw[1:]) if kind == USER else role_id(raw[1:])
        return raw
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
    definition: dict[str, Any],
    values: dict[str, str],
    files: LocalFiles,
    subcommand: str | None = None,
) -> dict[str, Any]:
    """The `data` of an APPLICATION_COMMAND interaction for these option values."""
    subcommands = {
        o["name"]: o for o in definition.get("options", []) if o.get("type") == SUB_COMMAND
    }
    if subcommands:
        chosen = subcommands.get(subcommand or "")
        if chosen is None:
            raise SendError(
                f"/{definition['name']} takes a subcommand first: "
                f"{', '.join(subcommands)}, e.g. /{definition['name']} {next(iter(subcommands))}"
            )
        inner = command_data(chosen, values, files)
        # A subcommand given no options has none in its data (`/coaches list`).
        options = inner.get("options", [])
        return payloads.subcommand_data(definition["name"], chosen["name"], options)
    if subcommand is not None:
        raise SendError(f"{subcommand!r} is not option:value (quote values with spaces)")
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

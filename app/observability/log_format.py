"""How log lines look: text or JSON, one line per record, unsafe characters escaped, secrets
masked, the request id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime

# Set by the request middleware; every record logged while serving that request carries it.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed with `extra=` and is shown.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}
# uvicorn passes its messages again with terminal colours for its own console formatter.
_NOT_SHOWN = _STANDARD | {"color_message"}


# What a client could use to forge or hide log lines: C0 and C1 controls (newline, carriage
# return, escape sequences), DEL, the Unicode line and paragraph separators, and the bidi
# overrides that reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def escape(text: str) -> str:
    """`text` with every unsafe character written as its Python escape (a newline as \\n), so
    whatever a request carries, one record is one line."""
    # The search alone costs little: most lines have nothing to escape.
    return _UNSAFE.sub(_escape_one, text) if _UNSAFE.search(text) else text


def _escaped(fields: Iterable[tuple[str, object]]) -> dict[str, object]:
    return {k: escape(v) if isinstance(v, str) else v for k, v in fields}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return _escaped((k, v) for k, v in record.__dict__.items() if k not in _NOT_SHOWN)


# What lets a reader of the logs act as someone else, wherever a line carries it (our records,
# httpx's "HTTP Request: …" line, httpcore's debug lines, a traceback's exception text): an
# interaction's token in its webhook path (posting as the app for 15 minutes) or in mock mode's
# kept-messages and kept-files paths; the signature of a Discord CDN link (`ex`, `is`, `hm`) or
# of an S3 URL; an Authorization value; a "token" field of a logged payload. The part after
# `keep` is masked.
_SECRET = re.compile(
    r"(?P<keep>/webhooks/\d+/|/mock/(?:messages|files)/"
    r"|[?&;](?i:ex|is|hm|token|x-amz-signature|x-amz-credential|x-amz-security-token)="
    r"|\b(?:Bot|Bearer) +|\btoken\\?[\"']\s*:\s*\\?[\"'])"
    r"(?P<secret>[^/?&#\s\"'\\,;<>)]+)"
)
MASK = "***"
# The configured secrets themselves (bot token, API key, the bucket's secret key), masked
# wherever they appear; set by configure_logging.
_known_secrets: tuple[str, ...] = ()


def mask_secrets(values: Iterable[str | None]) -> None:
    """Mask these values in every line from now on (besides the secrets found by their shape)."""
    global _known_secrets
    # A value of a few characters would mask ordinary words; no real token or key is that short.
    _known_secrets = tuple(sorted({v for v in values if v and len(v) >= 8}, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every secret in it replaced by ***."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    # A text without any of these cannot match: the `in` tests cost a third of a search, and
    # most lines (a signed PING's access line) have none.
    if (
        "/webhooks/" in text
        or "/mock/" in text
        or "=" in text
        or "Bot " in text
        or "Bearer " in text
        or "token" in text
    ):
        text = _SECRET.sub(rf"\g<keep>{MASK}", text)
    return text


ACCESS_LOGGER = "coach_plans.access"
access_log = logging.getLogger(ACCESS_LOGGER)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            # Escaped as in text lines: a log viewer shows the message field's newlines.
            "message": escape(record.getMessage()),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))

    def access(self, created: float, message: str, fields: dict[str, object]) -> str:
        """The access line as `format` writes it for a record with these `extra=` fields."""
        entry = {
            "time": _iso_time(created),
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "request_id": request_id_var.get(),
            "message": escape(message),
            **_escaped(fields.items()),
        }
        return redact(json.dumps(entry, default=str))


def _iso_time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """Human-readable lines; fields passed with `extra=` appear only in JSON lines.

    A record is one line with its unsafe characters escaped; a traceback follows on lines of its
    own, each indented, so a line that starts at the margin always starts a record."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._time(record.created)

    def _time(self, created: float) -> str:
        # The same as the default format; the date and time part is made once per second.
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(created))
            self._second = second
        return f"{self._stamp},{int((created - second) * 1000):03d}"

    def access(self, created: float, message: str, fields: dict[str, object]) -> str:
        """The access line as `format` writes it (fields passed with `extra=` are not shown)."""
        # Only the message can hold a client's characters: the request id is checked or ours.
        request_id = request_id_var.get()
        # ...and the message's path may hold a token (mock mode's kept messages).
        message = escape(redact(message))
        return f"{self._time(created)} INFO    [{request_id}] {ACCESS_LOGGER}: {message}"

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = escape(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if block:
                line += "".join(f"\n    {escape(part)}" for part in block.split("\n"))
        return redact(line)

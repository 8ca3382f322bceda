"""Logging set-up: text or JSON lines, console plus a rotating file, request ids on every line."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import logging.handlers
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from app.settings import Settings

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
        return json.dumps(entry, default=str)

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
        return json.dumps(entry, default=str)


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
        return f"{self._time(created)} INFO    [{request_id}] {ACCESS_LOGGER}: {escape(message)}"

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = escape(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if block:
                line += "".join(f"\n    {escape(part)}" for part in block.split("\n"))
        return line


class RotatingFile(logging.handlers.RotatingFileHandler):
    """The log file, rotated by size. It counts the bytes it writes: the stock size check asks
    the file system twice and the text stream's slow tell() once per line."""

    _size = -1

    def write_line(self, data: bytes) -> None:
        """Append encoded lines (the console takes the same bytes, so past the text layer)."""
        if self.stream is None:
            self.stream = self._open()
        if self._size < 0:
            self._size = os.path.getsize(self.baseFilename)
        self._size += len(data)
        if 0 < self.maxBytes <= self._size:
            self.doRollover()
            self._size = len(data)
        self.stream.buffer.write(data)
        self.stream.buffer.flush()


class LineHandler(logging.Handler):
    """Writes each record as one line to the console and to the log file.

    One handler for both outputs, because logging is on the hot path (an access line per
    request): a record is stamped with its request id, formatted, encoded and dispatched once,
    not once per output. A record goes out at once; access lines are batched (`write_soon`)."""

    def __init__(self, console: TextIO, file: RotatingFile | None) -> None:
        super().__init__()
        self.console = console
        # Bytes go to the console's own buffer when it has one: sys.stderr's text layer writes
        # through at every newline, which would undo the batching of access lines.
        self._console_bytes: BinaryIO | None = getattr(console, "buffer", None)
        self.file = file
        # Access lines not written yet. A deque: the event loop appends while a record logged
        # in another thread may be writing them out.
        self._pending: deque[str] = deque()
        self._flush_due = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.request_id = request_id_var.get()
            self.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        """Write one line now, after the access lines still pending."""
        with self.lock or contextlib.nullcontext():
            self._write_out([*self._drained(), line])

    def write_soon(self, line: str) -> None:
        """Write an access line once the event loop has finished its current turn: the requests
        answered in one turn share one write per output instead of one each (a write is a
        system call, the largest cost of a signed PING's line)."""
        self._pending.append(line)
        if self._flush_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: nothing would write it later
            self.flush()
            return
        self._flush_due = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._flush_due = False  # before draining: a line added later schedules a flush
            self._write_out(self._drained())

    def _drained(self) -> list[str]:
        pending = self._pending
        return [pending.popleft() for _ in range(len(pending))]

    def _write_out(self, lines: list[str]) -> None:
        if lines:
            text = "".join(lines)
            data = text.encode("utf-8", "backslashreplace")  # once, for both outputs
            if self._console_bytes is None:
                self.console.write(text)
            else:
                self._console_bytes.write(data)
            if self.file is not None:
                self.file.write_line(data)
        self.console.flush()  # a text stream flushes its byte buffer too

    def close(self) -> None:
        self.flush()
        if self.file is not None:
            self.file.close()
        super().close()


def log_access(method: str, path: str, status: int, seconds: float) -> None:
    """The access line of one request, with its fields for JSON lines.

    It is the one line every request writes, so when our handler is the only one it is
    formatted and written directly: a LogRecord and its dispatch cost more than the request
    itself spends in our code on a signed PING (bench/run.py). Anywhere else (a test's log
    capture, another handler) it goes through logging as usual."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 2)
    message = f"{method} {path} {status} {seconds * 1000:.1f}ms"
    fields: dict[str, object] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
    }
    handlers = _ROOT.handlers
    handler = handlers[0] if len(handlers) == 1 else None
    formatter = handler.formatter if isinstance(handler, LineHandler) else None
    if access_log.handlers or not isinstance(formatter, JsonFormatter | TextFormatter):
        access_log.info(message, extra=fields)
        return
    assert isinstance(handler, LineHandler)
    handler.write_soon(formatter.access(time.time(), message, fields) + "\n")


_ROOT = logging.getLogger()


def configure_logging(settings: Settings) -> None:
    """Replace the root handlers; called once per process before serving."""
    file = None
    if settings.log_file:
        path = Path(settings.log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = RotatingFile(
            path,
            maxBytes=int(settings.log_max_size_mb * 1024 * 1024),
            backupCount=settings.log_backup_count,
            encoding="utf-8",
        )
    handler = LineHandler(sys.stderr, file)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # No line shows the caller's file, thread or process: skip gathering them per record
    # (the logging docs' "Optimization" section).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # Our middleware writes the access line (with the request id); uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Alembic narrates each migration step and plugin at INFO; the service logs the upgrade once.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))

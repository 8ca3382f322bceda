"""Logging set-up: console plus a rotating file, and the records held until a woken server
knows its settings. The lines' look (secrets masked in every
one): app/observability/log_format.py."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from app.settings import Settings

from app.observability.log_format import (
    ACCESS_LOGGER,
    JsonFormatter,
    TextFormatter,
    access_log,
    escape,
    mask_secrets,
    request_id_var,
)

__all__ = [
    "ACCESS_LOGGER",
    "JsonFormatter",
    "LineHandler",
    "RotatingFile",
    "TextFormatter",
    "configure_logging",
    "escape",
    "hold_records",
    "log_access",
    "request_id_var",
    "show_held_records",
]


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
    not once per output. Every line goes out at once: batching a loop turn's access lines into
    one write saved too little to keep (docs/performance.md, "Batched access lines")."""

    def __init__(self, console: TextIO, file: RotatingFile | None) -> None:
        super().__init__()
        self.console = console
        # Bytes go to the console's own buffer when it has one: the line is encoded once for
        # both outputs.
        self._console_bytes: BinaryIO | None = getattr(console, "buffer", None)
        self.file = file

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "request_id" not in record.__dict__:  # held records carry theirs (HeldRecords)
                record.request_id = request_id_var.get()
            self.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        """Write one line to both outputs now."""
        with self.lock or contextlib.nullcontext():
            data = line.encode("utf-8", "backslashreplace")  # once, for both outputs
            if self._console_bytes is None:
                self.console.write(line)
            else:
                self._console_bytes.write(data)
            if self.file is not None:
                self.file.write_line(data)
            self.console.flush()  # a text stream flushes its byte buffer too

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self.console.flush()

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
    handler.write(formatter.access(time.time(), message, fields) + "\n")


_ROOT = logging.getLogger()


class HeldRecords(logging.Handler):
    """Keeps what is logged before the settings say where logs go (a server woken from zero
    listens before it loads them, app/runtime/wake.py); from pass_to() on, passes records on."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.target: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        if self.target is None:
            record.request_id = request_id_var.get()  # the request's, not the writer's
            self.records.append(record)
        elif record.levelno >= logging.getLogger().level:
            self.target.handle(record)

    def pass_to(self, target: logging.Handler) -> None:
        """Write the records held so far to `target`, and pass it those that still come."""
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self.target = target
            held, self.records = self.records, []
            for record in held:
                self.emit(record)


def hold_records() -> None:
    """Keep every record until configure_logging, which drops those below its level."""
    root = logging.getLogger()
    root.handlers = [HeldRecords()]
    root.setLevel(logging.DEBUG)


def show_held_records() -> None:
    """Write the warnings and errors still held to stderr: the server stopped before its
    settings said where logs go."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, HeldRecords):
            root.setLevel(logging.WARNING)
            # Our handler and format, so these lines too are escaped and have secrets masked.
            stderr = LineHandler(sys.stderr, None)
            stderr.setFormatter(TextFormatter())
            handler.pass_to(stderr)


def configure_logging(settings: Settings) -> None:
    """Replace the root handlers; called once per process before serving, or by a woken server
    once it has its settings (records held until then are written first)."""
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
    secrets = (settings.discord_bot_token, settings.api_key, settings.aws_secret_access_key)
    # A database driver may log the URL it connects to, its password encoded or not.
    password = urlsplit(settings.database_url).password
    mask_secrets(
        [
            *(None if value is None else value.get_secret_value() for value in secrets),
            password,
            password and unquote(password),
        ]
    )
    handler = LineHandler(sys.stderr, file)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    previous, root.handlers = root.handlers, [handler]  # one assignment: no record goes twice
    for old in previous:
        if isinstance(old, HeldRecords):
            old.pass_to(handler)
        old.close()
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

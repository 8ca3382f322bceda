"""Logging set-up: text or JSON lines, console plus a rotating file, request ids on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path

from app.settings import Settings

# Set by the request middleware; every record logged while serving that request carries it.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed with `extra=` and is shown.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "_line"}


_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args: object, **kwargs: object) -> logging.LogRecord:
    # Stamped once when the record is made, rather than by a filter on every handler.
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


class _FormatOnce(logging.Formatter):
    """Formats a record once; the console, the file and its size check reuse the line.

    Logging is on the hot path (an access line per request), and the standard handlers would
    format each record three times."""

    def format(self, record: logging.LogRecord) -> str:
        line = record.__dict__.get("_line")
        if line is None:
            line = record._line = self.format_once(record)  # type: ignore[attr-defined]
        return line

    def format_once(self, record: logging.LogRecord) -> str:
        return super().format(record)


class _RotatingFile(logging.handlers.RotatingFileHandler):
    """Size-based rotation by the bytes written, without two stat calls per line."""

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        if self.maxBytes <= 0:
            return False
        return self.stream.tell() + len(self.format(record)) + 1 >= self.maxBytes


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(_FormatOnce):
    def format_once(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(_FormatOnce):
    """Human-readable lines; fields passed with `extra=` appear only in JSON lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")


def configure_logging(settings: Settings) -> None:
    """Replace the root handlers; called once per process before serving."""
    formatter: logging.Formatter = (
        JsonFormatter() if settings.log_format == "json" else TextFormatter()
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.log_file:
        path = Path(settings.log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            _RotatingFile(
                path,
                maxBytes=int(settings.log_max_size_mb * 1024 * 1024),
                backupCount=settings.log_backup_count,
                encoding="utf-8",
            )
        )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.setLogRecordFactory(_record_with_request_id)
    # No line shows the caller's file, thread or process: skip gathering them per record
    # (the logging docs' "Optimization" section).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(settings.log_level)
    # Our middleware writes the access line (with the request id); uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True

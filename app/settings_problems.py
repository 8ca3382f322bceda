"""One line per setting problem, naming the setting, for start-up to print before it stops."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

_SECRET = {"discord_bot_token", "api_key", "aws_secret_access_key"}


def describe(exc: ValidationError, config: Path | str | None) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        if error["type"] == "extra_forbidden" and loc:
            lines.append(f"{str(loc[0]).upper()}: unknown setting in {config}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if not loc or re.match(r"[A-Z_]+: ", message):  # the check named its setting
            lines.append(message)
            continue
        field = str(loc[0])
        got = error.get("input")
        shown = "" if field in _SECRET or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{field.upper()}: {message}{shown}")
    return lines

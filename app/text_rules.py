"""What text the service accepts and stores, decided in one place.

The same input must give the same result on SQLite and PostgreSQL. PostgreSQL refuses a NUL in
text and a string longer than its column, where SQLite stores both; so every string bound for the
database is cleaned here first. Text a reader cannot see counts as no text at all.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters (Cc) except newline and tab, and lone surrogates (a JSON escape such as
# \ud800 makes one; UTF-8 cannot encode it, so neither database can store it).
_CONTROL_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# On one line, a line or paragraph break or a tab becomes a space rather than joining two words.
_BREAKS = re.compile("[\t\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]+")
# What is trimmed from both ends: whitespace and the zero-width spaces. Not the joiners, variation
# selectors or tags, which end emoji sequences (❤️, flags).
_EDGES = re.compile(r"^[\s\u200b\u2060\ufeff]+|[\s\u200b\u2060\ufeff]+$")

# Categories that draw nothing: controls, format characters (zero-width spaces and joiners, the
# BOM, bidi marks, tags), surrogates, and spaces and separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
# Letters and marks that render blank, the usual stand-ins for an "empty" name or message.
_BLANK = frozenset(
    "\u034f\u115f\u1160\u2800\u3164\uffa0"  # grapheme joiner, Hangul fillers, braille blank
    "\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06\ufe07"  # variation selectors
    "\ufe08\ufe09\ufe0a\ufe0b\ufe0c\ufe0d\ufe0e\ufe0f"
)

_CANONICAL_UINT = re.compile("0|[1-9][0-9]*")  # [0-9] is ASCII only, unlike \d and isdigit()
SNOWFLAKE_DIGITS = 20  # a Discord id is a 64-bit integer: at most 20 decimal digits


def has_visible(text: str) -> bool:
    """True when at least one character of `text` draws something."""
    return any(ch not in _BLANK and unicodedata.category(ch) not in _INVISIBLE for ch in text)


def multiline(value: str | None) -> str:
    """Text of several lines (a plan) as stored: line ends as \\n, no other control characters,
    trimmed; "" when nothing in it is visible."""
    if not value:
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _EDGES.sub("", _CONTROL_BUT_LINES.sub("", text))
    return text if has_visible(text) else ""


def one_line(value: object, limit: int) -> str | None:
    """A name shown on one line (a display name, a channel, a filename): breaks become spaces,
    control characters go, and it is cut to `limit` characters (its column's size); None when
    it is not a string or nothing visible is left."""
    if not isinstance(value, str) or not value:
        return None
    text = _EDGES.sub("", _CONTROL.sub("", _BREAKS.sub(" ", value)))
    text = _EDGES.sub("", text[:limit])
    return text if has_visible(text) else None


def storable(value: str, limit: int | None = None) -> str:
    """Any other string as stored (an id, a URL, a content type): no control characters, and
    at most `limit` characters."""
    return _CONTROL.sub("", value)[:limit]


def canonical_uint(value: object, max_digits: int) -> int | None:
    """The number that `value` spells when it is a canonical non-negative integer: a string of
    ASCII digits without leading zeros ("0" itself is fine) of at most `max_digits` digits.

    int() alone is far more lenient: it takes " 8", "+8", "-1", "1_000", "08" and other
    scripts' digits (fullwidth ones); and isdigit() passes "²", which int() then refuses."""
    if not isinstance(value, str) or len(value) > max_digits:
        return None
    return int(value) if _CANONICAL_UINT.fullmatch(value) else None


def snowflake(value: object) -> str | None:
    """A Discord id (a canonical decimal string), or None when `value` is not one."""
    if isinstance(value, str) and canonical_uint(value, SNOWFLAKE_DIGITS) is not None:
        return value
    return None


# A \uD800-\uDFFF escape in a JSON body: only when it has one can a string hold a lone surrogate.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def has_lone_surrogate(payload: object) -> bool:
    """Whether any string (key or value) in the parsed body holds a lone surrogate. A loop, not
    recursion: the body may nest as deep as the decoder allowed."""
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False

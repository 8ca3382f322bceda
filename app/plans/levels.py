"""The levels a coach gives with /plan, /edit or the editor: checked, then combined with what
the plan had and what its text says.

Rules (the same for every way in):
- levels given are stored as given (`source` "given"); a plan posted without any gets the
  levels its text states (`source` "extracted", or "none" when it states none);
- an edit that gives some levels changes those and keeps the others, from the plan's given
  levels, else from its new text; one that gives none keeps given levels and reads extracted
  ones again from the new text;
- the editor (a form) shows every level, so what it returns is the whole set: a field left
  empty is read from the saved text;
- `none` or `-` clears a level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from app.errors import BadLevels
from app.plans.extraction import extract, ungrouped
from app.records import BIASES, NO_LEVELS, Levels, price_text

MAX_TICKERS = 10
MAX_TARGETS = 10
# 940, 939.5, $940; thousands separators (5,838) are taken out first, as the extractor does.
_PRICE = re.compile(r"\$?([0-9]{1,7}(?:\.[0-9]{1,4})?)")
# A symbol: SPY, $spy, BRK.B, BF-B.
TICKER = r"\$?([A-Za-z][A-Za-z0-9]{0,9}(?:[.\-][A-Za-z0-9]{1,4})?)"
_TICKER = re.compile(TICKER)
_LIST_SEPARATOR = re.compile(r"[\s,/;|]+")
_ZONE = re.compile(r"(.+?)\s*(?:-|\u2013|\u2014|\bto\b)\s*(.+)")
_CLEAR = ("none", "-", "clear")
_BIAS_ALIASES = {"bullish": "long", "bearish": "short", "flat": "neutral"}


@dataclass(frozen=True, slots=True)
class GivenLevels:
    """Level options as typed: None means not given, "none" or "-" clears.

    `whole`: these are every level (the editor's form), not changes to the plan's levels: the
    ones left out are read from the text.
    """

    ticker: str | None = None
    bias: str | None = None
    entry: str | None = None
    stop: str | None = None
    targets: str | None = None
    whole: bool = False

    def any(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "whole")


NOT_GIVEN = GivenLevels()


@dataclass(frozen=True, slots=True)
class LevelChanges:
    """Given levels once checked: the values by Levels field name (a cleared one included), and
    whether they are the whole set (the editor's form)."""

    values: Mapping[str, object] = field(default_factory=dict)
    whole: bool = False

    def any(self) -> bool:
        return bool(self.values)


def check(given: GivenLevels) -> LevelChanges:
    """The given levels as values; refuses what is not a level (a stop that is not a price, a
    zone written backwards) before anything is saved."""
    parsed: dict[str, object] = {}
    if given.ticker is not None:
        parsed["tickers"] = () if _cleared(given.ticker) else tickers(given.ticker)
    if given.bias is not None:
        parsed["bias"] = None if _cleared(given.bias) else bias(given.bias)
    if given.entry is not None:
        parsed["entry"] = None if _cleared(given.entry) else entry(given.entry)
    if given.stop is not None:
        parsed["stop"] = None if _cleared(given.stop) else price(given.stop, "stop")
    if given.targets is not None:
        parsed["targets"] = () if _cleared(given.targets) else targets(given.targets)
    return LevelChanges(parsed, given.whole)


def resolve(text: str, given: GivenLevels | LevelChanges, current: Levels | None = None) -> Levels:
    """The levels to store with `text`, given what was typed (or what check() made of it: the
    plan service checks once, before any storage work) and the plan's current levels."""
    changes = given if isinstance(given, LevelChanges) else check(given)
    kept = current is not None and current.source == "given" and not changes.whole
    base = current if kept and current is not None else extract(text)
    if not changes.any():
        return base
    levels = replace(base, **changes.values, source="given")  # type: ignore[arg-type]  # check() gives each field its own type
    return NO_LEVELS if levels.is_empty() else levels


def tickers(value: str) -> tuple[str, ...]:
    words = [word for word in _LIST_SEPARATOR.split(value.strip()) if word]
    found: list[str] = []
    for word in words:
        match = _TICKER.fullmatch(word)
        if match is None:
            raise BadLevels(
                f"{word[:20]!r} is not a ticker: give symbols such as SPY, or several as SPY, QQQ."
            )
        found.append(match[1].upper())
    if len(found) > MAX_TICKERS:
        raise BadLevels(f"At most {MAX_TICKERS} tickers; {len(found)} were given.")
    return tuple(dict.fromkeys(found))


def bias(value: str) -> str:
    word = value.strip().lower()
    word = _BIAS_ALIASES.get(word, word)
    if word not in BIASES:
        raise BadLevels(f"Bias {value[:20]!r} is not one of long, short or neutral.")
    return word


def price(value: str, name: str) -> float:
    match = _PRICE.fullmatch(ungrouped(value.strip()))
    number = 0.0 if match is None else float(match[1])
    if number <= 0:
        raise BadLevels(
            f"`{name}` takes one price, e.g. 940 or 939.5; {value.strip()[:20]!r} is not a price."
        )
    return number


def entry(value: str) -> tuple[float, float]:
    """A price (`950`) or a zone, lower price first (`948-951`)."""
    text = value.strip()
    zone = _ZONE.fullmatch(text) if not _PRICE.fullmatch(text) else None
    if zone is None:
        single = price(text, "entry")
        return (single, single)
    low, high = price(zone[1], "entry"), price(zone[2], "entry")
    if low > high:
        raise BadLevels(
            f"The entry zone {text[:30]!r} is written backwards: put the lower price first, "
            f"e.g. {zone[2].strip()}-{zone[1].strip()}."
        )
    return (low, high)


def targets(value: str) -> tuple[float, ...]:
    # "5,875, 5,890" is two prices, as the extractor reads them; so is "960,975".
    words = [word for word in _LIST_SEPARATOR.split(ungrouped(value.strip())) if word]
    found = tuple(dict.fromkeys(price(word, "targets") for word in words))
    if len(found) > MAX_TARGETS:
        raise BadLevels(f"At most {MAX_TARGETS} targets; {len(found)} were given.")
    return found


def split_tickers_and_bias(value: str | None) -> tuple[str | None, str | None]:
    """The editor's one field "SPY, QQQ long": the tickers, then a bias word at the end."""
    if value is None or not value.strip():
        return None, None
    *rest, last = value.strip().split()
    if last.lower() in (*BIASES, *_BIAS_ALIASES):
        return " ".join(rest) or None, last
    return value, None


def as_form(levels: Levels) -> dict[str, str]:
    """The levels as the editor's fields show them: `SPY, QQQ long`, `948-951`, `940`,
    `960, 975`."""
    entry = ""
    if levels.entry is not None:
        low, high = map(price_text, levels.entry)
        entry = low if low == high else f"{low}-{high}"
    return {
        "ticker": " ".join(filter(None, (", ".join(levels.tickers), levels.bias or ""))),
        "entry": entry,
        "stop": "" if levels.stop is None else price_text(levels.stop),
        "targets": ", ".join(map(price_text, levels.targets)),
    }


def _cleared(value: str) -> bool:
    return value.strip().lower() in (*_CLEAR, "")

"""Reading a plan's levels from its text, the way traders write them.

    "$SPY long above 950, stop 940, targets 960/975"  -> SPY, long, entry 950, stop 940, 960 975
    "QQQ 948-951 zone, SL 940, TP1 960 TP2 975"       -> QQQ, entry 948-951, stop 940, 960 975

Pure functions, no I/O. Every number it returns is a number literal of the text (ASCII digits;
`5,850` is 5850) and every ticker a word of it (upper-cased): it rather says nothing than
guesses. When a plan names several tickers, the levels are the first ones written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from app.records import NO_LEVELS, Levels

# A price as written: 950, 950.25, $950 (thousands separators are taken out first, see
# ungrouped). ASCII digits only: float() would read other scripts' digits as a number that is
# not written in the text. Not a part of a word (TP1, 2R, 5k), a decimal comma (950,5), a
# percentage, a distance (4 points), a quantity (2 contracts, 100 shares), an indicator's
# length (50 EMA, 20-day), a strike (950 calls), a time (9:45) or a longer number.
_NOT_A_PRICE = (
    r"points?|pts?|ticks?|handles?|cents?|contracts?|cons|shares?|shs|lots?|cars?|calls?|puts?"
    r"|ema|sma|dma|wma|ma|days?|dte|mins?|minutes?|hours?|hr|weeks?|bars?|candles?"
)
NUMBER = (
    r"(?<![\w.:])\$?([0-9]{1,6}(?:\.[0-9]{1,4})?)"
    rf"(?![\w%]|[.:][0-9]|,[0-9]{{1,2}}(?![0-9])|[ \t]*-?[ \t]*(?:{_NOT_A_PRICE})\b)"
)
_PRICE = NUMBER.replace("([0-9]", "(?:[0-9]", 1)  # the same, capturing nothing
_NUMBER = re.compile(NUMBER)
# 5,850 or 1,250,000 (a head of one or two digits, or several groups) is one number; so is
# 104,500 or 106,000, which no two levels of one instrument could be, but 960,975 is a list.
_GROUPED = re.compile(r"(?<![0-9.,])([0-9]{1,3})((?:,[0-9]{3})+)(\.[0-9]+)?(?![0-9]|,[0-9])")
# What may stand between a keyword and its price: "stop loss at 940", "long above 950".
_FILLER = (
    r"(?:[\s:=@~>\-\u2013\u2014]|\b(?:at|is|of|near|around|below|under|above|over|on|a|the|from|loss|"
    r"break|breaks|reclaim|reclaims|if|price|level|zone|area|close|into|back|lose|loses|"
    r"pdh|pdl|pdc|onh|onl|vwap|hod|lod|support|resistance)\b)*"
)
_STOP = re.compile(
    rf"(?:\b(?:stops?|stop-loss|stoploss|sl|invalidation|invalidated|cut)\b|\U0001f6d1)"
    rf"{_FILLER}{NUMBER}",
    re.IGNORECASE,
)
# Targets: a keyword (or 🎯), then a list "960/975", "960, 975 and 990", "960 -> 975",
# "first target 396, second 392".
_SEPARATOR = (
    r"\s*(?:/|,|&|\band\b|\bthen\b|->|→|\|)?\s*"
    r"(?:\b(?:second|2nd|third|3rd|next|final|last)\b(?:\s+(?:target|tgt|one)\b)?[\s:]*)?"
)
_TARGET = re.compile(
    r"(?:\b(?:targets?|targeting|tgts?|tps?|pts?(?=\s*[:0-9$])|price\s+targets?|t[1-9]|tp[1-9]"
    r"|pt[1-9])\b"
    r"|\U0001f3af)"  # the direct-hit emoji, as in "🎯 955 / 960"
    rf"{_FILLER}({_PRICE}(?:{_SEPARATOR}{_PRICE})*)",
    re.IGNORECASE,
)
# "long above 950", also naming a size and the symbol: "Buy 100 shares of AAPL at 228".
_ENTRY_WORD = re.compile(
    rf"\b(?:entry|entries|enter|long|longs|buy|buying|bid|calls|short|shorts|sell|selling|"
    rf"puts|starter)\b(?:\s+[0-9]{{1,5}}\s*(?:contracts?|shares?|lots?|cars?)(?:\s+of)?)?"
    rf"(?:\s+\$?[A-Za-z]{{1,5}}(?=\s))?{_FILLER}{NUMBER}",
    re.IGNORECASE,
)
# 948-951; with "to" or "and" only beside a zone word: "from 955 to 950" is a move.
_ZONE = re.compile(
    rf"{NUMBER}\s*(?:-|\u2013|\u2014)\s*{NUMBER}"
    rf"|\b(?:zone|area|range|between)\s+(?:of\s+|from\s+)?{NUMBER}\s*(?:to|and)\s*{NUMBER}"
    rf"|{NUMBER}\s*to\s*{NUMBER}(?=\s*(?:zone|area|range)\b)",
    re.IGNORECASE,
)
_STATED_BIAS = re.compile(r"\bbias\b\s*[:=\-\u2013]?\s*(long|short|neutral|bullish|bearish)", re.I)
_LONG = re.compile(r"\b(?:long|longs|bullish|calls|buy|buying)\b", re.IGNORECASE)
_SHORT = re.compile(r"\b(?:short|shorts|bearish|puts|sell|selling)\b", re.IGNORECASE)
_NEUTRAL = re.compile(r"\b(?:neutral|no bias|flat|sidelines|chop|choppy)\b", re.IGNORECASE)
_BIAS_WORDS = {"bullish": "long", "bearish": "short"}
# Not the start of a longer word ("$A.0", "$SPY-X"): a symbol is a whole word, as below.
_DOLLAR_TICKER = re.compile(r"(?<![\w$])\$([A-Za-z]{1,5}(?:\.[A-Za-z])?)\b(?![.\-]\w)")
_CAPS_WORD = re.compile(r"(?<![\w$/.])/?([A-Z]{2,5})\b(?![.\-]\w)")
# Capital words traders write that are not symbols.
_JARGON = """AM PM ET EST EDT CT PT PST UTC NY US USA ATH ATL HOD LOD PDH PDL PDC ONH ONL IB POC VAH
    VAL HVN LVN VWAP AVWAP EMA SMA MA RSI MACD ATR OR ORB RTH ETH AH PMH PML SL TP TPS PTS BE RR
    FOMC CPI PPI GDP NFP PCE JOLTS OPEX EOD EOW IMO FYI NFA TBD LFG DCA ETA OK TA DD IV ITM OTM ATM
    DTE LONG SHORT BUY SELL STOP STOPS TARGET ENTRY ZONE NOTE WATCH GAP UP DOWN HIGH LOW AND THE
    NOT NO IF ON AT TO IN BY OF FOR ABOVE BELOW CALLS PUTS CALL PUT BIAS PLAN RISK SIZE HALF FULL
    ADD TRIM FED CEO EPS ER AI ALL ANY KEY NEW BIG RED GREEN MY WE IT IS BUT OUT OFF DAY WEEK
    TGT TGTS HTF LTF LH HH HL LL GM GN GL LOL"""
NOT_TICKERS = frozenset(_JARGON.split())


def extract(text: str) -> Levels:
    """The levels the text states, marked "extracted"; NO_LEVELS when it states none."""
    text = ungrouped(text)
    found = Levels(
        tickers=tickers(text),
        bias=bias(text),
        entry=entry(text),
        stop=stop(text),
        targets=targets(text),
        source="extracted",
    )
    if found.bias is None and not _LONG.search(text) and not _SHORT.search(text):
        found = replace(found, bias=_side_of_stop(found))
    return NO_LEVELS if found.is_empty() else found


def tickers(text: str) -> tuple[str, ...]:
    """`$SPY` in any case, and capital words of 2-5 letters that are not trading jargon."""
    found: list[tuple[int, str]] = [
        (m.start(), m[1].upper()) for m in _DOLLAR_TICKER.finditer(text)
    ]
    found += [(m.start(), m[1]) for m in _CAPS_WORD.finditer(text) if m[1] not in NOT_TICKERS]
    return tuple(dict.fromkeys(symbol for _, symbol in sorted(found)))


def bias(text: str) -> str | None:
    """A stated bias ("bias: long"); else the only direction the text speaks of."""
    stated = _STATED_BIAS.search(text)
    if stated:
        word = stated[1].lower()
        return _BIAS_WORDS.get(word, word)
    longs, shorts = bool(_LONG.search(text)), bool(_SHORT.search(text))
    if longs != shorts:
        return "long" if longs else "short"
    if not longs and _NEUTRAL.search(text):
        return "neutral"
    return None  # both directions (a two-sided plan) or none: not stated


def stop(text: str) -> float | None:
    found = _STOP.search(text)
    return None if found is None else float(found[1])


def targets(text: str) -> tuple[float, ...]:
    found: list[float] = []
    for match in _TARGET.finditer(text):
        found += [float(n) for n in _NUMBER.findall(match[1])]
    return tuple(dict.fromkeys(found))


def entry(text: str) -> tuple[float, float] | None:
    """A zone ("948-951", "948 to 951") outside stop and target phrases, else the price after
    an entry word ("entry 950", "long above 950", "short below 940")."""
    taken = list(_spans(text))
    for match in _ZONE.finditer(text):
        low, high = sorted(float(n) for n in match.groups() if n is not None)
        # A zone is narrow: 2025-03 (a date) or 1-2 (a count) is not one.
        if low > 0 and high / low < 1.1 and not _inside(match.start(), taken):
            return (low, high)
    for match in _ENTRY_WORD.finditer(text):
        if not _inside(match.start(1), taken):
            price = float(match[1])
            return (price, price)
    return None


def ungrouped(text: str) -> str:
    """The text with its thousands separators taken out where they cannot mean a list."""

    def join(match: re.Match[str]) -> str:
        head, groups = match[1], match[2]
        if len(head) == 3 and groups.count(",") == 1 and "0" not in (head[0], groups[1]):
            first, second = float(head), float(groups[1:])
            if max(first, second) / min(first, second) < 1.5:
                return match[0]  # two prices: "targets 960,975"
        return head + groups.replace(",", "") + (match[3] or "")

    return _GROUPED.sub(join, text)


def _side_of_stop(levels: Levels) -> str | None:
    """No direction word at all: a stop under the entry is a long, above it a short."""
    if levels.entry is None or levels.stop is None:
        return None
    low, high = levels.entry
    if levels.stop < low:
        return "long"
    return "short" if levels.stop > high else None


def _spans(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_STOP, _TARGET):
        for match in pattern.finditer(text):
            yield match.span()


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)

"""The price sources PRICE_SOURCE names: `csv:<dir>` (files a user keeps), `yahoo` (yfinance,
over the internet) and `none` (grading off).

yfinance and pandas load only when the Yahoo source first asks for bars: never on the start path.
"""

from __future__ import annotations

import csv
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.prices.bars import Bar, PriceSource, PriceSourceError

if TYPE_CHECKING:
    import pandas

log = logging.getLogger("coach_plans")
T = TypeVar("T")

# A source that has not answered by then is taken as failed; its thread is left to finish alone.
SOURCE_DEADLINE_SECONDS = 30.0
CSV_COLUMNS = ("timestamp", "open", "high", "low", "close")


class CsvSource:
    """`<dir>/<TICKER>.csv`: header timestamp,open,high,low,close[,volume], any order. A file is
    parsed once and kept while it is unchanged (a year of 5-minute bars is ~20,000 rows)."""

    name = "csv"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._parsed: dict[str, tuple[float, list[Bar]]] = {}

    def bars(self, ticker: str, start: datetime, end: datetime) -> list[Bar]:
        return [bar for bar in self._file(ticker) if start <= bar.start < end]

    def _file(self, ticker: str) -> list[Bar]:
        path = self.directory / f"{ticker.upper()}.csv"
        try:
            changed = path.stat().st_mtime
        except FileNotFoundError:
            return []  # no data for this symbol: its plans stay pending, then no_data
        except OSError as exc:
            raise PriceSourceError(f"{path} cannot be read: {exc}") from exc
        kept = self._parsed.get(ticker)
        if kept is not None and kept[0] == changed:
            return kept[1]
        bars = read_csv(path)
        self._parsed[ticker] = (changed, bars)
        return bars


def read_csv(path: Path) -> list[Bar]:
    """The bars of one CSV file, oldest first; a malformed file is named with its line."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if tuple(header[:5]) != CSV_COLUMNS:
                raise PriceSourceError(f"{path}: the header must be {','.join(CSV_COLUMNS)}")
            bars = [_row(path, number, row) for number, row in enumerate(reader, start=2) if row]
    except OSError as exc:
        raise PriceSourceError(f"{path} cannot be read: {exc}") from exc
    bars.sort(key=lambda bar: bar.start)
    return bars


def _row(path: Path, number: int, row: list[str]) -> Bar:
    try:
        start = datetime.fromisoformat(row[0].strip())
        if start.tzinfo is None:
            raise ValueError("the timestamp needs Z or an offset")
        open_, high, low, close = (float(value) for value in row[1:5])
    except (ValueError, IndexError) as exc:
        raise PriceSourceError(f"{path} line {number}: {exc}") from exc
    return Bar(start.astimezone(UTC), open_, high, low, close)


class YahooSource:
    """Yahoo Finance through yfinance: 5-minute bars, regular hours only. Yahoo keeps 5-minute
    bars for about 60 days: an older session gets none, so its plans end as no_data."""

    name = "yahoo"
    interval = "5m"

    def bars(self, ticker: str, start: datetime, end: datetime) -> list[Bar]:
        import yfinance

        try:
            frame = yfinance.Ticker(ticker).history(
                start=start, end=end, interval=self.interval, prepost=False, auto_adjust=False
            )
        except Exception as exc:  # yfinance raises many kinds; each means "no answer now"
            raise PriceSourceError(f"Yahoo Finance did not answer for {ticker}: {exc}") from exc
        return [bar for bar in bars_of_frame(frame) if start <= bar.start < end]


def bars_of_frame(frame: pandas.DataFrame) -> list[Bar]:
    """yfinance's history frame (a DatetimeIndex, Open/High/Low/Close columns) as bars."""
    if frame is None or frame.empty:
        return []
    missing = {"Open", "High", "Low", "Close"} - set(frame.columns)
    if missing:
        raise PriceSourceError(f"Yahoo Finance's answer lacks {', '.join(sorted(missing))}")
    index = frame.index
    if index.tz is None:
        index = index.tz_localize(UTC)
    out = []
    for moment, row in zip(index.tz_convert(UTC), frame.itertuples(index=False), strict=True):
        values: Any = row
        prices = (values.Open, values.High, values.Low, values.Close)
        if any(price != price for price in prices):  # NaN: a bar Yahoo has no trades for
            continue
        out.append(Bar(moment.to_pydatetime(), *(float(price) for price in prices)))
    out.sort(key=lambda bar: bar.start)
    return out


def price_source(setting: str) -> PriceSource | None:
    """The source PRICE_SOURCE names; None for `none` (grading off)."""
    if setting == "none":
        return None
    if setting == "yahoo":
        return YahooSource()
    return CsvSource(Path(os.path.expanduser(setting.partition(":")[2].strip())))


def within(call: Callable[[], T], seconds: float = SOURCE_DEADLINE_SECONDS) -> T:
    """`call()` in a thread of its own, waited for at most `seconds`: a source that hangs never
    holds its caller (a command, a read, a start, the grading CLI). The thread is a daemon, so a
    hung one never keeps the process from exiting."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    worker = threading.Thread(target=run, name="price-source", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise PriceSourceError(f"the price source did not answer within {seconds:g} s")
    if failure:
        raise failure[0]
    return result[0]


def session_bounds(day_open: datetime, day_close: datetime) -> tuple[datetime, datetime]:
    """What to ask a source for: the session, with a bar's margin either side."""
    return day_open - timedelta(minutes=30), day_close + timedelta(minutes=30)

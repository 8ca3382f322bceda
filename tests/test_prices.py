"""Price sources and the market calendar: the CSV layout of the contract, Yahoo's frame as
yfinance hands it (built here, never fetched), PRICE_SOURCE, and the sessions of XNYS."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas
import pytest

from app.prices.bars import Bar, PriceSourceError
from app.prices.calendar import MarketCalendar
from app.prices.sources import CsvSource, YahooSource, bars_of_frame, price_source, within
from app.settings import SettingsError, load_settings

T0 = datetime(2025, 3, 14, 13, 30, tzinfo=UTC)


def test_csv_source_reads_the_contract_layout_in_any_order(tmp_path: Path) -> None:
    (tmp_path / "SPY.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "2025-03-14T09:35:00-04:00,101,102,100.5,101.5,900\n"
        "2025-03-14T13:30:00Z,100,101,99,100.5,1200\n"
        "\n"
    )
    source = price_source(f"csv:{tmp_path}")
    assert isinstance(source, CsvSource)
    assert source.bars("spy", T0, T0 + timedelta(hours=1)) == [
        Bar(T0, 100, 101, 99, 100.5),
        Bar(T0 + timedelta(minutes=5), 101, 102, 100.5, 101.5),
    ]
    assert source.bars("SPY", T0 + timedelta(minutes=5), T0 + timedelta(hours=1))[0].open == 101
    assert source.bars("QQQ", T0, T0 + timedelta(hours=1)) == []  # no file: no data yet


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("time,o,h,l,c\n", "the header must be timestamp,open,high,low,close"),
        ("timestamp,open,high,low,close\n2025-03-14T13:30:00,1,2,0.5,1\n", "line 2"),
        ("timestamp,open,high,low,close\n2025-03-14T13:30:00Z,1,x,0.5,1\n", "line 2"),
    ],
)
def test_csv_source_names_a_malformed_file_and_line(
    tmp_path: Path, content: str, says: str
) -> None:
    (tmp_path / "SPY.csv").write_text(content)
    with pytest.raises(PriceSourceError, match=says):
        CsvSource(tmp_path).bars("SPY", T0, T0 + timedelta(hours=1))


def test_yahoo_frame_becomes_bars_in_utc_without_empty_bars() -> None:
    index = pandas.DatetimeIndex(
        ["2025-03-14 09:35", "2025-03-14 09:30", "2025-03-14 09:40"], tz="America/New_York"
    )
    frame = pandas.DataFrame(
        {
            "Open": [101.0, 100.0, float("nan")],
            "High": [102.0, 101.0, float("nan")],
            "Low": [100.5, 99.0, float("nan")],
            "Close": [101.5, 100.5, float("nan")],
            "Volume": [900, 1200, 0],
        },
        index=index,
    )
    assert bars_of_frame(frame) == [
        Bar(T0, 100, 101, 99, 100.5),
        Bar(T0 + timedelta(minutes=5), 101, 102, 100.5, 101.5),
    ]
    assert bars_of_frame(pandas.DataFrame()) == []
    with pytest.raises(PriceSourceError, match="lacks Close"):
        bars_of_frame(frame.drop(columns=["Close"]))


def test_price_source_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRICE_SOURCE")  # the tests' own default is none
    assert isinstance(price_source("yahoo"), YahooSource)
    assert price_source("none") is None
    assert load_settings(mock_mode=True).price_source == "yahoo"
    assert load_settings(mock_mode=True).market_calendar == "XNYS"
    with pytest.raises(SettingsError, match="PRICE_SOURCE"):
        load_settings(mock_mode=True, price_source="csv:")
    with pytest.raises(SettingsError, match="MARKET_CALENDAR"):
        load_settings(mock_mode=True, market_calendar="not a calendar!")


def test_a_source_that_hangs_is_given_up_at_its_deadline() -> None:
    never = threading.Event()
    with pytest.raises(PriceSourceError, match="did not answer within"):
        within(never.wait, 0.2)
    never.set()
    assert within(lambda: 3, 5) == 3


def test_sessions_holidays_and_early_closes_come_from_the_calendar() -> None:
    calendar = MarketCalendar("XNYS")
    friday = calendar.session(date(2025, 3, 14))
    assert friday is not None and (friday.open, friday.close) == (
        T0, datetime(2025, 3, 14, 20, 0, tzinfo=UTC),
    )  # fmt: skip
    assert calendar.session(date(2025, 3, 15)) is None  # a Saturday
    assert calendar.session(date(2025, 12, 25)) is None  # Christmas
    early = calendar.session(date(2025, 11, 28))  # the day after Thanksgiving closes at 13:00
    assert early is not None and early.close == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)
    # The sessions closed before an instant: never that day's own session while it is open.
    during = datetime(2025, 12, 26, 15, 0, tzinfo=UTC)
    assert calendar.sessions_closed_before(during, 2) == [date(2025, 12, 23), date(2025, 12, 24)]


def test_an_unknown_calendar_is_a_clear_error() -> None:
    with pytest.raises(PriceSourceError, match="MARKET_CALENDAR 'XXXX'"):
        MarketCalendar("XXXX").session(date(2025, 3, 14))

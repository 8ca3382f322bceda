"""Levels read from a plan's text, and levels a coach gives: what is accepted, what is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.errors import BadLevels
from app.plans.extraction import extract
from app.plans.levels import GivenLevels, as_form, resolve, split_tickers_and_bias
from app.records import Levels
from tests.support.levels_corpus import cases, score

# --- the extractor -------------------------------------------------------------------------------


def test_the_extractor_reads_the_golden_corpus_and_never_says_a_wrong_level() -> None:
    result = score()
    print(result.line())
    assert len(cases()) >= 40
    # It may miss a level written in an unusual way, but a level it states is the text's.
    assert result.wrong == 0, result.misses
    assert result.right / result.fields >= 0.95, result.misses
    # Each expected answer is the whole `levels` JSON, its source too.
    for case in cases():
        assert extract(case["text"]).as_dict()["source"] == case["expected"]["source"], case


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "$SPY long above 950, stop 940, targets 960/975",
            {
                "tickers": ["SPY"],
                "bias": "long",
                "entry": {"low": 950, "high": 950},
                "stop": 940,
                "targets": [960, 975],
                "source": "extracted",
            },
        ),
        (
            "948-951 zone, SL 940",
            {
                "tickers": [],
                "bias": "long",  # no direction word: the stop under the zone says long
                "entry": {"low": 948, "high": 951},
                "stop": 940,
                "targets": [],
                "source": "extracted",
            },
        ),
    ],
)
def test_the_examples_of_the_issue(text: str, expected: dict[str, object]) -> None:
    assert extract(text).as_dict() == expected


@pytest.mark.parametrize(
    "text",
    [
        "Plan for 2025-03-14: see the chart",  # a date is not a zone
        "Open at 9:45, risk 2%, size 3 contracts",  # a time, a percentage, a count
        "Great day yesterday, +4 points",
        "",
    ],
)
def test_text_without_levels_has_none(text: str) -> None:
    levels = extract(text)
    assert levels.entry is None and levels.stop is None and levels.targets == ()
    assert levels.tickers == ()


def test_a_stop_as_a_distance_is_not_a_price() -> None:
    assert extract("SPY long above 950, stop 4 points").stop is None


@pytest.mark.parametrize(
    "text",
    [
        "Long 2 contracts here, stop 945",  # a size
        "Long above the 50 EMA, stop 945",  # an indicator's length
        "Long the 950 calls, stop 945",  # a strike
        "Long above 950,5, stop 945",  # a decimal comma: no guess at what it means
        "Long above \u0669\u0665\u0660, stop 945",  # 950 in another script's digits
        "A bounce from 940 to 950 on the daily, stop 945",  # a move, not a zone
    ],
)
def test_numbers_that_are_not_the_entry_are_not_read_as_it(text: str) -> None:
    levels = extract(text)
    assert levels.entry is None and levels.stop == 945


def test_thousands_separators_are_read_as_one_price_unless_they_make_a_list() -> None:
    levels = extract("NQ short under 20,150, stop 20,210, targets 20,050 / 19,990")
    assert (levels.entry, levels.stop, levels.targets) == ((20150, 20150), 20210, (20050, 19990))
    assert extract("targets 960,975").targets == (960, 975)  # two prices of one instrument
    assert extract("BTC target 106,000").targets == (106000,)


_WORDS = [
    "long", "short", "above", "below", "stop", "SL", "targets", "tgt", "TP1", "entry", "zone",
    "EMA", "contracts", "between", "second", "\U0001f3af", "\U0001f6d1", "\u0669\u0665\u0660",
    "calls", "puts", "bias:", "neutral", "-", "/", ",", "and", "then", "$", "at", "to", "\n",
    "SPY", "$qqq", "ES", "VWAP", "PDH", "%", ":", "points", "R", ".",
]  # fmt: skip
_tokens = st.one_of(
    st.sampled_from(_WORDS),
    st.decimals(min_value=0, max_value=99999, places=2).map(str),
    st.integers(min_value=0, max_value=10**7).map(str),
    st.text(alphabet="$-/.,: 0123456789abcABCxyzXYZ", max_size=8),
    st.from_regex(r"[0-9]{1,3}(,[0-9]{3}){1,2}(\.[0-9]{1,2})?", fullmatch=True),
)
_plan_texts = st.one_of(
    st.lists(_tokens, max_size=30).map(" ".join),
    st.lists(_tokens, max_size=30).map("".join),
    st.text(max_size=200),
)


@settings(max_examples=400, deadline=None)
@given(_plan_texts)
@example("A-AA")  # a symbol after a dash, found once by the search
@example("$A.0")  # and a $ word that goes on past the symbol, found by it too
@example("stop \u0669\u0664\u0660")  # 940 in Arabic-Indic digits: not the literal 940
@example("targets 5,875, 5,890 and 960,975")
def test_every_extracted_number_and_symbol_is_in_the_text(text: str) -> None:
    levels = extract(text)
    # A number as written in ASCII digits, with or without thousands separators (5,850).
    numbers = {float(n) for n in re.findall(r"[0-9]+(?:\.[0-9]+)?", text)}
    numbers |= {
        float(n.replace(",", "")) for n in re.findall(r"[0-9]+(?:,[0-9]{3})+(?:\.[0-9]+)?", text)
    }
    prices = [*(levels.entry or ()), *levels.targets]
    prices += [] if levels.stop is None else [levels.stop]
    assert set(prices) <= numbers
    # A symbol stands alone or inside a dashed name (BRK-B; the AA of A-AA).
    words = {w.upper().rstrip(".") for w in re.findall(r"[A-Za-z][A-Za-z0-9.\-]*", text)}
    words |= {w.upper().rstrip(".") for w in re.findall(r"[A-Za-z][A-Za-z0-9.]*", text)}
    for ticker in levels.tickers:
        assert ticker in words


# --- levels a coach gives ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            GivenLevels(stop="abc"),
            "`stop` takes one price, e.g. 940 or 939.5; 'abc' is not a price",
        ),
        (GivenLevels(stop="-5"), "'-5' is not a price"),
        (
            GivenLevels(entry="951-948"),
            "written backwards: put the lower price first, e.g. 948-951",
        ),
        (GivenLevels(entry="950-abc"), "`entry` takes one price"),
        (GivenLevels(bias="up"), "Bias 'up' is not one of long, short or neutral"),
        (GivenLevels(ticker="SPY, QQ!Q"), "'QQ!Q' is not a ticker"),
        (GivenLevels(targets="960, 9x"), "`targets` takes one price"),
        (GivenLevels(targets=" ".join(str(n) for n in range(1, 13))), "At most 10 targets"),
    ],
)
def test_bad_levels_are_refused_with_what_to_write(given: GivenLevels, message: str) -> None:
    with pytest.raises(BadLevels, match=re.escape(message)):
        resolve("text", given)


def test_given_prices_may_have_thousands_separators() -> None:
    given = GivenLevels(entry="5,850-5,855", stop="5,838", targets="5,875, 5,890")
    levels = resolve("ES plan", given)
    assert (levels.entry, levels.stop, levels.targets) == ((5850, 5855), 5838, (5875, 5890))
    assert resolve("x", GivenLevels(targets="960,975")).targets == (960, 975)
    # Read as the targets read it: two prices, so not one stop.
    with pytest.raises(BadLevels, match="takes one price"):
        resolve("x", GivenLevels(stop="960,975"))


def test_given_levels_are_kept_as_given() -> None:
    levels = resolve(
        "whatever the text says: long above 1",
        GivenLevels(
            ticker="spy, $qqq", bias="short", entry="948-951", stop="955", targets="940/930"
        ),
    )
    assert levels == Levels(("SPY", "QQQ"), "short", (948, 951), 955, (940, 930), "given")


def test_an_edit_changes_the_levels_given_and_keeps_the_rest() -> None:
    first = resolve("x", GivenLevels(ticker="SPY", stop="940", targets="960"))
    second = resolve("new text, stop 1", GivenLevels(stop="942"), first)
    assert second == Levels(("SPY",), None, None, 942, (960,), "given")
    # New text without level options keeps given levels...
    assert resolve("QQQ short below 400", GivenLevels(), second) == second
    # ...and `none` clears one.
    assert resolve("x", GivenLevels(targets="none"), second).targets == ()


def test_extracted_levels_follow_the_text() -> None:
    first = resolve("SPY long above 950", GivenLevels())
    assert first.source == "extracted" and first.entry == (950, 950)
    assert resolve("QQQ short below 400", GivenLevels(), first).tickers == ("QQQ",)
    # A level given on top of extracted ones: the others come from the new text.
    mixed = resolve("QQQ short below 400", GivenLevels(stop="405"), first)
    assert mixed == Levels(("QQQ",), "short", (400, 400), 405, (), "given")


def test_the_editor_form_is_the_whole_set_and_empty_fields_come_from_the_text() -> None:
    given = resolve("x", GivenLevels(ticker="SPY", stop="940"))
    form = GivenLevels(ticker="SPY", targets="960", whole=True)  # the stop was emptied
    assert resolve("stop 938", form, given) == Levels(("SPY",), None, None, 938, (960,), "given")
    assert resolve("plain words", GivenLevels(whole=True), given).source == "none"


def test_the_editor_shows_levels_as_a_coach_types_them() -> None:
    levels = Levels(("SPY", "QQQ"), "long", (948.5, 951), 940, (960, 975.25), "given")
    assert as_form(levels) == {
        "ticker": "SPY, QQQ long",
        "entry": "948.5-951",
        "stop": "940",
        "targets": "960, 975.25",
    }
    assert split_tickers_and_bias("SPY, QQQ long") == ("SPY, QQQ", "long")
    assert split_tickers_and_bias("short") == (None, "short")
    assert split_tickers_and_bias("SPY") == ("SPY", None)
    assert split_tickers_and_bias("  ") == (None, None)

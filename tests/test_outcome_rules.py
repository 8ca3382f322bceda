"""The grading rules on hand-made bars: each rule and edge of the contract's "Outcomes" by name,
and a property over generated sessions (no bar outside the session counts; R never beats the
farthest target's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.outcomes.rules import (
    Outcome,
    Session,
    Version,
    call_of,
    grade,
    r_multiple,
)
from app.prices.bars import Bar
from app.records import Levels

OPEN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # a Monday, 09:30 in New York
CLOSE = OPEN + timedelta(hours=6, minutes=30)
SESSION = Session(OPEN, CLOSE)
AFTER = CLOSE + timedelta(hours=1)
STEP = timedelta(minutes=5)
LONG = Levels(("SPY",), "long", (100.0, 101.0), 98.0, (104.0, 106.0), "given")
SHORT = Levels(("SPY",), "short", (100.0, 101.0), 103.0, (97.0, 95.0), "given")


def bars(*prices: tuple[float, float, float, float], first: datetime = OPEN) -> list[Bar]:
    """Bars of (open, high, low, close), five minutes apart from `first`."""
    return [Bar(first + i * STEP, *p) for i, p in enumerate(prices)]


def posted(levels: Levels, at: datetime = OPEN - timedelta(hours=2)) -> list[Version]:
    return [Version(1, levels, at)]


def graded(levels: Levels, tape: list[Bar], **kwargs: object) -> Outcome:
    versions = kwargs.pop("versions", None) or posted(levels)
    deleted_at = kwargs.pop("deleted_at", None)
    now = kwargs.pop("now", AFTER)
    return grade(7, versions, deleted_at, SESSION, tape, now)  # type: ignore[arg-type]


# --- rule 1: what can be graded ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("levels", "reason"),
    [
        (Levels((), "long", (100.0, 100.0), 98.0), "no_ticker"),
        (Levels(("SPY", "QQQ"), "long", (100.0, 100.0), 98.0), "several_tickers"),
        (Levels(("SPY",), "long", None, 98.0), "no_entry"),
        (Levels(("SPY",), "long", (100.0, 100.0), None), "no_stop"),
        (Levels(("SPY",), "neutral", (100.0, 100.0), 98.0), "neutral"),
        (Levels(("SPY",), None, (100.0, 101.0), 100.5), "no_side"),
        (Levels(("SPY",), "long", (100.0, 101.0), 100.5), "bad_stop"),
        (Levels(("SPY",), "long", (100.0, 101.0), 102.0), "bad_stop"),
        (Levels(("SPY",), "short", (100.0, 101.0), 99.0), "bad_stop"),
    ],
)
def test_not_graded_reasons_of_the_levels(levels: Levels, reason: str) -> None:
    outcome = graded(levels, bars((100, 102, 99, 101)))
    assert (outcome.status, outcome.reason, outcome.r_multiple) == ("not_graded", reason, None)
    assert outcome.graded_version == 1


def test_side_from_the_stop_when_bias_is_missing() -> None:
    below = call_of(Levels(("SPY",), None, (100.0, 101.0), 98.0))
    above = call_of(Levels(("SPY",), None, (100.0, 101.0), 103.0))
    assert not isinstance(below, str) and below.side == "long"
    assert not isinstance(above, str) and above.side == "short"


def test_targets_on_the_wrong_side_are_ignored_and_the_rest_taken_nearest_first() -> None:
    call = call_of(Levels(("SPY",), "long", (100.0, 101.0), 98.0, (110.0, 95.0, 104.0, 100.5)))
    assert not isinstance(call, str) and call.targets == (104.0, 110.0)
    short = call_of(Levels(("SPY",), "short", (100.0, 101.0), 103.0, (90.0, 102.0, 97.0)))
    assert not isinstance(short, str) and short.targets == (97.0, 90.0)


def test_market_closed_when_the_date_is_not_a_session() -> None:
    outcome = grade(7, posted(LONG), None, None, [], AFTER)
    assert (outcome.status, outcome.reason) == ("not_graded", "market_closed")


# --- rule 2: the graded version and the start ---------------------------------------------------


def test_the_version_standing_at_the_open_is_graded_and_later_edits_change_nothing() -> None:
    bad_edit = Levels(("SPY",), "long", (100.0, 101.0), 99.5, (102.0,), "given")
    versions = [
        Version(1, Levels(("QQQ",), "long", (1.0, 1.0), 0.5), OPEN - timedelta(hours=3)),
        Version(2, LONG, OPEN - timedelta(hours=1)),
        Version(3, bad_edit, OPEN + timedelta(minutes=30)),  # after the open: ignored
    ]
    tape = bars((100.5, 101, 100, 100.8), (100.8, 104.5, 100.2, 104), (104, 106.5, 103, 106))
    outcome = graded(LONG, tape, versions=versions)
    assert outcome.graded_version == 2
    assert (outcome.status, outcome.targets_hit, outcome.exit_price) == ("target", 2, 106)
    assert outcome == graded(LONG, tape, versions=versions[:2])


def test_plan_posted_during_the_session_starts_at_the_first_bar_at_or_after_posting() -> None:
    # The first two bars would trigger and stop the call; it was posted after them.
    tape = bars(
        (100.5, 101, 97, 97.5),
        (97.5, 100, 97, 99.9),
        (100.5, 101, 100, 100.8),
        (100.8, 104.2, 100.5, 104),
    )
    at = OPEN + STEP + timedelta(minutes=2)  # inside the second bar
    edit = Version(2, Levels(("SPY",), "short", (100.0, 101.0), 103.0), at + STEP)
    outcome = graded(LONG, tape, versions=[Version(1, LONG, at), edit])
    assert outcome.graded_version == 1  # its first version, not the edit
    assert outcome.entry_at == OPEN + 2 * STEP
    assert (outcome.status, outcome.targets_hit) == ("target", 1)


def test_posted_after_close() -> None:
    outcome = graded(LONG, bars((100, 102, 99, 101)), versions=posted(LONG, CLOSE))
    assert (outcome.status, outcome.reason) == ("not_graded", "posted_after_close")


def test_deleted_before_the_start_is_not_graded_but_a_later_delete_changes_nothing() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 104.5, 100.2, 104))
    early = graded(LONG, tape, deleted_at=OPEN - timedelta(minutes=1))
    assert (early.status, early.reason) == ("not_graded", "deleted")
    late = graded(LONG, tape, deleted_at=OPEN + timedelta(minutes=1))
    assert late == graded(LONG, tape)
    assert late.status == "target"


# --- rule 3: the bars of the session ---------------------------------------------------------


def test_bars_outside_the_session_are_never_used() -> None:
    before = bars((100.5, 101, 97, 97.5), first=OPEN - 2 * STEP)  # premarket: would stop it
    inside = bars((102, 102.5, 101.5, 102), (102, 102.2, 100.5, 101))
    after = bars((101, 110, 101, 109), first=CLOSE)  # after hours: would reach every target
    outcome = graded(LONG, before + inside + after)
    assert outcome == graded(LONG, inside)
    assert (outcome.status, outcome.exit_at) == ("open", CLOSE)


def test_early_close_ends_the_session() -> None:
    early = Session(OPEN, OPEN + timedelta(hours=3, minutes=30))
    tape = bars((100.5, 101, 100, 100.8), first=OPEN) + bars(
        (101, 107, 101, 106), first=early.close
    )
    outcome = grade(7, posted(LONG), None, early, tape, early.close + timedelta(hours=1))
    assert (outcome.status, outcome.exit_price) == ("open", 100.8)


# --- rule 4: trigger and fill ------------------------------------------------------------------


def test_not_triggered_when_no_bar_reaches_the_zone() -> None:
    outcome = graded(LONG, bars((102, 103, 101.5, 102.5), (102.5, 103.5, 101.2, 103)))
    assert (outcome.status, outcome.r_multiple, outcome.entry_fill) == ("not_triggered", None, None)


def test_fill_is_the_trigger_bar_open_clamped_into_the_zone() -> None:
    gap_down = graded(LONG, bars((102, 102, 99.5, 100)))
    inside = graded(LONG, bars((100.4, 100.9, 100.1, 100.5)))
    gap_up = graded(SHORT, bars((98, 100.6, 97.8, 100.2)))
    assert (gap_down.entry_fill, inside.entry_fill, gap_up.entry_fill) == (101, 100.4, 100)


# --- rule 5: stop and targets, in order --------------------------------------------------------


def test_trigger_bar_only_stop_counts() -> None:
    # The trigger bar reaches both targets and the close: nothing counts but a stop.
    reaches_targets = graded(LONG, bars((101, 107, 100.5, 103)))
    assert reaches_targets.status == "open"
    stopped_in_it = graded(LONG, bars((101, 101.5, 97, 97.5)))
    assert (stopped_in_it.status, stopped_in_it.r_multiple) == ("stopped", -1.0)


def test_ambiguous_bar_counts_the_stop() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 104.5, 97.5, 99))
    outcome = graded(LONG, tape)
    assert (outcome.status, outcome.ambiguous, outcome.r_multiple) == ("stopped", True, -1.0)


def test_ambiguous_bar_after_a_target_keeps_the_target() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 104.5, 100.5, 104), (104, 106.5, 97.5, 98))
    outcome = graded(LONG, tape)
    assert (outcome.status, outcome.targets_hit, outcome.exit_price) == ("target", 1, 104)
    assert outcome.ambiguous is True


def test_short_is_mirrored() -> None:
    tape = bars((100.2, 100.6, 99.8, 100), (100, 100.2, 96.5, 97), (97, 103.5, 96.8, 103))
    outcome = graded(SHORT, tape)
    assert (outcome.status, outcome.side, outcome.exit_price, outcome.targets_hit) == (
        "target", "short", 97, 1,
    )  # fmt: skip
    assert outcome.r_multiple == round((100.2 - 97) / (103 - 100.2), 2)


# --- rule 6: the outcome and R ----------------------------------------------------------------


def test_target_exit_is_the_farthest_target_hit_before_the_stop() -> None:
    tape = bars(
        (100.5, 101, 100, 100.8),
        (100.8, 104.2, 100.5, 104),
        (104, 106.1, 103.5, 105),
        (105, 105, 97, 97),
    )
    outcome = graded(LONG, tape)
    assert (outcome.status, outcome.targets_hit, outcome.exit_price) == ("target", 2, 106)
    assert outcome.exit_at == OPEN + 2 * STEP
    assert outcome.r_multiple == round((106 - 100.5) / (100.5 - 98), 2)
    assert outcome.ambiguous is False


def test_stopped_when_the_stop_comes_first() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 101, 97.9, 98.2), (98.2, 107, 98, 106))
    outcome = graded(LONG, tape)
    assert (outcome.status, outcome.exit_price, outcome.exit_at) == ("stopped", 98, OPEN + STEP)
    assert outcome.r_multiple == -1.0


def test_open_exits_at_the_last_close() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 103, 100.2, 102.5))
    outcome = graded(LONG, tape)
    assert (outcome.status, outcome.exit_price, outcome.targets_hit) == ("open", 102.5, 0)
    assert outcome.r_multiple == round((102.5 - 100.5) / (100.5 - 98), 2) == 0.8


def test_r_formula_rounds_to_two_decimals() -> None:
    long = call_of(LONG)
    short = call_of(SHORT)
    assert not isinstance(long, str) and not isinstance(short, str)
    assert r_multiple(long, 100.0, 104.0) == 2.0
    assert r_multiple(long, 101.0, 106.0) == 1.67
    assert r_multiple(short, 100.0, 97.0) == 1.0
    assert r_multiple(short, 101.0, 95.0) == 3.0


# --- rule 7: pending ---------------------------------------------------------------------------


def test_pending_until_the_session_has_closed() -> None:
    outcome = graded(LONG, bars((100.5, 101, 100, 100.8)), now=CLOSE - timedelta(minutes=1))
    assert (outcome.status, outcome.graded_at) == ("pending", None)


def test_pending_while_bars_are_missing_then_no_data_after_a_week() -> None:
    within = graded(LONG, [], now=CLOSE + timedelta(days=6))
    assert (within.status, within.ticker, within.graded_version) == ("pending", "SPY", 1)
    later = graded(LONG, [], now=CLOSE + timedelta(days=7))
    assert (later.status, later.reason) == ("not_graded", "no_data")


def test_regrade_with_the_same_bars_gives_the_same_outcome() -> None:
    tape = bars((100.5, 101, 100, 100.8), (100.8, 104.5, 100.2, 104))
    assert graded(LONG, tape) == graded(LONG, list(reversed(tape)))


# --- the property -----------------------------------------------------------------------------

price = st.floats(min_value=90, max_value=112, allow_nan=False).map(lambda p: round(p, 2))


@st.composite
def tapes(draw: st.DrawFn) -> list[Bar]:
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=12))):
        a, b, c, d = (draw(price) for _ in range(4))
        high, low = max(a, b, c, d), min(a, b, c, d)
        out.append(Bar(OPEN + i * STEP, a, high, low, d))
    return out


@settings(max_examples=300, deadline=None)
@given(
    inside=tapes(),
    outside=tapes(),
    side=st.sampled_from([LONG, SHORT]),
    shift=st.sampled_from([-1, 1]),
)
def test_property_no_bar_outside_the_session_and_r_never_beats_the_best_target(
    inside: list[Bar], outside: list[Bar], side: Levels, shift: int
) -> None:
    moved = [
        Bar(bar.start + (shift * (CLOSE - OPEN) if shift > 0 else -timedelta(hours=2)), *p)
        for bar in outside
        for p in [(bar.open, bar.high, bar.low, bar.close)]
    ]
    outcome = graded(side, inside + moved)
    assert outcome == graded(side, inside)
    call = call_of(side)
    assert not isinstance(call, str)
    if outcome.r_multiple is not None and outcome.entry_fill is not None:
        best = r_multiple(call, outcome.entry_fill, call.targets[-1])
        assert outcome.r_multiple <= best
        assert outcome.r_multiple >= -1.0

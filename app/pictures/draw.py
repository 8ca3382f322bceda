"""The drawing itself, with matplotlib's Agg canvas (no pyplot: its global state is not safe
in worker threads). Colours suit Discord's dark theme; every picture is 1200 px wide."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING

from app.outcomes.rules import Call, Outcome
from app.prices.bars import Bar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BACKGROUND = "#313338"  # Discord's dark message background
TEXT = "#dbdee1"
GRID = "#4e5058"
UP, DOWN = "#23a55a", "#f23f43"
ZONE, STOP, TARGET, MARK = "#5865f2", "#f23f43", "#23a55a", "#f0b232"
WIDTH_INCHES, HEIGHT_INCHES, DPI = 12.0, 6.75, 100  # 1200 x 675 px


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, facecolor=BACKGROUND)
    axes = figure.add_subplot()
    axes.set_facecolor(BACKGROUND)
    for spine in axes.spines.values():
        spine.set_color(GRID)
    axes.tick_params(colors=TEXT, labelsize=11)
    axes.grid(color=GRID, linewidth=0.6, alpha=0.6)
    return figure, axes


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor=BACKGROUND, dpi=DPI)
    return out.getvalue()


def outcome_png(
    title: str, bars: Sequence[Bar], call: Call | None, outcome: Outcome, zone: tzinfo = UTC
) -> bytes:
    """Candlesticks of the session, the entry zone as a band, stop and targets as labelled
    lines, the fill and the exit marked; `title` carries the status and R. The time axis reads
    in `zone`: the guild's own time zone, as its plans' dates do."""
    figure, axes = _figure()
    xs = range(len(bars))
    for x, bar in zip(xs, bars, strict=True):
        colour = UP if bar.close >= bar.open else DOWN
        axes.vlines(x, bar.low, bar.high, color=colour, linewidth=1)
        body = max(abs(bar.close - bar.open), (bar.high - bar.low) * 0.02 or 1e-6)
        axes.bar(x, body, 0.6, bottom=min(bar.open, bar.close), color=colour)
    if call is not None:
        # The lines end at the last bar; their labels stand in the room right of it.
        end = len(bars) - 0.5
        axes.fill_between([-1, end], call.entry_low, call.entry_high, color=ZONE, alpha=0.3)
        _level(axes, len(bars), (call.entry_low + call.entry_high) / 2, "entry", ZONE)
        axes.hlines(call.stop, -1, end, color=STOP, linestyle="--", linewidth=1.5)
        _level(axes, len(bars), call.stop, f"stop {call.stop:g}", STOP)
        for number, target in enumerate(call.targets, start=1):
            axes.hlines(target, -1, end, color=TARGET, linestyle="--", linewidth=1.5)
            _level(axes, len(bars), target, f"T{number} {target:g}", TARGET)
    starts = [bar.start for bar in bars]
    for moment, price, label, marker in (
        (outcome.entry_at, outcome.entry_fill, "fill", "^" if outcome.side == "long" else "v"),
        (outcome.exit_at, outcome.exit_price, "exit", "X"),
    ):
        if moment is not None and price is not None:
            x = _index(starts, moment)
            axes.scatter([x], [price], s=160, marker=marker, color=MARK, zorder=5)
            axes.annotate(
                f"{label} {price:g}", (x, price), textcoords="offset points", xytext=(8, 8),
                color=MARK, fontsize=12, fontweight="bold",
            )  # fmt: skip
    positions, labels, zone_name = time_axis(starts, zone)
    axes.set_xticks(positions, labels)
    axes.set_xlabel(zone_name, color=TEXT, fontsize=11)
    axes.set_xlim(-1, len(bars) + max(4, len(bars) // 8))  # room for the level labels
    axes.set_title(title, color=TEXT, fontsize=16, fontweight="bold")
    return _png(figure)


def time_axis(starts: Sequence[datetime], zone: tzinfo) -> tuple[list[int], list[str], str]:
    """The bars' ticks (about ten), their labels as clock times in `zone`, and the axis's
    name: the zone's."""
    step = max(1, len(starts) // 10)
    positions = list(range(0, len(starts), step))
    labels = [starts[i].astimezone(zone).strftime("%H:%M") for i in positions]
    return positions, labels, str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")


def _level(axes: Axes, right: int, price: float, label: str, colour: str) -> None:
    axes.text(right + 0.5, price, label, color=colour, fontsize=12, va="center")


def _index(starts: Sequence[object], moment: object) -> int:
    return starts.index(moment) if moment in starts else len(starts) - 1


def scorecard_png(
    title: str, sessions: Sequence[date], lines: dict[str, list[float]], colours: dict[str, str]
) -> bytes:
    """Cumulative R by session, one line per coach in its colour (`lines[coach][i]`: the
    cumulative R at the close of sessions[i]; `colours[coach]`: its plan cards' accent)."""
    figure, axes = _figure()
    labels = [day.strftime("%m-%d") for day in sessions]
    for coach, values in lines.items():
        axes.plot(
            range(len(values)), values, color=colours[coach], linewidth=2.5, marker="o",
            label=f"{coach} {values[-1]:+.2f}R" if values else coach,
        )  # fmt: skip
    step = max(1, len(sessions) // 12)
    axes.set_xticks(range(len(sessions))[::step], labels[::step])
    axes.axhline(0, color=TEXT, linewidth=0.8)
    axes.set_ylabel("cumulative R", color=TEXT, fontsize=12)
    legend = axes.legend(facecolor=BACKGROUND, edgecolor=GRID, fontsize=12, loc="upper left")
    for text in legend.get_texts():
        text.set_color(TEXT)
    axes.set_title(title, color=TEXT, fontsize=16, fontweight="bold")
    return _png(figure)


def recap_png(title: str, results: Sequence[tuple[str, float | None, str]]) -> bytes:
    """The day's plans as bars of R, in their coaches' colours (`results`: label, R or None
    for a plan without a trade, colour)."""
    figure, axes = _figure()
    labels = [label for label, _, _ in results]
    values = [r or 0.0 for _, r, _ in results]
    axes.bar(range(len(results)), values, 0.6, color=[colour for _, _, colour in results])
    for x, (_, r, _) in enumerate(results):
        shown = "no trade" if r is None else f"{r:+.2f}R"
        axes.annotate(
            shown, (x, values[x]), textcoords="offset points", ha="center",
            xytext=(0, 8 if values[x] >= 0 else -20), color=TEXT, fontsize=13, fontweight="bold",
        )  # fmt: skip
    axes.set_xticks(range(len(results)), labels)
    axes.axhline(0, color=TEXT, linewidth=0.8)
    axes.set_ylabel("R", color=TEXT, fontsize=12)
    low, high = min([*values, 0.0]), max([*values, 0.0])
    axes.set_ylim(low - 0.5, high + 0.5)
    axes.set_title(title, color=TEXT, fontsize=16, fontweight="bold")
    return _png(figure)

"""Plans as Discord shows them, as Components V2 messages: the plan card (a Container in the
coach's colour: title, text, levels, the charts as a gallery of the message's own files, the
charts not shown and why, who posted it, a History button), plan lists and a plan's history,
within the 40 components and 4000 characters of text one message may hold."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

from app.discord import components as ui
from app.discord import protocol
from app.discord.components import Component, Outgoing, Upload
from app.discord.responses import clip
from app.records import Chart, HistoryPage, Levels, Plan, price_text

# Distinct, readable on Discord's dark and light themes; coach n of COACHES gets colour n.
PALETTE = (0x2B6CB0, 0xC05621, 0x2F855A, 0x6B46C1, 0xB83280, 0x00838F, 0xB7791F, 0x4A5568)
ANY_COACH_ACCENT = 0x5865F2  # Discord's blurple: a card about every coach (a scorecard, a recap)
HISTORY_PREFIX = "history"  # the History button's custom_id: `history:<plan_id>`
RESULT_PREFIX = "result"  # the Result button: `result:<plan_id>`
# Room kept for the lines around the plan's text (title, levels, chart notes, meta).
NOTES_MAX = 1000
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()<@-])")


def accent_color(coach: str, coaches: Sequence[str] = ()) -> int:
    """The coach's colour: by place in COACHES, else from the name (same name, same colour)."""
    if coach in coaches:
        return PALETTE[list(coaches).index(coach) % len(PALETTE)]
    return PALETTE[zlib.crc32(coach.encode()) % len(PALETTE)]


def plain(value: str) -> str:
    """A name shown as written: markdown characters escaped."""
    return _MARKDOWN.sub(r"\\\1", value)


def api_pointer(base: str, coach: str, day: date) -> str:
    return f"GET {base}/api/coach-plans/?coach={coach}&date={day.isoformat()}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def levels_block(levels: Levels) -> str:
    """The levels in two short lines: `SPY, QQQ · long` and `entry 948-951 · stop 940 ·
    targets 960 / 975`."""
    head = [", ".join(levels.tickers)] if levels.tickers else []
    head += [levels.bias] if levels.bias else []
    prices = []
    if levels.entry is not None:
        low, high = levels.entry
        prices.append(f"entry {price_text(low)}" + (f"-{price_text(high)}" if high != low else ""))
    if levels.stop is not None:
        prices.append(f"stop {price_text(levels.stop)}")
    if levels.targets:
        prices.append("targets " + " / ".join(map(price_text, levels.targets)))
    lines = [" · ".join(head), " · ".join(prices)]
    return "\n".join(line for line in lines if line)


def upload_name(position: int, chart: Chart) -> str:
    """The name a chart is uploaded under: unique in the message, and only characters an
    `attachment://` reference carries as they are."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", chart.filename.rsplit(".", 1)[0]).strip("_")
    # The archive names a chart by its content: its extension is the image's own.
    ext = (chart.stored_path or "").rpartition(".")[2] or "png"
    return f"{position}-{stem[:60] or 'chart'}.{ext}"


def chart_upload(position: int, chart: Chart, data: bytes | IO[bytes]) -> Upload:
    return Upload(upload_name(position, chart), chart.content_type, data, chart.filename)


def _chart_notes(plan: Plan, files: Mapping[int, Upload], why: Mapping[int, str]) -> list[str]:
    """One line per chart the card does not show, naming its file and why."""
    lines = []
    for chart in plan.charts:
        if chart.id in files:
            continue
        if chart.failed_reason:
            reason = f"not kept: {chart.failed_reason}"
        elif not chart.stored_path:
            reason = "not archived yet (retried later)"
        else:
            reason = why.get(chart.id, "could not be read from the archive")
        lines.append(f"⚠️ Chart missing: {plain(chart.filename)} — {reason}")
    return lines


def plan_card(
    plan: Plan,
    files: Mapping[int, Upload],
    api_base: str = "",
    *,
    why: Mapping[int, str] | None = None,
    coaches: Sequence[str] = (),
    ping_role: str | None = None,
    result: bool = False,
) -> Outgoing:
    """The plan card and the files it shows. `files` maps chart ids to their uploads (in the
    plan's order); `why` says why an archived chart is not among them. With `ping_role` (a new
    plan in a server that set one), the card mentions that role, and may ping it alone. A
    card with `result` carries a Result button beside History: the plan's outcome once it is
    graded, and until then why not yet."""
    pointer = api_pointer(api_base, plan.coach, plan.date)
    title = ui.text(f"## Coach {plain(plan.coach)} — plan for {plan.date.isoformat()}")
    extra: list[Component] = []
    if plan.levels is not None and not plan.levels.is_empty():
        name = "Levels" if plan.levels.source == "given" else "Levels (read from the text)"
        extra.append(ui.text(f"**{name}**\n{levels_block(plan.levels)}"))
    shown = list(files.values())
    if shown:
        extra.append(ui.gallery(shown))
    notes = _chart_notes(plan, files, why or {})
    if notes:
        extra.append(ui.text(clip("\n".join(notes), NOTES_MAX, pointer)))
    meta = f"-# Posted by {plain(plan.author)} · {plan.date:%a %Y-%m-%d} · Plan #{plan.id}"
    meta += f" · version {plan.version}"
    if plan.edited_at is not None:
        meta += f" · edited {_when(plan.edited_at)}"
    tail = [ui.separator(), ui.text(meta)]
    buttons = [("History", protocol.SECONDARY, f"{HISTORY_PREFIX}:{plan.id}")]
    if result:
        buttons.append(("Result", protocol.PRIMARY, f"{RESULT_PREFIX}:{plan.id}"))
    tail.append(ui.button_row(*buttons))
    room = protocol.TEXT_DISPLAY_TOTAL_MAX - ui.text_size([title, *extra, *tail])
    body = ui.text(clip(plan.text, room, pointer))
    card = ui.container(accent_color(plan.coach, coaches), [title, body, *extra, *tail])
    if ping_role is None:
        return Outgoing(ui.message_data([card], shown), shown)
    data = ui.message_data([ui.text(f"<@&{ping_role}>"), card], shown)
    data["allowed_mentions"] = {"parse": [], "roles": [ping_role]}
    return Outgoing(data, shown)


def plan_list(
    title: str, plans: Sequence[Plan], pointer: str, coaches: Sequence[str] = ()
) -> dict[str, Any]:
    """An ephemeral list: one Container per plan in its coach's colour, the texts cut to share
    the message's 4000 characters."""
    head = ui.text(f"## {title}\n{len(plans)} plan(s). Full texts: {pointer}")
    blocks = []
    for plan in plans:
        charts = f" · {len(plan.charts)} chart(s)" if plan.charts else ""
        about = f"**Coach {plain(plan.coach)}** · by {plain(plan.author)}{charts}"
        blocks.append((plan, about, plan.text))
    # A Container and its Text Display per plan; the head and a last line besides.
    blocks = blocks[: (protocol.COMPONENTS_MAX - 2) // 2]
    texts = ui.labelled_shares([head], [(about, text) for _, about, text in blocks], pointer)
    parts: list[Component] = [head]
    for (plan, _, _), text in zip(blocks, texts, strict=False):
        parts.append(ui.container(accent_color(plan.coach, coaches), [ui.text(text)]))
    if len(texts) < len(plans):
        parts.append(ui.text(f"… and {len(plans) - len(texts)} more not shown here: {pointer}"))
    return ui.ephemeral(parts)


def history_list(plan: Plan, entries: HistoryPage, api_base: str) -> dict[str, Any]:
    """A plan's current text and its newest earlier versions, with how many more there are;
    for a deleted plan, who deleted it and when, and the text it had then."""
    day = plan.date.isoformat()
    pointer = f"GET {api_base}/api/coach-plans/history?coach={plan.coach}&date={day}"
    deletion = plan.deletion
    if deletion is None:
        title = f"History of coach {plain(plan.coach)}'s plan for {day}"
        current = clip(plan.text, 1000, api_pointer(api_base, plan.coach, plan.date))
        head, now = "", f"**Now** (version {plan.version}, by {plain(plan.author)}):\n{current}"
    else:
        title = f"History of coach {plain(plan.coach)}'s deleted plan for {day}"
        # The plan read answers 404 once it is deleted; the history read still has the text.
        current = clip(plan.text, 1000, pointer)
        stamp = int(deletion.at.timestamp())  # Discord shows it in each reader's own time zone
        head = f"Deleted by {plain(deletion.by)} (<@{deletion.by_id}>) on <t:{stamp}:f>.\n"
        # Deleting counted as a version: the text is that of the version before.
        version = plan.version - 1
        now = f"**Its last text** (version {version}, by {plain(plan.author)}):\n{current}"
    if entries:
        intro = f"{head}{entries.total} earlier version(s), newest first."
    else:
        intro = f"{head}Never edited, so there are no earlier versions."
    parts: list[Component] = [ui.text(f"## {title}\n{intro}"), ui.separator(), ui.text(now)]
    shown = entries[: (protocol.COMPONENTS_MAX - len(parts) - 1) // 2]
    named = [
        (f"**Replaced by {plain(e.edited_by)}** at {_when(e.edited_at)}:", e.plan_text)
        for e in shown
    ]
    texts = ui.labelled_shares(parts, named, pointer)
    for text in texts:
        parts += [ui.separator(), ui.text(text)]
    if len(texts) < entries.total:
        left_out = entries.total - len(texts)
        parts.append(ui.text(f"… {left_out} older version(s) not shown: {pointer}"))
    return ui.ephemeral(parts)

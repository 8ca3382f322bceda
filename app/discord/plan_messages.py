"""Plans as Discord shows them: the plan card (embeds with its charts, and the charts not kept),
plan lists and a plan's history, within the limits of one message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from app.discord.protocol import (
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    GALLERY_SIZE,
    MESSAGE_TEXT_MAX,
    TITLE_MAX,
)
from app.discord.responses import clip, ephemeral, message, message_data
from app.records import HistoryEntry, Levels, Plan, price_text

COLOR = 0x2B6CB0


def api_pointer(base: str, coach: str, day: date) -> str:
    return f"GET {base}/api/coach-plans/?coach={coach}&date={day.isoformat()}"


def embed_text_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward a message's 6000."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        size += len(item["name"]) + len(item["value"])
    return size


def _link_text(name: str) -> str:
    # Brackets and parentheses would break the markdown link.
    return "".join("_" if ch in "[]()" else ch for ch in name) or "chart"


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
    return clip("\n".join(line for line in lines if line), FIELD_VALUE_MAX)


def plan_embeds(plan: Plan, chart_urls: Sequence[str], api_base: str = "") -> list[dict[str, Any]]:
    """The plan as embeds: text, coach, date, author; the charts as images (galleries of four
    share a url) up to Discord's 10 embeds, and the charts linked in a field: all of them, or
    those that found no embed. `chart_urls` go with `plan.charts`; charts refused for good are
    not shown, only named with why, and those still downloading are named too."""
    pointer = api_pointer(api_base, plan.coach, plan.date)
    shown_charts = [
        (chart, url)
        for chart, url in zip(plan.charts, chart_urls, strict=False)
        if not chart.failed_reason
    ]
    chart_urls = [url for _, url in shown_charts]  # from here on, the charts shown
    fields: list[dict[str, Any]] = [
        {"name": "Coach", "value": plan.coach, "inline": True},
        {"name": "Date", "value": plan.date.strftime("%a %Y-%m-%d"), "inline": True},
        {"name": "Posted by", "value": clip(plan.author, FIELD_VALUE_MAX), "inline": True},
    ]
    if plan.levels is not None and not plan.levels.is_empty():
        name = "Levels" if plan.levels.source == "given" else "Levels (read from the text)"
        fields.append({"name": name, "value": levels_block(plan.levels)})
    footer = f"Plan #{plan.id} · version {plan.version}"
    if plan.edited_at is not None:
        footer += f" · edited {_when(plan.edited_at)}"
    main: dict[str, Any] = {
        "title": clip(f"Coach {plan.coach} — plan for {plan.date.isoformat()}", TITLE_MAX),
        "description": clip(plan.text, DESCRIPTION_MAX, pointer),
        "color": COLOR,
        "fields": fields,
        "footer": {"text": footer},
        "timestamp": (plan.edited_at or plan.created_at).isoformat(),
    }
    embeds = [main]
    for start in range(0, len(chart_urls), GALLERY_SIZE):
        group = chart_urls[start : start + GALLERY_SIZE]
        if start == 0:
            main["url"] = group[0]
            main["image"] = {"url": group[0]}
            rest = group[1:]
        else:
            if len(embeds) >= EMBEDS_MAX:
                break
            last = start + len(group)
            embeds.append(
                {
                    "title": f"Charts {start + 1} to {last}",
                    "url": group[0],
                    "image": {"url": group[0]},
                }
            )
            rest = group[1:]
        for url in rest:
            if len(embeds) >= EMBEDS_MAX:
                break
            embeds.append({"url": group[0], "image": {"url": url}})
    shown = sum(1 for embed in embeds if "image" in embed)
    links = [f"[{_link_text(chart.filename)}]({url})" for chart, url in shown_charts]
    if links:
        more = shown < len(links)
        name = f"More charts ({len(links) - shown})" if more else f"Charts ({len(links)})"
        listed = links[shown:] if more else links
        fields.append({"name": name, "value": _joined(listed, FIELD_VALUE_MAX, pointer)})
    fields.extend(_chart_notes(plan, pointer))
    excess = sum(map(embed_text_size, embeds)) - MESSAGE_TEXT_MAX
    if excess > 0:
        main["description"] = clip(plan.text, len(main["description"]) - excess, pointer)
    return embeds


def plan_message(plan: Plan, chart_urls: Sequence[str], api_base: str = "") -> dict[str, Any]:
    """The plan card as a message's `data`, for an edit of the deferred answer."""
    return message_data(None, plan_embeds(plan, chart_urls, api_base))


def plan_post(plan: Plan, chart_urls: Sequence[str], api_base: str = "") -> dict[str, Any]:
    """The plan card as an answer everyone in the channel sees."""
    return message(plan_message(plan, chart_urls, api_base))


def _chart_notes(plan: Plan, pointer: str) -> list[dict[str, Any]]:
    """Fields naming the charts that were not kept (and why), and those not downloaded yet."""
    refused = [
        f"{_link_text(c.filename)} ({c.failed_reason})" for c in plan.charts if c.failed_reason
    ]
    waiting = [
        f"{_link_text(c.filename)} (still downloading, retried later)"
        for c in plan.charts
        if not c.failed_reason and not c.stored_path
    ]
    notes = []
    for one, many, lines in (
        ("Chart not kept", "Charts not kept", refused),
        ("Chart not archived yet", "Charts not archived yet", waiting),
    ):
        if lines:
            name = one if len(lines) == 1 else f"{many} ({len(lines)})"
            notes.append({"name": name, "value": _joined(lines, FIELD_VALUE_MAX, pointer)})
    return notes


def _joined(lines: Sequence[str], limit: int, pointer: str) -> str:
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        tail = f"\n… and {len(lines) - n} more ({pointer})"
        if size + len(line) + 1 + len(tail) > limit and n < len(lines) - 1:
            return clip("\n".join(out) + tail, limit)
        out.append(line)
        size += len(line) + 1
    return clip("\n".join(out), limit)


def _fitted_fields(
    entries: Sequence[tuple[str, str]], budget: int, pointer: str
) -> tuple[list[dict[str, Any]], int]:
    """Fields for (name, value) pairs within FIELDS_MAX fields and `budget` characters; also returns
    how many entries did not fit."""
    shown = entries[:FIELDS_MAX]
    fields: list[dict[str, Any]] = []
    if not shown:
        return fields, 0
    names = [clip(name, FIELD_NAME_MAX) for name, _ in shown]
    room = budget - sum(map(len, names))
    per_value = max(40, min(FIELD_VALUE_MAX, room // len(shown)))
    for name, (_, value) in zip(names, shown, strict=True):
        fields.append({"name": name, "value": clip(value or "-", per_value, pointer)})
    return fields, len(entries) - len(shown)


def plan_list(title: str, plans: Sequence[Plan], pointer: str) -> dict[str, Any]:
    """An ephemeral list: one field per plan, each cut to share the message's 6000 characters."""
    entries = []
    for plan in plans:
        charts = f" · {len(plan.charts)} chart(s)" if plan.charts else ""
        name = f"Coach {plan.coach} · {plan.date.isoformat()} · by {plan.author}{charts}"
        entries.append((name, plan.text))
    budget = MESSAGE_TEXT_MAX - len(title) - 300
    fields, left_out = _fitted_fields(entries, budget, pointer)
    description = f"{len(plans)} plan(s). Full texts: {pointer}"
    if left_out:
        description += f"\n… and {left_out} more not shown here."
    embed = {
        "title": clip(title, TITLE_MAX),
        "description": description,
        "color": COLOR,
        "fields": fields,
    }
    return ephemeral(None, [embed])


def history_list(plan: Plan, entries: Sequence[HistoryEntry], api_base: str) -> dict[str, Any]:
    """A plan's current text and its earlier versions, newest first; for a deleted plan, who
    deleted it and when, and the text it had then."""
    day = plan.date.isoformat()
    pointer = f"GET {api_base}/api/coach-plans/history?coach={plan.coach}&date={day}"
    deletion = plan.deletion
    if deletion is None:
        title = f"History of coach {plan.coach}'s plan for {day}"
        current = clip(plan.text, 1000, api_pointer(api_base, plan.coach, plan.date))
        head, now = "", f"Now (version {plan.version}, by {plan.author}):\n{current}"
    else:
        title = f"History of coach {plan.coach}'s deleted plan for {day}"
        # The plan read answers 404 once it is deleted; the history read still has the text.
        current = clip(plan.text, 1000, pointer)
        stamp = int(deletion.at.timestamp())  # Discord shows it in each reader's own time zone
        head = f"Deleted by {deletion.by} (<@{deletion.by_id}>) on <t:{stamp}:f>.\n"
        # Deleting counted as a version: the text is that of the version before.
        now = f"Its last text (version {plan.version - 1}, by {plan.author}):\n{current}"
    if not entries:
        description = f"{head}Never edited, so there are no earlier versions. {now}"
        embed = {"title": clip(title, TITLE_MAX), "description": description, "color": COLOR}
        return ephemeral(None, [embed])
    items = [
        (f"Replaced by {entry.edited_by} at {_when(entry.edited_at)}", entry.plan_text)
        for entry in entries
    ]
    description = f"{head}{len(entries)} earlier version(s), newest first. {now}"
    budget = MESSAGE_TEXT_MAX - len(title) - len(description) - 100
    fields, left_out = _fitted_fields(items, budget, pointer)
    if left_out:
        description += f"\n… {left_out} older version(s) not shown: {pointer}"
    embed = {
        "title": clip(title, TITLE_MAX),
        "description": clip(description, DESCRIPTION_MAX),
        "color": COLOR,
        "fields": fields,
    }
    return ephemeral(None, [embed])

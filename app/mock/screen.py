"""What a Discord user would see of an interaction's answer, as text for a terminal
(`coach-plans send`): messages and their components, mentions and timestamps as Discord's
clients draw them, modals with a command line that submits them."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from app.discord import protocol

# The id the fake Discord keeps the edited first answer under (PATCH …/messages/@original).
ORIGINAL = "@original"

_STYLE = {
    protocol.PRIMARY: "primary",
    protocol.SECONDARY: "secondary",
    protocol.SUCCESS: "success",
    protocol.DANGER: "danger",
    protocol.LINK: "link",
}

# What Discord's clients draw in place of their markup: mentions and timestamps
# (https://discord.com/developers/docs/reference#message-formatting).
_MARKUP = re.compile(
    r"<@!?(?P<user>\d+)>|<@&(?P<role>\d+)>|<t:(?P<time>-?\d{1,13})(?::(?P<style>[tTdDfFR]))?>"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Screen:
    """What the terminal knows when it shows a message as Discord would: the names of the
    users it knows by id, the reader's time zone (None: this machine's) and clock, and the
    command line that repeats this one (the modal's hint starts with it)."""

    names: Mapping[str, str] = field(default_factory=dict)
    zone: tzinfo | None = None
    now: Callable[[], datetime] = _utc_now
    again: Sequence[str] = ("coach-plans", "send")

    def text(self, text: str) -> str:
        """`text` with mentions as names and timestamps as the reader's dates and times."""
        return _MARKUP.sub(self._shown, text)

    def _shown(self, match: re.Match[str]) -> str:
        if match["user"]:
            return "@" + self.names.get(match["user"], "unknown-user")
        if match["role"]:
            return "@" + self.names.get(match["role"], "unknown-role")
        try:
            moment = datetime.fromtimestamp(int(match["time"]), UTC).astimezone(self.zone)
        except (OverflowError, OSError, ValueError):
            return match[0]  # out of any calendar: left as typed
        return _timestamp(moment, match["style"] or "f", self.now())


def _timestamp(moment: datetime, style: str, now: datetime) -> str:
    """A timestamp in one of Discord's styles, as its English clients write them."""
    hour = f"{moment.hour % 12 or 12}:{moment:%M}"
    noon = "AM" if moment.hour < 12 else "PM"
    day = f"{moment:%B} {moment.day}, {moment.year}"
    shown = {
        "t": f"{hour} {noon}",
        "T": f"{hour}:{moment:%S} {noon}",
        "d": f"{moment:%m/%d/%Y}",
        "D": day,
        "f": f"{day} {hour} {noon}",
        "F": f"{moment:%A}, {day} {hour} {noon}",
    }
    return shown[style] if style in shown else _relative((moment - now).total_seconds())


def _relative(seconds: float) -> str:
    size = abs(seconds)
    for unit, length in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400),
                         ("hour", 3600), ("minute", 60), ("second", 1)):  # fmt: skip
        if size >= length or unit == "second":
            count = round(size / length)
            break
    amount = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def _ephemeral(message: dict[str, Any]) -> bool:
    return bool(int(message.get("flags") or 0) & protocol.EPHEMERAL)


def render_message(
    message: dict[str, Any],
    *,
    title: str,
    ephemeral: bool | None = None,
    screen: Screen | None = None,
) -> list[str]:
    """`ephemeral` None: the message's own flags say who sees it."""
    screen = screen or Screen()
    if ephemeral is None:
        ephemeral = _ephemeral(message)
    if title == "message updated":
        who = "seen by whoever saw it before"  # an update keeps the message's audience
    else:
        who = "only you can see this" if ephemeral else "visible to everyone"
    lines = [f"── {title} ({who}) " + "─" * 20]
    if message.get("content"):
        lines.append(screen.text(message["content"]))
    sizes = {a.get("filename"): a.get("size") for a in message.get("attachments") or []}
    for component in message.get("components") or []:
        lines += _component(component, sizes, "", screen)
    return lines


def _component(
    component: dict[str, Any], sizes: dict[Any, Any], indent: str, screen: Screen
) -> list[str]:
    """A Components V2 component (or a classic action row) as terminal lines; a container's
    content is drawn inside a bar."""
    kind = component.get("type")
    if kind == protocol.CONTAINER:
        accent = component.get("accent_color")
        colour = f" #{accent:06x}" if isinstance(accent, int) else ""
        lines = [f"{indent}┏━━{colour}"]
        for inner in component.get("components") or []:
            lines += _component(inner, sizes, indent + "┃ ", screen)
        return [*lines, f"{indent}┗━━"]
    if kind == protocol.TEXT_DISPLAY:
        content = screen.text(str(component.get("content", "")))
        return [f"{indent}{line}" for line in content.splitlines()]
    if kind == protocol.SEPARATOR:
        return [f"{indent}{'─' * 30 if component.get('divider', True) else ''}"]
    if kind == protocol.MEDIA_GALLERY:
        lines = []
        for item in component.get("items") or []:
            url = str((item.get("media") or {}).get("url", ""))
            name = url.removeprefix("attachment://")
            size = sizes.get(name) if url.startswith("attachment://") else None
            about = f"{name} ({size} bytes)" if size is not None else url
            alt = f" — {item['description']}" if item.get("description") else ""
            lines.append(f"{indent}[image] {about}{alt}")
        return lines
    if kind == protocol.ACTION_ROW:
        buttons = []
        for button in component.get("components") or []:
            style = _STYLE.get(button.get("style", protocol.SECONDARY), "")
            buttons.append(
                f"[{button.get('label', '?')}] ({style}; --click {button.get('custom_id')})"
            )
        return [f"{indent}{'  '.join(buttons)}"] if buttons else []
    return [f"{indent}(component of type {kind})"]


def render(
    response: dict[str, Any], followups: list[dict[str, Any]], screen: Screen | None = None
) -> str:
    """Discord's answer to one interaction, as text for a terminal."""
    screen = screen or Screen()
    kind = response.get("type")
    data = response.get("data") or {}
    if kind == protocol.PONG:
        lines = ["PONG"]
    elif kind in (protocol.CHANNEL_MESSAGE, protocol.UPDATE_MESSAGE):
        updated = kind == protocol.UPDATE_MESSAGE
        title = "message updated" if updated else "message"
        lines = render_message(data, title=title, screen=screen)
    elif kind in (protocol.DEFERRED_CHANNEL_MESSAGE, protocol.DEFERRED_UPDATE_MESSAGE):
        lines = ["(Coach Plans is thinking…)"]
    elif kind == protocol.AUTOCOMPLETE_RESULT:
        choices = data.get("choices") or []
        lines = ["Suggestions:"] + [f"  {c.get('name')}  (value {c.get('value')})" for c in choices]
        if not choices:
            lines.append("  (none)")
    elif kind == protocol.MODAL:
        lines = [f"── modal: {data.get('title')} " + "─" * 20]
        inputs = []
        for row in data.get("components") or []:
            for component in row.get("components") or []:
                inputs.append((component.get("custom_id"), component.get("value") or ""))
                limit = component.get("max_length")
                lines.append(
                    f"  {component.get('label')} ({component.get('custom_id')}"
                    f"{f', up to {limit} chars' if limit else ''}):"
                )
                for text_line in (component.get("value") or "").splitlines() or [""]:
                    lines.append(f"    | {text_line}")
        # The fields as they are now, quoted twice: once for the shell, once for --submit's
        # own option:value syntax, so the line runs as pasted once its values are changed.
        fields = " ".join(f"{name}:{_option_value(value)}" for name, value in inputs)
        submit = [*screen.again, "--submit", str(data.get("custom_id")), fields]
        lines.append(f"Save it with: {shlex.join(submit)}")
    else:
        lines = [f"(answer of type {kind})"]
    for message in followups:
        if message.get("id") == ORIGINAL:
            # The edit of the deferred answer replaces "thinking…"; the deferral decided who
            # sees it (an edit carries no EPHEMERAL flag).
            lines += render_message(
                message, title="answer, in place of it", ephemeral=_ephemeral(data), screen=screen
            )
        else:
            lines += render_message(message, title="follow-up", screen=screen)
    return "\n".join(lines)


def _option_value(value: str) -> str:
    """`value` written so that parse_command reads it back as it is."""
    if value and not re.search(r"[\s\"'\\]", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""Interaction responses in Discord's shapes: pong, text messages, updates, deferrals, modals,
buttons and autocomplete choices, each cut to Discord's documented limits with a visible marker."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.discord import protocol

# Text comes from users: a message must never ping anyone, whatever it contains.
NO_PINGS: dict[str, list[str]] = {"parse": []}


def clip(text: str, limit: int, pointer: str = "") -> str:
    """`text` cut to `limit` characters, ending with a visible marker when cut."""
    if len(text) <= limit:
        return text
    marker = f"… [cut; full text: {pointer}]" if pointer else "… [cut]"
    if len(marker) >= limit:
        marker = "…"
    return text[: limit - len(marker)].rstrip() + marker


def pong() -> dict[str, Any]:
    return {"type": protocol.PONG}


# The PONG's body, made once: the answer to every PING.
PONG_BODY = json.dumps(pong(), separators=(",", ":")).encode()


def message_data(
    content: str | None = None,
    components: list[dict[str, Any]] | None = None,
    *,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """A text message's `data`: what an answer carries, and what an edit of @original sends.
    Plans are shown as Components V2 messages instead (app/discord/components.py)."""
    data: dict[str, Any] = {"allowed_mentions": NO_PINGS}
    if content:
        data["content"] = clip(content, protocol.CONTENT_MAX)
    if components is not None:
        data["components"] = components
    if ephemeral:
        data["flags"] = protocol.EPHEMERAL
    return data


def message(data: dict[str, Any]) -> dict[str, Any]:
    """A message seen by everyone in the channel, from its `data`."""
    return {"type": protocol.CHANNEL_MESSAGE, "data": data}


def ephemeral(
    content: str | None, components: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A message only the user who asked sees."""
    return message(message_data(content, components, ephemeral=True))


def update(content: str) -> dict[str, Any]:
    """Replace the message a button sits on; the buttons go, so it cannot be pressed again."""
    return {"type": protocol.UPDATE_MESSAGE, "data": message_data(content, [])}


def deferred(*, ephemeral: bool = False) -> dict[str, Any]:
    """Discord shows "thinking…" now; the answer comes later as an edit of @original. Its
    flags decide once and for all who sees that answer."""
    if ephemeral:
        return {"type": protocol.DEFERRED_CHANNEL_MESSAGE, "data": {"flags": protocol.EPHEMERAL}}
    return {"type": protocol.DEFERRED_CHANNEL_MESSAGE}


def refusal(interaction_type: int, message: str) -> dict[str, Any]:
    """A refusal of any interaction: an ephemeral message, or for autocomplete (which can only
    be answered with choices) no suggestions."""
    if interaction_type == protocol.AUTOCOMPLETE:
        return choices([])
    return ephemeral(message)


def choices(values: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Autocomplete suggestions as (shown name, value) pairs."""
    return {
        "type": protocol.AUTOCOMPLETE_RESULT,
        "data": {
            "choices": [
                {"name": clip(name, protocol.CHOICE_MAX), "value": value[: protocol.CHOICE_MAX]}
                for name, value in values[: protocol.CHOICES_MAX]
            ]
        },
    }


@dataclass(frozen=True, slots=True)
class ShortInput:
    """An optional one-line text input of a modal."""

    input_id: str
    label: str
    value: str = ""
    placeholder: str = ""
    max_length: int = 100


def modal(
    custom_id: str,
    title: str,
    input_id: str,
    label: str,
    value: str,
    more: Sequence[ShortInput] = (),
) -> dict[str, Any]:
    """A modal with one paragraph text input, prefilled with `value`, then up to four optional
    one-line inputs (Discord shows at most five)."""
    text_input = {
        "type": protocol.TEXT_INPUT,
        "custom_id": input_id,
        "style": protocol.PARAGRAPH,
        "label": clip(label, protocol.TEXT_INPUT_LABEL_MAX),
        "value": value[: protocol.TEXT_INPUT_MAX],
        "min_length": 1,
        "max_length": protocol.TEXT_INPUT_MAX,
        "required": True,
    }
    return {
        "type": protocol.MODAL,
        "data": {
            "custom_id": custom_id,
            "title": clip(title, protocol.MODAL_TITLE_MAX),
            "components": [
                {"type": protocol.ACTION_ROW, "components": [one]}
                for one in [text_input, *map(_short_input, more)][: protocol.MODAL_INPUTS_MAX]
            ],
        },
    }


def _short_input(spec: ShortInput) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": protocol.TEXT_INPUT,
        "custom_id": spec.input_id,
        "style": protocol.SHORT,
        "label": clip(spec.label, protocol.TEXT_INPUT_LABEL_MAX),
        "max_length": spec.max_length,
        "required": False,
    }
    if spec.value:
        found["value"] = spec.value[: spec.max_length]
    if spec.placeholder:
        found["placeholder"] = clip(spec.placeholder, protocol.TEXT_INPUT_PLACEHOLDER_MAX)
    return found


def buttons(*specs: tuple[str, int, str]) -> list[dict[str, Any]]:
    """One action row of (label, style, custom_id) buttons."""
    row = [
        {"type": protocol.BUTTON, "label": label, "style": style, "custom_id": custom_id}
        for label, style, custom_id in specs
    ]
    return [{"type": protocol.ACTION_ROW, "components": row}]

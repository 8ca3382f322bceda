"""Components V2 messages: layout components (Container, Text Display, Media Gallery, Separator,
buttons), the files a message uploads with itself, and the limits of one message: 40 components
and 4000 characters of text in all (https://discord.com/developers/docs/components/reference)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from app.discord import protocol
from app.discord.responses import NO_PINGS, clip

Component = dict[str, Any]

# Characters kept for the "… N more not shown: <pointer>" line a list may end with, besides
# its pointer (which grows with PUBLIC_BASE_URL).
_LAST_LINE = 60


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent with the message (a `files[n]` part); components show it as
    `attachment://<filename>`. `data` may be an open file: the upload streams from it."""

    filename: str
    content_type: str
    data: bytes | IO[bytes]
    description: str = ""  # alt text

    @property
    def url(self) -> str:
        return f"attachment://{self.filename}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message's `data` and the files uploaded with it (none: a plain JSON body)."""

    data: dict[str, Any]
    files: Sequence[Upload] = field(default_factory=tuple)


def text(content: str) -> Component:
    return {"type": protocol.TEXT_DISPLAY, "content": content}


def separator(*, divider: bool = True) -> Component:
    return {"type": protocol.SEPARATOR, "divider": divider}


def gallery(files: Sequence[Upload]) -> Component:
    """The files as a Media Gallery of 1 to 10 items, in order."""
    items = []
    for one in files[: protocol.GALLERY_ITEMS_MAX]:
        item: dict[str, Any] = {"media": {"url": one.url}}
        if one.description:
            item["description"] = clip(one.description, protocol.MEDIA_DESCRIPTION_MAX)
        items.append(item)
    return {"type": protocol.MEDIA_GALLERY, "items": items}


def button_row(*specs: tuple[str, int, str]) -> Component:
    """An Action Row of (label, style, custom_id) buttons."""
    return {
        "type": protocol.ACTION_ROW,
        "components": [
            {
                "type": protocol.BUTTON,
                "label": clip(label, protocol.BUTTON_LABEL_MAX),
                "style": style,
                "custom_id": custom_id,
            }
            for label, style, custom_id in specs
        ],
    }


def container(accent: int, components: Sequence[Component]) -> Component:
    return {"type": protocol.CONTAINER, "accent_color": accent, "components": list(components)}


def text_size(components: Iterable[Component]) -> int:
    """Characters of all Text Displays, nested ones too."""
    total = 0
    for one in components:
        if one["type"] == protocol.TEXT_DISPLAY:
            total += len(one["content"])
        total += text_size(one.get("components") or ())
    return total


def message_data(
    components: list[Component], files: Sequence[Upload] = (), *, ephemeral: bool = False
) -> dict[str, Any]:
    """A Components V2 message's `data`: no `content` or `embeds`, the files it uploads listed
    under `attachments` with the ids of their `files[n]` parts."""
    flags = protocol.IS_COMPONENTS_V2 | (protocol.EPHEMERAL if ephemeral else 0)
    data: dict[str, Any] = {"flags": flags, "components": components}
    if files:
        data["attachments"] = [
            {"id": str(n), "filename": one.filename} for n, one in enumerate(files)
        ]
    data["allowed_mentions"] = NO_PINGS
    return data


def ephemeral(components: list[Component]) -> dict[str, Any]:
    """An answer only the user who asked sees."""
    return {
        "type": protocol.CHANNEL_MESSAGE,
        "data": message_data(components, ephemeral=True),
    }


def labelled_shares(
    used: Sequence[Component], entries: Sequence[tuple[str, str]], more: str
) -> list[str]:
    """Each (label, text) entry as "label\ntext", the texts cut to share what a message's
    characters leave after `used` and a last line; entries that do not fit are left out, from
    the end."""
    room = protocol.TEXT_DISPLAY_TOTAL_MAX - text_size(used) - _LAST_LINE - len(more)
    room -= sum(len(label) + 1 for label, _ in entries)
    texts = shares([text for _, text in entries], room, more)
    return [f"{label}\n{text or '-'}" for (label, _), text in zip(entries, texts, strict=False)]


def shares(texts: Sequence[str], room: int, more: str, least: int = 40) -> list[str]:
    """`texts` cut to share `room` characters: short ones whole, long ones cut evenly with a
    marker pointing to `more`. Texts that would get fewer than `least` characters are left out,
    from the end, so the result may be shorter than `texts`."""
    kept = list(texts)
    while kept and room // len(kept) < least:
        kept.pop()
    allowed = [0] * len(kept)
    left = room
    for k, n in enumerate(sorted(range(len(kept)), key=lambda i: len(kept[i]))):
        allowed[n] = min(len(kept[n]), left // (len(kept) - k))
        left -= allowed[n]
    return [clip(one, size, more) for one, size in zip(kept, allowed, strict=True)]

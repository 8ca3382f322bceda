"""One interaction as Discord sends it, read defensively: payloads are signed by Discord, but a
field we expect may still be missing, so every accessor has a safe default."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app import text_rules
from app.discord.protocol import (
    ADMINISTRATOR,
    CHANNEL_NAME_MAX,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    SUB_COMMAND,
)
from app.errors import PlanError
from app.records import Actor, Place

# Discord sends permissions as a decimal string that may grow past 64 bits; far longer is not it.
_PERMISSION_DIGITS = 40


class BadInteraction(PlanError):
    """The interaction lacks something a command needs; Discord itself never sends these."""

    code = "bad_interaction"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _scalar(value: object) -> str:
    """A string or a number as text; anything else (a list, an object) as "": str() of a deeply
    nested value would exhaust the stack."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _options(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option in _list(data.get("options")):
        option = _dict(option)
        name = _text(option.get("name"))
        if name is not None and "value" in option:
            values[name] = option["value"]
    return values


@dataclass(frozen=True, slots=True)
class Interaction:
    raw: dict[str, Any]
    type: int
    id: str
    token: str
    application_id: str
    guild_id: str | None
    data: dict[str, Any]
    options: dict[str, Any]  # top-level option values by name (our commands have no subcommands)

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> Interaction:
        kind = payload.get("type")
        data = _dict(payload.get("data"))
        return cls(
            raw=payload,
            type=kind if isinstance(kind, int) and not isinstance(kind, bool) else 0,
            id=_scalar(payload.get("id")),
            token=_text(payload.get("token")) or "",
            application_id=_scalar(payload.get("application_id")),
            # Not a Discord id is no guild: it would not match ALLOWED_GUILD_IDS or any plan.
            guild_id=text_rules.snowflake(payload.get("guild_id")),
            data=data,
            options=_options(data),
        )

    # --- who and where -------------------------------------------------------------------------

    @property
    def once(self) -> str | None:
        """The idempotency key of the writes this interaction makes: its id, unique per
        interaction, so a second delivery anywhere changes nothing."""
        if not self.id:
            return None
        if text_rules.snowflake(self.id) is None:
            # Not Discord's: stored as a digest, which fits the key column and holds no NUL.
            return "interaction:" + hashlib.sha256(self.id.encode("utf-8", "replace")).hexdigest()
        return f"interaction:{self.id}"

    @property
    def user(self) -> Actor:
        """In a guild the user is `member.user`; in a DM it is `user`."""
        member = _dict(self.raw.get("member"))
        user = _dict(member.get("user")) or _dict(self.raw.get("user"))
        # Plans are owned by this id, so only a real Discord id will do (nothing cut to fit).
        user_id = text_rules.snowflake(user.get("id"))
        if user_id is None:
            raise BadInteraction("This interaction carries no user, so nothing was done.")
        # The first name that shows something: a nick of zero-width spaces is no name.
        candidates = (member.get("nick"), user.get("global_name"), user.get("username"))
        names = (text_rules.one_line(value, CHANNEL_NAME_MAX) for value in candidates)
        return Actor(id=user_id, name=next((n for n in names if n), user_id))

    @property
    def guild(self) -> str:
        """The guild (Discord server) asked about: each guild's plans are its own."""
        if self.guild_id is None:
            raise BadInteraction("Coach Plans works inside a server's channels, not in DMs.")
        return self.guild_id

    def _permitted(self, bit: int) -> bool:
        """`bit` (or Administrator) in this channel, as Discord computed it.

        Only Discord's own form counts: int() would read "-1" as every bit set."""
        permissions = _dict(self.raw.get("member")).get("permissions")
        bits = text_rules.canonical_uint(permissions, _PERMISSION_DIGITS)
        return bits is not None and bool(bits & (bit | ADMINISTRATOR))

    @property
    def moderator(self) -> bool:
        """Manage Messages (or Administrator)."""
        return self._permitted(MANAGE_MESSAGES)

    @property
    def manages_server(self) -> bool:
        """Manage Server (or Administrator): a server owner may widen who sees /setup and
        /coaches, so the payload's permissions are checked on every call."""
        return self._permitted(MANAGE_GUILD)

    @property
    def roles(self) -> list[str]:
        """The member's role ids (`member.roles`); anything not a Discord id is left out."""
        found = (text_rules.snowflake(r) for r in _list(_dict(self.raw.get("member")).get("roles")))
        return [role for role in found if role is not None]

    @property
    def subcommand(self) -> tuple[str, dict[str, Any]]:
        """The subcommand chosen (`/coaches add`) and its option values by name."""
        for option in _list(self.data.get("options")):
            option = _dict(option)
            if option.get("type") == SUB_COMMAND:
                return _text(option.get("name")) or "", _options(option)
        return "", {}

    @property
    def place(self) -> Place:
        channel = _dict(self.raw.get("channel"))
        channel_id = text_rules.snowflake(self.raw.get("channel_id"))
        channel_id = channel_id or text_rules.snowflake(channel.get("id"))
        channel_name = text_rules.one_line(channel.get("name"), CHANNEL_NAME_MAX)
        return Place(guild_id=self.guild_id, channel_id=channel_id, channel=channel_name)

    # --- what was asked ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return _text(self.data.get("name")) or ""

    @property
    def custom_id(self) -> str:
        return _text(self.data.get("custom_id")) or ""

    def string(self, name: str) -> str | None:
        value = self.options.get(name)
        return value if isinstance(value, str) else None

    @property
    def focused(self) -> tuple[str, str] | None:
        """The option being typed in an autocomplete, and what has been typed so far."""
        top = [_dict(option) for option in _list(self.data.get("options"))]
        inner = [o for option in top if option.get("type") == SUB_COMMAND
                 for o in map(_dict, _list(option.get("options")))]  # fmt: skip
        for option in top + inner:
            if option.get("focused") is True:
                value = option.get("value")
                return _text(option.get("name")) or "", value if isinstance(value, str) else ""
        return None

    def attachments(self, names: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """The attachments given for these options, in option order, from `data.resolved`."""
        resolved = _dict(_dict(self.data.get("resolved")).get("attachments"))
        options = self.options
        found = []
        for name in names:
            attachment_id = options.get(name)
            if attachment_id is None:
                continue
            attachment = _dict(resolved.get(_scalar(attachment_id)))
            if not attachment:
                raise BadInteraction(
                    f"The file for {name} did not arrive with the command; attach it again."
                )
            found.append((name, attachment))
        return found

    def modal_value(self, custom_id: str) -> str | None:
        """A text input's value from a modal submit (action rows, or the newer labels)."""
        for top in _list(self.data.get("components")):
            top = _dict(top)
            inner = [*_list(top.get("components")), top.get("component")]
            for component in map(_dict, inner):
                if component.get("custom_id") == custom_id:
                    value = component.get("value")
                    return value if isinstance(value, str) else None
        return None

    @property
    def message_owner_id(self) -> str | None:
        """Who ran the command whose message carries the pressed button, when Discord says so."""
        message = _dict(self.raw.get("message"))
        metadata = _dict(message.get("interaction_metadata")) or _dict(message.get("interaction"))
        return _text(_dict(metadata.get("user")).get("id"))


@dataclass(slots=True)
class Reply:
    """The answer to return to Discord now, and work to do once it has gone out."""

    body: dict[str, Any]
    later: Callable[[], Awaitable[None]] | None = field(default=None)

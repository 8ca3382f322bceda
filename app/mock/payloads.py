"""Interactions as Discord sends them, and their signature headers: guild and DM interactions,
command data with options and attachments, autocomplete, modal submits and button presses.
Used by `coach-plans send` and the tests; the service itself only reads interactions."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from nacl.signing import SigningKey

from app.discord import protocol
from app.interactions.signatures import sign

# Ids of Discord's documented examples; any snowflakes would do.
APPLICATION_ID = "123456789012345678"
GUILD = "290926798626357999"
CHANNEL = "645027906669510667"
CHANNEL_NAME = "trading-plans"
DM_CHANNEL = "845027906669510667"
COMMAND_ID = "771825006014889984"
ROLE = "539082325061836999"
MESSAGE_ID = "100000000000000003"  # the message a pressed button sits on
APP_PERMISSIONS = "442368"

_increment = itertools.count()


def new_id() -> str:
    """A fresh snowflake, unique across processes: this millisecond, this process, a count."""
    ms = time.time_ns() // 1_000_000 - protocol.EPOCH_MS
    return str(ms << 22 | (os.getpid() & 0x3FF) << 12 | next(_increment) & 0xFFF)


def stable_id(seed: str) -> str:
    """A Discord-like id that is the same for the same seed (a user name, a command name)."""
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:7], "big")
    return str(100000000000000000 + digest % 800000000000000000)


def signed_headers(key: SigningKey, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """The headers Discord sends with `body`: Ed25519 over timestamp + body."""
    timestamp = timestamp or str(int(time.time()))
    return {
        "Content-Type": "application/json",
        protocol.SIGNATURE_HEADER: sign(key, timestamp, body),
        protocol.TIMESTAMP_HEADER: timestamp,
    }


# --- who and where -------------------------------------------------------------------------------


def user_object(who: Mapping[str, Any]) -> dict[str, Any]:
    """A user object from its id and names (`id`, `username`, `global_name`)."""
    return {**who, "avatar": None, "discriminator": "0", "public_flags": 0}


def member(
    who: Mapping[str, Any], permissions: int = 0, roles: Iterable[str] | None = None
) -> dict[str, Any]:
    """A guild member: the user, their role ids (default: ROLE), and their permissions in the
    channel as Discord computed them."""
    return {
        "user": user_object(who),
        "roles": [ROLE] if roles is None else list(roles),
        "premium_since": None,
        "permissions": str(permissions),
        "pending": False,
        "nick": None,
        "mute": False,
        "joined_at": "2017-03-13T19:19:14.040000+00:00",
        "deaf": False,
    }


def guild_interaction(
    kind: int,
    data: dict[str, Any] | None,
    *,
    user: Mapping[str, Any],
    permissions: int = 0,
    guild_id: str = GUILD,
    channel_id: str = CHANNEL,
    channel_name: str = CHANNEL_NAME,
    application_id: str = APPLICATION_ID,
    roles: Iterable[str] | None = None,
) -> dict[str, Any]:
    """An interaction in a guild channel: the user arrives inside `member`."""
    payload: dict[str, Any] = {
        "type": kind,
        "token": f"token-{new_id()}",
        "member": member(user, permissions, roles),
        "id": new_id(),
        "application_id": application_id,
        "guild_id": guild_id,
        "guild": {"id": guild_id, "locale": "en-US", "features": []},
        "app_permissions": APP_PERMISSIONS,
        "guild_locale": "en-US",
        "locale": "en-US",
        "channel_id": channel_id,
        "channel": {
            "id": channel_id,
            "name": channel_name,
            "type": protocol.GUILD_TEXT,
            "guild_id": guild_id,
        },
        "entitlements": [],
        "authorizing_integration_owners": {str(protocol.GUILD_INSTALL): guild_id},
        "context": protocol.GUILD_CONTEXT,
        "version": 1,
    }
    if data is not None:
        payload["data"] = data
    return payload


def dm_interaction(
    kind: int,
    data: dict[str, Any] | None,
    *,
    user: Mapping[str, Any],
    application_id: str = APPLICATION_ID,
) -> dict[str, Any]:
    """An interaction in the bot's DM: the user arrives as `user`, and there is no guild."""
    who = user_object(user)
    payload: dict[str, Any] = {
        "type": kind,
        "token": f"token-{new_id()}",
        "user": who,
        "id": new_id(),
        "application_id": application_id,
        "app_permissions": APP_PERMISSIONS,
        "locale": "en-US",
        "channel_id": DM_CHANNEL,
        "channel": {"id": DM_CHANNEL, "type": protocol.DM},
        "entitlements": [],
        "authorizing_integration_owners": {str(protocol.USER_INSTALL): who["id"]},
        "context": protocol.BOT_DM_CONTEXT,
        "version": 1,
    }
    if data is not None:
        payload["data"] = data
    return payload


# --- what was asked ------------------------------------------------------------------------------


def option(name: str, value: Any, kind: int = protocol.STRING) -> dict[str, Any]:
    """One option value of a slash command."""
    return {"name": name, "type": kind, "value": value}


def subcommand_data(
    name: str, subcommand: str, options: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A subcommand's `data` (`/coaches add name:alex`): the subcommand holds the options."""
    chosen = {"name": subcommand, "type": protocol.SUB_COMMAND, "options": list(options)}
    return {"id": COMMAND_ID, "name": name, "type": protocol.CHAT_INPUT, "options": [chosen]}


def command_data(
    name: str,
    options: Iterable[dict[str, Any]] = (),
    attachments: Mapping[str, dict[str, Any]] | None = None,
    *,
    command_id: str = COMMAND_ID,
) -> dict[str, Any]:
    """A slash command's `data`: its options, then the attachment options (by option name),
    whose files Discord lists under `resolved`."""
    values = list(options)
    resolved: dict[str, Any] = {}
    for name_of_option, found in (attachments or {}).items():
        values.append(option(name_of_option, found["id"], protocol.ATTACHMENT))
        resolved[found["id"]] = found
    data: dict[str, Any] = {"id": command_id, "name": name, "type": protocol.CHAT_INPUT}
    if values:
        data["options"] = values
    if resolved:
        data["resolved"] = {"attachments": resolved}
    return data


def attachment(
    url: str,
    filename: str,
    size: int,
    content_type: str | None = "image/png",
    *,
    image_size: tuple[int, int] | None = (800, 600),
) -> dict[str, Any]:
    """A file attached to a command option, as `data.resolved.attachments` lists it."""
    proxy = protocol.MEDIA + url[len(protocol.CDN) :] if url.startswith(protocol.CDN) else url
    found: dict[str, Any] = {
        "id": new_id(),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": proxy,
    }
    if image_size is not None:
        found["width"], found["height"] = image_size
    found["ephemeral"] = True  # files attached to a command option are
    if content_type is not None:
        found["content_type"] = content_type
    return found


def autocomplete_data(
    name: str, options: Iterable[dict[str, Any]], focused: tuple[str, str]
) -> dict[str, Any]:
    """An autocomplete's `data`: the options so far, and the (name, typed text) being typed."""
    values = [*options, {**option(*focused), "focused": True}]
    return {"id": COMMAND_ID, "name": name, "type": protocol.CHAT_INPUT, "options": values}


def modal_data(custom_id: str, values: Mapping[str, str]) -> dict[str, Any]:
    """A modal submit's `data`: one action row per text input, by custom_id."""
    rows = [
        {
            "type": protocol.ACTION_ROW,
            "components": [{"type": protocol.TEXT_INPUT, "custom_id": key, "value": value}],
        }
        for key, value in values.items()
    ]
    return {"custom_id": custom_id, "components": rows}


def button_press(
    custom_id: str,
    *,
    user: Mapping[str, Any],
    owner: Mapping[str, Any] | None = None,
    content: str = "",
    **where: Any,
) -> dict[str, Any]:
    """A button pressed on an ephemeral message; `owner`, when given, ran the command that made
    the message (Discord says so in `interaction_metadata`)."""
    data = {"custom_id": custom_id, "component_type": protocol.BUTTON}
    payload = guild_interaction(protocol.MESSAGE_COMPONENT, data, user=user, **where)
    pressed: dict[str, Any] = {
        "id": MESSAGE_ID,
        "channel_id": payload["channel_id"],
        "content": content,
        "flags": protocol.EPHEMERAL,
        "components": [],
    }
    if owner is not None:
        pressed["interaction_metadata"] = {
            "id": "1",
            "type": protocol.APPLICATION_COMMAND,
            "user": owner,
        }
    payload["message"] = pressed
    return payload

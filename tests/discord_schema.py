"""Checks our answers against Discord's own schemas (copied into fixtures/discord_schemas.json
from Discord's OpenAPI description; its `$comment` names the source), plus the limits the
schemas cannot say: 6000 characters of embeds per message, and no pings ever."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.discord import protocol

_DOCUMENT = json.loads((Path(__file__).parent / "fixtures" / "discord_schemas.json").read_text())
_BASE = "urn:discord-api-v10"
_REGISTRY = Registry().with_resource(
    _BASE, Resource.from_contents(_DOCUMENT, default_specification=DRAFT202012)
)


def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{_BASE}#/{pointer}"}, registry=_REGISTRY)


_RESPONSE = _validator("interaction_response")
_EDIT = _validator("edit_original")
_COMMANDS = _validator("bulk_overwrite")


def _errors(validator: Draft202012Validator, body: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]


def _message_rules(data: dict[str, Any]) -> list[str]:
    problems = []
    if data.get("allowed_mentions") != {"parse": []}:
        problems.append("a message must carry allowed_mentions {'parse': []}")
    total = 0
    for embed in data.get("embeds") or []:
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += len((embed.get("footer") or {}).get("text") or "")
        total += len((embed.get("author") or {}).get("name") or "")
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields") or [])
    # Written out, not taken from app/discord/protocol.py: the check stays independent of the
    # limit the code under test uses.
    if total > 6000:
        problems.append(f"embeds hold {total} characters; Discord allows 6000 per message")
    return problems


def check_response(body: Any) -> None:
    """An answer to POST /interactions, as Discord would accept it."""
    problems = _errors(_RESPONSE, body)
    messages = (protocol.CHANNEL_MESSAGE, protocol.UPDATE_MESSAGE)
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and body.get("type") in messages:
        problems += _message_rules(data)
    assert not problems, f"not a valid interaction response: {problems}\n{body}"


def check_edit(body: Any) -> None:
    """A PATCH of @original, as Discord would accept it."""
    problems = _errors(_EDIT, body) + _message_rules(body)
    assert not problems, f"not a valid edit of the original answer: {problems}"


def check_commands(body: Any) -> None:
    """A bulk overwrite of application commands."""
    problems = _errors(_COMMANDS, body)
    assert not problems, f"not valid command definitions: {problems}"

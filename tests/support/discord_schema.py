"""Checks our answers against Discord's own schemas (copied into fixtures/discord_schemas.json
from Discord's OpenAPI description; its `$comment` names the source), strictly: the published
schemas allow fields they do not declare, so a misspelt field would pass; here every object
schema that declares its properties allows no others. Plus what the schemas cannot say: a
Components V2 message's 40 components and 4000 characters of text, no pings ever, and the files
of a message: every `attachment://` reference has its `files[n]` part, listed in `attachments`,
and every part is referenced; no image is loaded from outside the message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.discord import protocol
from app.discord.multipart import FilePart


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists properties."""
    if isinstance(schema, list):
        return [_strict(one) for one in schema]
    if not isinstance(schema, dict):
        return schema
    found = {key: _strict(value) for key, value in schema.items()}
    if isinstance(found.get("properties"), dict) and "additionalProperties" not in found:
        found["additionalProperties"] = False
    return found


def _permissions_as_strings(schema: Any) -> Any:
    """Discord's reference documents `default_member_permissions` as a string ("32", the bit
    set in decimal, as it also answers it); its OpenAPI description says integer. Both are
    accepted: a canonical decimal string is allowed beside the integer."""
    if isinstance(schema, list):
        return [_permissions_as_strings(one) for one in schema]
    if not isinstance(schema, dict):
        return schema
    found = {key: _permissions_as_strings(value) for key, value in schema.items()}
    properties = found.get("properties")
    if isinstance(properties, dict) and "default_member_permissions" in properties:
        as_string = {"type": "string", "pattern": "^(0|[1-9][0-9]{0,19})$"}
        properties["default_member_permissions"] = {
            "anyOf": [properties["default_member_permissions"], as_string]
        }
    return found


_DOCUMENT = _strict(
    _permissions_as_strings(
        json.loads((Path(__file__).parent.parent / "fixtures" / "discord_schemas.json").read_text())
    )
)
_BASE = "urn:discord-api-v10"
_REGISTRY = Registry().with_resource(
    _BASE, Resource.from_contents(_DOCUMENT, default_specification=DRAFT202012)
)


def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{_BASE}#/{pointer}"}, registry=_REGISTRY)


_RESPONSE = _validator("interaction_response")
_EDIT = _validator("edit_original")
_FOLLOW_UP = _validator("follow_up")
_COMMANDS = _validator("bulk_overwrite")


def _errors(validator: Draft202012Validator, body: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]


def _walk(components: Any) -> list[dict[str, Any]]:
    """Every component, nested ones too."""
    found = []
    for one in components or []:
        found.append(one)
        found += _walk(one.get("components"))
    return found


def _message_rules(data: dict[str, Any]) -> list[str]:
    problems = []
    mentions = data.get("allowed_mentions")
    # A new plan's card may ping the one role its server chose (/setup ping_role), nothing else.
    roles = mentions.get("roles", []) if isinstance(mentions, dict) else []
    if mentions != {"parse": []} and not (
        mentions == {"parse": [], "roles": roles} and len(roles) == 1
    ):
        problems.append("a message must carry allowed_mentions {'parse': []} (or one role)")
    # Written out, not taken from app/discord/protocol.py: the check stays independent of the
    # limits the code under test uses (https://discord.com/developers/docs/components/reference).
    if int(data.get("flags") or 0) & (1 << 15):
        if data.get("content") or data.get("embeds"):
            problems.append("a Components V2 message cannot carry content or embeds")
        every = _walk(data.get("components"))
        if len(every) > 40:
            problems.append(f"{len(every)} components; Discord allows 40 per message")
        text = sum(len(one["content"]) for one in every if one.get("type") == 10)
        if text > 4000:
            problems.append(f"{text} characters of Text Display; Discord allows 4000")
    elif any(one.get("type") != 1 for one in data.get("components") or []):
        problems.append("layout components need the IS_COMPONENTS_V2 flag")
    return problems


def media_urls(data: dict[str, Any]) -> list[str]:
    """The URLs of every image a message shows (galleries, thumbnails, files)."""
    urls = []
    for one in _walk(data.get("components")):
        for item in one.get("items") or []:
            urls.append(item["media"]["url"])
        for key in ("media", "file"):
            if isinstance(one.get(key), dict):
                urls.append(one[key]["url"])
    return urls


def check_upload(data: dict[str, Any], files: list[FilePart]) -> None:
    """The files sent with a message match what it references and lists."""
    problems = []
    parts = {part.filename: part for part in files}
    if len(parts) != len(files):
        problems.append("two file parts share a filename")
    listed = {str(a.get("id")): a.get("filename") for a in data.get("attachments") or []}
    referenced = set()
    for url in media_urls(data):
        if not url.startswith("attachment://"):
            problems.append(f"{url} is loaded from outside the message")
            continue
        name = url.removeprefix("attachment://")
        referenced.add(name)
        if name not in parts:
            problems.append(f"{url} has no file part")
    for part in files:
        if part.filename not in referenced:
            problems.append(f"file part files[{part.n}] ({part.filename}) is not shown")
        if listed.get(str(part.n)) != part.filename:
            problems.append(f"files[{part.n}] is not listed in attachments with its id")
    if len(listed) != len(files):
        problems.append(f"attachments lists {len(listed)} files; {len(files)} were sent")
    assert not problems, f"the message's files do not match it: {problems}"


def check_response(body: Any) -> None:
    """An answer to POST /interactions, as Discord would accept it."""
    problems = _errors(_RESPONSE, body)
    messages = (protocol.CHANNEL_MESSAGE, protocol.UPDATE_MESSAGE)
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and body.get("type") in messages:
        problems += _message_rules(data)
    assert not problems, f"not a valid interaction response: {problems}\n{body}"
    if isinstance(data, dict):
        check_upload(data, [])  # a JSON answer carries no files


def check_edit(body: Any) -> None:
    """A PATCH of @original, as Discord would accept it."""
    problems = _errors(_EDIT, body) + _message_rules(body)
    assert not problems, f"not a valid edit of the original answer: {problems}"


def check_follow_up(body: Any) -> None:
    """A follow-up message (POST to the interaction webhook), as Discord would accept it."""
    problems = _errors(_FOLLOW_UP, body) + _message_rules(body)
    assert not problems, f"not a valid follow-up message: {problems}"


def check_commands(body: Any) -> None:
    """A bulk overwrite of application commands."""
    problems = _errors(_COMMANDS, body)
    assert not problems, f"not valid command definitions: {problems}"

"""Putting the slash-command definitions on Discord: what a bulk overwrite of the commands there
would add, change, remove and keep (the calls themselves are in app/discord/rest.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.discord.protocol import CHAT_INPUT

# Fields Discord fills in with these values when a definition leaves them out; comparing with
# them filled in keeps an unchanged command from showing up as "changed".
_COMMAND_DEFAULTS: dict[str, Any] = {"type": CHAT_INPUT, "nsfw": False, "options": []}
_OPTION_DEFAULTS: dict[str, Any] = {"required": False}


@dataclass
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def nothing_to_change(self) -> bool:
        """True when an overwrite would leave Discord's commands exactly as they are."""
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        out = []
        for label, names in (
            ("add", self.added),
            ("change", self.changed),
            ("remove", self.removed),
            ("keep as is", self.unchanged),
        ):
            for name in names:
                out.append(f"  {label:<11}/{name}")
        return out or ["  (no commands either side)"]


def _normal_option(option: Mapping[str, Any]) -> dict[str, Any]:
    result = {**_OPTION_DEFAULTS, **option}
    if "options" in result:
        result["options"] = [_normal_option(o) for o in result["options"]]
    return result


def _normal(command: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    full = {**_COMMAND_DEFAULTS, **command}
    full["options"] = [_normal_option(o) for o in full.get("options") or []]
    return {key: full.get(key) for key in keys}


def compare(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> Plan:
    """What a bulk overwrite of `current` with `wanted` will add, change, remove and keep."""
    plan = Plan()
    existing = {command["name"]: command for command in current}
    for command in wanted:
        name = command["name"]
        if name not in existing:
            plan.added.append(name)
            continue
        # Only the fields we send matter: Discord adds ids, versions and other bookkeeping.
        keys = set(command) | set(_COMMAND_DEFAULTS)
        if _normal(existing[name], keys) == _normal(command, keys):
            plan.unchanged.append(name)
        else:
            plan.changed.append(name)
    wanted_names = {command["name"] for command in wanted}
    plan.removed = [name for name in existing if name not in wanted_names]
    return plan

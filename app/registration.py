"""Putting the slash-command definitions on Discord: compare with what is there, then overwrite.

Endpoints (Discord API v10, https://discord.com/developers/docs/interactions/application-commands):
GET/PUT /applications/{application.id}/commands and
GET/PUT /applications/{application.id}/guilds/{guild.id}/commands (bulk overwrite).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from app import __version__
from app.retry import retry_after

USER_AGENT = f"DiscordBot (https://github.com/coach-plans/coach-plans, {__version__})"

# Fields Discord fills in with these values when a definition leaves them out; comparing with
# them filled in keeps an unchanged command from showing up as "changed".
_COMMAND_DEFAULTS: dict[str, Any] = {"type": 1, "nsfw": False, "options": []}
_OPTION_DEFAULTS: dict[str, Any] = {"required": False}


class RegistrationError(Exception):
    """A refusal from Discord, explained in plain words."""


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


def _field_errors(errors: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested `errors` object into `path: message` lines."""
    if not isinstance(errors, dict):
        return []
    lines = []
    for item in errors.get("_errors", []):
        lines.append(f"{path or '(body)'}: {item.get('message', item)}")
    for key, value in errors.items():
        if key != "_errors":
            lines.extend(_field_errors(value, f"{path}.{key}" if path else str(key)))
    return lines


def explain(response: httpx.Response, where: str) -> RegistrationError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("message", response.text[:200]) if isinstance(body, dict) else ""
    if response.status_code == 401:
        return RegistrationError(
            "Discord refused the bot token (401 Unauthorized). Copy a fresh token from the "
            "Developer Portal > Bot > Reset Token and set DISCORD_BOT_TOKEN."
        )
    if response.status_code == 403:
        return RegistrationError(
            f"Discord refused access to {where} (403 Forbidden: {detail}). Is the app in that "
            "guild? Invite it with the `applications.commands` scope, and check the guild id "
            "and DISCORD_APPLICATION_ID."
        )
    if response.status_code == 400:
        lines = _field_errors(body.get("errors") if isinstance(body, dict) else None)
        listed = "\n".join(f"  {line}" for line in lines) or f"  {detail}"
        return RegistrationError(
            f"Discord rejected the command definitions (400: {detail}):\n{listed}"
        )
    if response.status_code == 404:
        return RegistrationError(
            f"Discord does not know {where} (404). Check DISCORD_APPLICATION_ID and the guild id."
        )
    return RegistrationError(f"Discord answered {response.status_code} for {where}: {detail}")


class CommandRegistrar:
    """Reads and overwrites an application's commands, honouring Discord's rate limits."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        application_id: str,
        bot_token: str,
        *,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.application_id = application_id
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bot {bot_token}", "User-Agent": USER_AGENT}
        self.max_attempts = max_attempts
        self.sleep = sleep

    def url(self, guild_id: str | None) -> str:
        app = f"{self.base_url}/applications/{self.application_id}"
        return f"{app}/guilds/{guild_id}/commands" if guild_id else f"{app}/commands"

    def where(self, guild_id: str | None) -> str:
        return f"guild {guild_id}'s commands" if guild_id else "the global commands"

    def _send(self, method: str, guild_id: str | None, body: Any = None) -> Any:
        for _ in range(self.max_attempts):
            try:
                response = self.http.request(
                    method, self.url(guild_id), json=body, headers=self.headers
                )
            except httpx.HTTPError as exc:
                raise RegistrationError(
                    f"Cannot reach Discord at {self.base_url}: {exc.__class__.__name__}"
                ) from None
            if response.status_code == 429:
                self.sleep(retry_after(response) or 1.0)
                continue
            if response.status_code >= 400:
                raise explain(response, self.where(guild_id))
            return response.json()
        raise RegistrationError(f"Discord kept rate-limiting {self.where(guild_id)}; try later.")

    def current(self, guild_id: str | None) -> list[dict[str, Any]]:
        return self._send("GET", guild_id)

    def overwrite(self, guild_id: str | None, commands: list[dict[str, Any]]) -> list[Any]:
        return self._send("PUT", guild_id, commands)

"""Every call the service makes to Discord's REST API: the edit of a deferred answer (async, in
the service) and the application commands' read and bulk overwrite (blocking, in
register_commands.py), with Discord's rate limits waited out through app/retry.py's policy."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from app import __version__
from app.discord.components import Upload
from app.discord.protocol import EPHEMERAL
from app.retry import Again, Backoff, GaveUp, Retry, RetryTime, is_transient

log = logging.getLogger("coach_plans")

# https://discord.com/developers/docs/reference#user-agent
USER_AGENT = f"DiscordBot (https://github.com/coach-plans/coach-plans, {__version__})"


def _segment(value: str) -> str:
    return quote(value, safe="")


class Webhook:
    """The interaction webhook: answers to interactions after the first, by token (no bot token).

    https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints"""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_base_url: str,
        backoff: Backoff,
        application_id: str | None = None,
    ) -> None:
        self.http = http
        self.api_base = api_base_url.rstrip("/")
        self.backoff = backoff
        # For an interaction that does not name its application (DISCORD_APPLICATION_ID).
        self.application_id = application_id or ""

    def url(self, application_id: str, token: str) -> str:
        """/webhooks/{application.id}/{interaction.token}"""
        application = _segment(application_id or self.application_id)
        return f"{self.api_base}/webhooks/{application}/{_segment(token)}"

    def original_url(self, application_id: str, token: str) -> str:
        """PATCH /webhooks/{application.id}/{interaction.token}/messages/@original"""
        return f"{self.url(application_id, token)}/messages/@original"

    async def edit_original(
        self,
        application_id: str,
        token: str,
        data: dict[str, Any],
        files: Sequence[Upload] = (),
    ) -> bool:
        """Replace the "thinking…" message with `data`, uploading `files` with it (multipart:
        `payload_json` and `files[n]`, n the id `data["attachments"]` gives each; a file given
        open is streamed, read again from its start on a retry). Retries
        connection errors, 5xx, 429 (after Discord's retry_after) and 404 (Discord answers 404
        until it has seen the deferral)."""
        body = dict(data)
        # The deferral already decided who sees the answer; IS_COMPONENTS_V2 may still be set.
        flags = int(body.pop("flags", 0) or 0) & ~EPHEMERAL
        if flags:
            body["flags"] = flags
        return await self._send("PATCH", self.original_url(application_id, token), body, files)

    async def delete_original(self, application_id: str, token: str) -> bool:
        """Remove the "thinking…" message (an answer for fewer eyes follows)."""
        return await self._send("DELETE", self.original_url(application_id, token), None)

    async def follow_up(self, application_id: str, token: str, data: dict[str, Any]) -> bool:
        """A new message in answer to the interaction; `data` carries its own flags."""
        return await self._send("POST", self.url(application_id, token), data)

    async def post_message(
        self, channel_id: str, data: dict[str, Any], files: Sequence[Upload], bot_token: str
    ) -> bool:
        """A message of the bot's own in a channel (the daily recap): needs the bot's token.
        https://discord.com/developers/docs/resources/message#create-message"""
        url = f"{self.api_base}/channels/{_segment(channel_id)}/messages"
        headers = {"Authorization": f"Bot {bot_token}", "User-Agent": USER_AGENT}
        return await self._send("POST", url, data, files, headers)

    async def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        files: Sequence[Upload] = (),
        headers: dict[str, str] | None = None,
    ) -> bool:
        async def one_try() -> bool:
            try:
                if files:
                    # https://discord.com/developers/docs/reference#uploading-files
                    parts = {"payload_json": (None, json.dumps(body), "application/json")}
                    uploads = [
                        (f"files[{n}]", (one.filename, one.data, one.content_type))
                        for n, one in enumerate(files)
                    ]
                    response = await self.http.request(
                        method, url, files=[*parts.items(), *uploads], headers=headers
                    )
                else:
                    response = await self.http.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise Again(exc.__class__.__name__) from exc
            status = response.status_code
            if status < 300:
                return True
            if status == 429:  # waited out for as long as Discord asks
                raise Again(f"HTTP {status}", response)
            if status == 404 or is_transient(status):
                raise Again(f"HTTP {status}")
            log.warning(
                "Discord refused the %s of a deferred answer: %s", method, response.text[:300]
            )
            return False

        def retrying(retry: Retry) -> None:
            log.info(
                "%s of a deferred answer failed (%s); retry %d in %.1fs",
                method,
                retry.why,
                retry.number,
                retry.wait,
            )

        try:
            return await self.backoff.run_async(one_try, retrying)
        except GaveUp as gave_up:
            log.warning(
                "gave up the %s of a deferred answer after %d attempts", method, gave_up.tries
            )
            return False


class CommandsError(Exception):
    """A refusal from Discord, explained in plain words."""


class ApplicationCommands:
    """Reads and overwrites an application's commands, guild or global, waiting out rate limits.

    GET/PUT /applications/{application.id}/commands and
    GET/PUT /applications/{application.id}/guilds/{guild.id}/commands (bulk overwrite);
    https://discord.com/developers/docs/interactions/application-commands#endpoints"""

    def __init__(
        self,
        http: httpx.Client,
        api_base_url: str,
        application_id: str,
        bot_token: str,
        *,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.application_id = application_id
        self.api_base = api_base_url.rstrip("/")
        self.headers = {"Authorization": f"Bot {bot_token}", "User-Agent": USER_AGENT}
        # Only rate limits are waited out, for as long as Discord asks (1 s when it does not).
        self.backoff = Backoff(
            max_attempts - 1, 1.0, jitter=lambda: 1.0, growth=1.0, time=RetryTime(sleep=sleep)
        )

    def url(self, guild_id: str | None) -> str:
        app = f"{self.api_base}/applications/{self.application_id}"
        return f"{app}/guilds/{guild_id}/commands" if guild_id else f"{app}/commands"

    def where(self, guild_id: str | None) -> str:
        return f"guild {guild_id}'s commands" if guild_id else "the global commands"

    def current(self, guild_id: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._send("GET", guild_id)
        return found

    def overwrite(self, guild_id: str | None, commands: list[dict[str, Any]]) -> list[Any]:
        registered: list[Any] = self._send("PUT", guild_id, commands)
        return registered

    def _send(self, method: str, guild_id: str | None, body: Any = None) -> Any:
        def one_try() -> Any:
            try:
                response = self.http.request(
                    method, self.url(guild_id), json=body, headers=self.headers
                )
            except httpx.HTTPError as exc:
                raise CommandsError(
                    f"Cannot reach Discord at {self.api_base}: {exc.__class__.__name__}"
                ) from None
            if response.status_code == 429:
                raise Again("HTTP 429", response)
            if response.status_code >= 400:
                raise explain(response, self.where(guild_id))
            return response.json()

        try:
            return self.backoff.run(one_try)
        except GaveUp:
            raise CommandsError(
                f"Discord kept rate-limiting {self.where(guild_id)}; try later."
            ) from None


def _field_errors(errors: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested `errors` object into `path: message` lines
    (https://discord.com/developers/docs/reference#error-messages)."""
    if not isinstance(errors, dict):
        return []
    lines = []
    for item in errors.get("_errors", []):
        lines.append(f"{path or '(body)'}: {item.get('message', item)}")
    for key, value in errors.items():
        if key != "_errors":
            lines.extend(_field_errors(value, f"{path}.{key}" if path else str(key)))
    return lines


def explain(response: httpx.Response, where: str) -> CommandsError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("message", response.text[:200]) if isinstance(body, dict) else ""
    if response.status_code == 401:
        return CommandsError(
            "Discord refused the bot token (401 Unauthorized). Copy a fresh token from the "
            "Developer Portal > Bot > Reset Token and set DISCORD_BOT_TOKEN."
        )
    if response.status_code == 403:
        return CommandsError(
            f"Discord refused access to {where} (403 Forbidden: {detail}). Is the app in that "
            "guild? Invite it with the `applications.commands` scope, and check the guild id "
            "and DISCORD_APPLICATION_ID."
        )
    if response.status_code == 400:
        lines = _field_errors(body.get("errors") if isinstance(body, dict) else None)
        listed = "\n".join(f"  {line}" for line in lines) or f"  {detail}"
        return CommandsError(f"Discord rejected the command definitions (400: {detail}):\n{listed}")
    if response.status_code == 404:
        return CommandsError(
            f"Discord does not know {where} (404). Check DISCORD_APPLICATION_ID and the guild id."
        )
    return CommandsError(f"Discord answered {response.status_code} for {where}: {detail}")

"""Answering Discord while the storage warms up, after a start from zero.

A PING needs no storage and is answered as usual. A command that can wait gets a deferral at
once (Discord's "thinking…", with the visibility its answer normally has), and its handler runs
as soon as the warm-up ends; its answer then replaces the deferral. Autocomplete, buttons,
forms and a command that may open a form wait for the warm-up within Discord's deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.runtime.services import NotStarted, Runtime, Services
from commands.deferrals import Visibility

log = logging.getLogger("coach_plans")

Handler = Callable[[Interaction, Services], Awaitable[Reply]]
Run = Callable[[Handler | None, Interaction, Services], Awaitable[Reply]]

# Discord gives up on an answer after 3 s; an interaction that cannot be deferred waits this long.
WAIT_SECONDS = 2.0
STARTING = "Coach Plans is just starting up and could not answer in time; try again in a moment."


async def answer(
    runtime: Runtime,
    interaction: Interaction,
    handler: Handler | None,
    deferral: Visibility | None,
    run: Run,
) -> Reply:
    """The answer to send now, while `runtime` is still warming up."""
    if interaction.type == protocol.APPLICATION_COMMAND and deferral is not None:
        ephemeral = deferral == "ephemeral"

        async def later() -> None:
            await finish(runtime, interaction, handler, ephemeral, run)

        return Reply(responses.deferred(ephemeral=ephemeral), later=later)
    try:
        with anyio.fail_after(WAIT_SECONDS):
            services = await runtime.services()
    except (TimeoutError, NotStarted) as exc:
        message = exc.message if isinstance(exc, NotStarted) else STARTING
        return Reply(responses.refusal(interaction.type, message))
    return await run(handler, interaction, services)


async def finish(
    runtime: Runtime,
    interaction: Interaction,
    handler: Handler | None,
    ephemeral: bool,
    run: Run,
) -> None:
    """Runs after the deferral went out (ours, or the wake front's: app/runtime/wake.py): the
    handler's answer replaces it."""
    try:
        services = await runtime.services()
    except NotStarted:
        return  # no database and no HTTP client: the warm-up's failure is logged
    try:
        reply = await run(handler, interaction, services)
        # A handler's own deferral: its later step edits the one we already sent.
        if reply.body["type"] != protocol.DEFERRED_CHANNEL_MESSAGE:
            await _replace(services, interaction, reply.body, ephemeral)
        if reply.later is not None:
            await reply.later()
    except Exception:
        log.exception("answering interaction %s after the warm-up failed", interaction.id)


async def _replace(
    services: Services, interaction: Interaction, body: dict[str, Any], ephemeral: bool
) -> None:
    webhook = services.webhook
    application_id = interaction.application_id
    data: dict[str, Any] = body.get("data") or {}
    if body["type"] != protocol.CHANNEL_MESSAGE:
        # A form or a message update cannot follow a deferral.
        data = responses.message_data(STARTING, ephemeral=True)
    if data.get("flags", 0) & protocol.EPHEMERAL and not ephemeral:
        # A refusal meant for the user alone must not replace a deferral everyone sees.
        await webhook.delete_original(application_id, interaction.token)
        await webhook.follow_up(application_id, interaction.token, data)
        return
    await webhook.edit_original(application_id, interaction.token, data)

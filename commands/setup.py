"""/setup: the server's own settings: its time zone (what "today" is), the role each new plan's
card mentions, its read key for the API and the channel of its daily recap (which needs
DISCORD_BOT_TOKEN: the service posts it on its own). Without options it shows them.

Manage Server only, declared and checked on every call. One option per call keeps every change
whole: a refused value changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.community import roster
from app.community.roster import Setup
from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.runtime.resources import Services
from app.settings import Settings
from commands.coaches import MANAGE_SERVER, check_manager
from commands.definitions import Command, slash_command

if TYPE_CHECKING:  # the storage stack stays off the start path (tests/test_cold_start.py)
    from app.community.service import CommunityService


def command(settings: Settings) -> Command:
    options: list[dict[str, Any]] = [
        {
            "type": protocol.STRING,
            "name": "timezone",
            "description": "The server's time zone (IANA name, e.g. Europe/London)",
            "required": False,
            "max_length": 64,
            "autocomplete": True,
        },
        {
            "type": protocol.ROLE,
            "name": "ping_role",
            "description": "A role each new plan's card mentions",
            "required": False,
        },
        {
            "type": protocol.BOOLEAN,
            "name": "clear_ping_role",
            "description": "True: new plans mention no role",
            "required": False,
        },
        {
            "type": protocol.CHANNEL_OPTION,
            "name": "recap_channel",
            "description": "Where the day's graded plans are posted once a session closes",
            "required": False,
            "channel_types": [protocol.GUILD_TEXT, protocol.GUILD_ANNOUNCEMENT],
        },
        {
            "type": protocol.BOOLEAN,
            "name": "clear_recap_channel",
            "description": "True: no daily recap",
            "required": False,
        },
        {
            "type": protocol.STRING,
            "name": "api_key",
            "description": "new: make this server's read key (shown once); revoke: drop it",
            "required": False,
            "choices": [{"name": "new", "value": "new"}, {"name": "revoke", "value": "revoke"}],
        },
    ]
    definition = slash_command(
        "setup", "This server's Coach Plans settings (Manage Server)", options
    )
    definition["default_member_permissions"] = MANAGE_SERVER
    return Command(definition, run, autocomplete=zones)


async def run(interaction: Interaction, services: Services) -> Reply:
    check_manager(interaction, "/setup")
    community = services.community
    guild, user = interaction.guild, interaction.user
    given = {name: value for name, value in interaction.options.items() if value is not None}
    if len(given) > 1:
        raise roster.SetupError(
            "Change one setting at a time, e.g. /setup timezone:Europe/London, then "
            "/setup ping_role:@plans."
        )
    key = None
    if "timezone" in given:
        setup = await services.write(
            community.set_timezone, guild, user, interaction.string("timezone") or ""
        )
    elif "ping_role" in given:
        role = roster.snowflake(interaction.string("ping_role"), "role")
        setup = await services.write(community.set_ping_role, guild, user, role)
    elif "clear_ping_role" in given:
        if given["clear_ping_role"] is not True:
            raise roster.SetupError("To stop mentioning a role, use /setup clear_ping_role:True.")
        setup = await services.write(community.set_ping_role, guild, user, None)
    elif "recap_channel" in given:
        if services.settings.discord_bot_token is None:
            raise roster.SetupError(
                "A daily recap needs the bot's token: the service posts it on its own, not in "
                "answer to a command. Ask whoever runs Coach Plans to set DISCORD_BOT_TOKEN."
            )
        channel = roster.snowflake(interaction.string("recap_channel"), "channel")
        setup = await services.write(community.set_recap_channel, guild, user, channel)
    elif "clear_recap_channel" in given:
        if given["clear_recap_channel"] is not True:
            raise roster.SetupError("To stop the daily recap, use /setup clear_recap_channel:True.")
        setup = await services.write(community.set_recap_channel, guild, user, None)
    elif "api_key" in given:
        action = interaction.string("api_key")
        if action == "new":
            setup, key = await services.write(community.new_key, guild, user)
        elif action == "revoke":
            setup = await services.write(community.revoke_key, guild, user)
        else:
            raise roster.SetupError("api_key takes new or revoke: /setup api_key:new.")
    else:
        setup = await services.read(community.setup, guild)
    text = shown(setup, community)
    if key is not None:
        text = (
            f"This server's new read key (shown only now; keep it secret):\n`{key}`\n"
            "Send it as 'Authorization: Bearer <key>' to read this server's plans over the API. "
            "Any earlier key no longer works.\n\n" + text
        )
    return Reply(responses.ephemeral(text))


def shown(setup: Setup, community: CommunityService) -> str:
    zone = setup.timezone or f"{community.default_zone.key} (the default)"
    ping = f"<@&{setup.ping_role}>" if setup.ping_role else "none"
    key = "set (/setup api_key:revoke drops it)" if setup.key_hash else "none"
    recap = f"<#{setup.recap_channel}>" if setup.recap_channel else "none"
    coaches = ", ".join(community.coach_names(setup))
    source = "roster" if setup.has_roster else "default coaches; anyone may post"
    return (
        f"Settings of this server:\n- time zone: {zone}\n- new plans mention: {ping}\n"
        f"- API read key: {key}\n- daily recap: {recap}\n- coaches ({source}): {coaches}"
    )


async def zones(interaction: Interaction, services: Services) -> Reply:
    """Autocomplete of timezone: IANA zone names matching what was typed."""
    focused = interaction.focused
    names = roster.zone_choices(focused[1] if focused else "")
    return Reply(responses.choices([(name, name) for name in names]))

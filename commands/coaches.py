"""/coaches add|remove|list: the server's coach roster, bound to members and roles.

Declared for Manage Server only (`default_member_permissions`), and checked again on every call:
a server owner can widen who sees a command. Every answer is ephemeral and pings nobody.
"""

from __future__ import annotations

from typing import Any

from app.community import roster
from app.community.roster import NotAllowed, Setup
from app.discord import protocol, responses
from app.discord.interaction import Interaction, Reply
from app.runtime.resources import Services
from app.settings import Settings
from commands.definitions import Command, slash_command

MANAGE_SERVER = str(protocol.MANAGE_GUILD)


def _name(autocomplete: bool) -> dict[str, Any]:
    option: dict[str, Any] = {
        "type": protocol.STRING,
        "name": "name",
        "description": "The coach's name: 1-32 letters, digits, - or _",
        "required": True,
        "min_length": 1,
        "max_length": 32,
    }
    if autocomplete:
        option["autocomplete"] = True
    return option


def _who(verb: str) -> list[dict[str, Any]]:
    return [
        {"type": protocol.USER, "name": "member", "description": f"A member {verb}",
         "required": False},
        {"type": protocol.ROLE, "name": "role", "description": f"A role {verb}",
         "required": False},
    ]  # fmt: skip


def command(settings: Settings) -> Command:
    definition = slash_command(
        "coaches",
        "The server's coaches and who posts as each (Manage Server)",
        [
            {
                "type": protocol.SUB_COMMAND,
                "name": "add",
                "description": "Add a coach, or more members/roles who post as it",
                "options": [_name(False), *_who("who posts as this coach")],
            },
            {
                "type": protocol.SUB_COMMAND,
                "name": "remove",
                "description": "Take a member or role off a coach; with neither, remove the coach",
                "options": [_name(True), *_who("to take off this coach")],
            },
            {
                "type": protocol.SUB_COMMAND,
                "name": "list",
                "description": "Show the roster, and who changed it last",
            },
        ],
    )
    definition["default_member_permissions"] = MANAGE_SERVER
    return Command(definition, run, autocomplete=choices)


def check_manager(interaction: Interaction, command: str) -> None:
    if not interaction.manages_server:
        raise NotAllowed(
            f"Only members with the Manage Server permission may use {command}; ask a server admin."
        )


def _id(options: dict[str, Any], name: str, what: str) -> str | None:
    value = options.get(name)
    if value is None:
        return None
    return roster.snowflake(value if isinstance(value, str) else "", what)


async def run(interaction: Interaction, services: Services) -> Reply:
    check_manager(interaction, "/coaches")
    action, options = interaction.subcommand
    community = services.community
    guild, user = interaction.guild, interaction.user
    if action == "list":
        setup = await services.read(community.setup, guild)
        return Reply(responses.ephemeral(listing(setup, community.coach_names(setup))))
    name = options.get("name")
    name = name if isinstance(name, str) else ""
    member, role = _id(options, "member", "member"), _id(options, "role", "role")
    if action == "add":
        setup = await services.write(community.add_coach, guild, user, name, member, role)
        found = setup.coach(roster.coach_name(name))
        assert found is not None
        return Reply(
            responses.ephemeral(
                f"Coach {found.name} is posted by {roster.who_posts(found)}. "
                f"/coaches list shows the whole roster."
            )
        )
    if action == "remove":
        setup = await services.write(community.remove_coach, guild, user, name, member, role)
        wanted = roster.coach_name(name)
        found = setup.coach(wanted)
        if found is None:
            said = (
                f"Coach {wanted} was removed: its plans stay readable (/history, the API); "
                "new plans for it are refused."
            )
            if not setup.has_roster:
                said += " The roster is empty, so this server uses the default coaches again."
        else:
            said = f"Coach {found.name} is now posted by {roster.who_posts(found)}."
        return Reply(responses.ephemeral(said))
    return Reply(responses.ephemeral("Use /coaches add, /coaches remove or /coaches list."))


def listing(setup: Setup, names: tuple[str, ...]) -> str:
    """The roster as the list answer shows it (mentions that ping nobody)."""
    if not setup.has_roster:
        return (
            f"This server has no roster: the coaches are {', '.join(names)} and any member may "
            "post. Bind a coach with /coaches add name:<coach> member:@someone."
        )
    lines = [f"Coaches of this server ({len(setup.coaches)}/{roster.MAX_COACHES}):"]
    for coach in setup.coaches:
        when = "" if coach.changed_at is None else f" <t:{int(coach.changed_at.timestamp())}:f>"
        lines.append(
            f"- **{coach.name}**: {roster.who_posts(coach)} (last changed by "
            f"{coach.changed_by or 'unknown'}{when})"
        )
    if setup.retired:
        lines.append(f"Removed (plans still readable): {', '.join(setup.retired)}")
    return "\n".join(lines)


async def choices(interaction: Interaction, services: Services) -> Reply:
    """Autocomplete of /coaches remove's name: the roster's coaches."""
    focused = interaction.focused
    typed = (focused[1] if focused else "").strip().lower()
    if not interaction.manages_server:
        return Reply(responses.choices([]))
    setup = await services.read(services.community.setup, interaction.guild)
    names = [name for name in setup.names() if name.startswith(typed)]
    return Reply(responses.choices([(name, name) for name in names]))

"""The registry of slash commands, for both the interactions endpoint (dispatch) and
register_commands.py (definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.settings import Settings
from commands import coaches, delete, edit, history, myplans, plan, plans, results, setup
from commands.definitions import Command, Handler

__all__ = ["Command", "Handler", "Registry", "registry"]


class Registry:
    def __init__(self, commands: Sequence[Command]) -> None:
        self.commands = {command.name: command for command in commands}
        self.components = {p: h for c in commands for p, h in c.components.items()}
        self.modals = {p: h for c in commands for p, h in c.modals.items()}

    def to_discord(self) -> list[dict[str, Any]]:
        """The JSON for a bulk overwrite of the application's commands."""
        return [command.definition for command in self.commands.values()]

    def command(self, name: str) -> Command | None:
        return self.commands.get(name)

    def component(self, custom_id: str) -> tuple[str, Handler] | None:
        return _by_prefix(self.components, custom_id)

    def modal(self, custom_id: str) -> tuple[str, Handler] | None:
        return _by_prefix(self.modals, custom_id)


def _by_prefix(handlers: dict[str, Handler], custom_id: str) -> tuple[str, Handler] | None:
    prefix = custom_id.partition(":")[0]
    handler = handlers.get(prefix)
    return None if handler is None else (prefix, handler)


def registry(settings: Settings) -> Registry:
    modules = (plan, edit, delete, plans, myplans, history, coaches, setup)
    outcomes = (results.outcome_command(settings), results.scorecard_command(settings))
    return Registry([*(module.command(settings) for module in modules), *outcomes])

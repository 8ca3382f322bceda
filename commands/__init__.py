"""Slash commands: each module holds a command's definition and its handlers; the registry
(commands/registry.py) lists them for both the interactions endpoint (dispatch) and
register_commands.py (definitions)."""

"""Slash commands: each module holds a command's definition and its handler."""

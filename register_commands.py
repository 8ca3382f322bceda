"""Put Coach Plans' slash commands on Discord (bulk overwrite), guild or global.

    python register_commands.py [--config FILE] [--guild ID] [--dry-run]

Needs DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN. First shows what will be added, changed,
removed or left as is, and sends nothing when Discord already has these commands. `--dry-run`
stops there and prints the JSON that would be sent on stdout, every notice going to stderr, so
its output can be piped straight into a JSON tool; it does so even when Discord cannot be read,
and says on stderr what it could not compare. Guild commands appear at once; global ones
can take a while to reach every client.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app.discord.registration import compare
from app.discord.rest import ApplicationCommands, CommandsError
from app.settings import SettingsError, load_settings
from commands.registry import registry


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    parser.add_argument("--guild", help="guild (server) id; omit for global commands")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing; print the JSON on stdout and the changes on stderr",
    )
    return parser


def main(
    argv: list[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """`transport` and `sleep` (the wait out of a rate limit) are for tests."""
    args = _parser().parse_args(argv)
    try:
        # The public key only matters to the running service, not to registration.
        settings = load_settings(args.config, mock_mode=True)
    except SettingsError as exc:
        for line in exc.problems:
            print(f"register_commands: setting error: {line}", file=sys.stderr)
        return 2
    if args.guild is not None and not args.guild.isdigit():
        print(
            f"register_commands: --guild must be a numeric id, not {args.guild!r}", file=sys.stderr
        )
        return 2
    missing = [
        name
        for name, value in (
            ("DISCORD_APPLICATION_ID", settings.discord_application_id),
            ("DISCORD_BOT_TOKEN", settings.discord_bot_token),
        )
        if not value
    ]
    wanted = registry(settings).to_discord()
    # A dry run keeps stdout for the JSON alone, so `--dry-run | python -m json.tool` works.
    notices = sys.stderr if args.dry_run else sys.stdout
    if missing and args.dry_run:
        # Nothing to compare against without credentials, but the definitions can be shown.
        print(
            f"Without {' and '.join(missing)}, what Discord has now cannot be read.", file=notices
        )
        print(json.dumps(wanted, indent=2))
        print("Dry run: nothing was sent.", file=notices)
        return 0
    if missing:
        for name in missing:
            print(
                f"register_commands: setting error: {name}: required to register commands",
                file=sys.stderr,
            )
        return 2

    assert settings.discord_bot_token is not None and settings.discord_application_id is not None
    timeout = httpx.Timeout(settings.connection_timeout)
    with httpx.Client(transport=transport, timeout=timeout) as http:
        registrar = ApplicationCommands(
            http,
            settings.discord_api_base_url,
            settings.discord_application_id,
            settings.discord_bot_token.get_secret_value(),
            sleep=sleep,
        )
        where = registrar.where(args.guild)
        try:
            plan = compare(registrar.current(args.guild), wanted)
        except CommandsError as exc:
            if not args.dry_run:
                print(f"register_commands: {exc}", file=sys.stderr)
                return 1
            # The JSON does not depend on Discord: a dry run prints it all the same.
            print(f"Could not read {where} ({exc}); nothing was compared.", file=notices)
            plan = None
        if plan is not None:
            print(f"Commands for {where}:", file=notices)
            print("\n".join(plan.lines()), file=notices)
            if plan.nothing_to_change:
                print("Nothing to change: Discord already has these commands.", file=notices)
        if args.dry_run:
            print(json.dumps(wanted, indent=2))
            print("Dry run: nothing was sent.", file=notices)
            return 0
        assert plan is not None
        if plan.nothing_to_change:
            # An identical overwrite would change nothing and only spend a rate-limited call.
            return 0
        try:
            registered = registrar.overwrite(args.guild, wanted)
        except CommandsError as exc:
            print(f"register_commands: {exc}", file=sys.stderr)
            return 1
    print(f"Registered {len(registered)} commands for {where}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

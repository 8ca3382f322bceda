"""The `export` and `import` commands' arguments turned into calls of app/moving."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.settings import Settings

EXIT_USAGE = 2


def _usage(message: str) -> int:
    print(f"coach-plans: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_moving(args: argparse.Namespace, settings: Settings) -> int:
    from app.observability.logs import configure_logging

    configure_logging(settings.model_copy(update={"log_file": ""}))
    if args.action == "export":
        from app.moving import export

        return export.run(settings, args.guild)
    from app.moving import importer

    if args.legacy is not None:
        return _legacy(args, settings)
    if args.file is None:
        return _usage("import: name a file (- for stdin), or --legacy OLD.db")
    if args.file == "-":
        return importer.run(settings, importer.lines_of(sys.stdin, args.guild))
    try:
        file = Path(args.file).open(encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError as exc:
        return _usage(f"import: {args.file}: {exc.strerror or exc}")
    with file:
        return importer.run(settings, importer.lines_of(file, args.guild))


def _legacy(args: argparse.Namespace, settings: Settings) -> int:
    from app.moving import importer, legacy

    if args.file is not None:
        return _usage("import: give either a file or --legacy, not both")
    if not args.guild:
        return _usage("import --legacy: --guild ID is required (the old bot kept no guild)")
    try:
        zone = ZoneInfo(args.legacy_timezone) if args.legacy_timezone else settings.zone
    except (ZoneInfoNotFoundError, ValueError):
        return _usage(f"--legacy-timezone: unknown time zone {args.legacy_timezone!r}")
    try:
        legacy.open_legacy(args.legacy).close()
    except legacy.LegacyError as exc:
        return _usage(f"import --legacy: {exc}")
    return importer.run(settings, legacy.records(args.legacy, args.guild, zone))

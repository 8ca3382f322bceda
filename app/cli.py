"""The `coach-plans` command: `serve` runs the service; bad settings exit with status 2."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# pydantic reads every installed package's metadata, looking for plugins, when it builds its
# first model: about 35 ms of each start, before the server can listen. The service uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from app import __version__

if TYPE_CHECKING:
    from collections.abc import Callable

    import uvicorn
    from starlette.applications import Starlette
    from starlette.types import ASGIApp

    from app.runtime.server import ConnectionLimits
    from app.runtime.wake import Early
    from app.settings import Settings

log = logging.getLogger("coach_plans")

EXIT_CONFIG = 2
EXIT_LISTEN = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach-plans", description="Coach Plans service.")
    parser.add_argument("--version", action="version", version=f"coach-plans {__version__}")
    sub = parser.add_subparsers(dest="action", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    serve.add_argument("--mock", action="store_true", help="run without Discord (MOCK_MODE)")
    serve.add_argument("--host", help="listen address (API_HOST)")
    serve.add_argument("--port", type=int, help="listen port (API_PORT)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")

    send = sub.add_parser(
        "send",
        help="mock mode: sign a slash command with the development key and show the answer",
        description="Examples: coach-plans send '/plan coach:d text:\"Watch 950\" chart1:./spy.png'"
        " | coach-plans send --click CUSTOM_ID | coach-plans send --submit CUSTOM_ID 'text:\"…\"'",
    )
    send.add_argument("command", nargs="?", default="", help="'/name option:value …'")
    send.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    send.add_argument("--user", default="trader", help="who sends it (default: trader)")
    send.add_argument("--moderator", action="store_true", help="the user may manage messages")
    send.add_argument(
        "--admin", action="store_true", help="the user may manage the server (/setup, /coaches)"
    )
    send.add_argument("--roles", help="the user's roles, NAME[,NAME] (role:@NAME names them)")
    send.add_argument("--url", help="the service (default: http://127.0.0.1:API_PORT)")
    send.add_argument(
        "--save",
        type=Path,
        default=Path("data/send"),
        metavar="DIR",
        help="where the files uploaded with the answer are written (default: ./data/send)",
    )
    answer = send.add_mutually_exclusive_group()
    answer.add_argument("--click", metavar="CUSTOM_ID", help="press a button")
    answer.add_argument("--submit", metavar="CUSTOM_ID", help="submit a modal")
    charts = sub.add_parser("charts", help="the chart archive")
    charts_sub = charts.add_subparsers(dest="charts_action", required=True)
    migrate = charts_sub.add_parser(
        "migrate",
        help="copy the local chart archive (CHART_STORAGE_DIR) into the bucket (CHART_BUCKET)",
        description="Resumable and idempotent: each chart is verified by its hash, and one "
        "already in the bucket is not sent again.",
    )
    migrate.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    _moving_parsers(sub)
    grade = sub.add_parser(
        "grade",
        help="grade the plans whose session has closed against PRICE_SOURCE's bars",
        description="Prints one line per status with its count; exit 1 when the price source "
        "failed. With --date or --since, plans already graded are graded again.",
    )
    when = grade.add_mutually_exclusive_group()
    when.add_argument("--date", type=_day, help="only the plans of this date (YYYY-MM-DD)")
    when.add_argument("--since", type=_day, help="the plans dated from this date on")
    grade.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    return parser


def _moving_parsers(sub: Any) -> None:
    export = sub.add_parser("export", help="write every plan as JSON Lines (coach-plans/1)")
    export.add_argument("--guild", help="only this guild's plans")
    export.add_argument("--config", type=Path, help="YAML settings file (environment wins)")
    imports = sub.add_parser(
        "import",
        help="read plans exported by `coach-plans export`, or the original bot's database",
        description="Keeps every timestamp; importing twice adds nothing.",
    )
    imports.add_argument("file", nargs="?", help="JSON Lines file, or - for stdin")
    imports.add_argument("--legacy", type=Path, metavar="OLD.db", help="the original bot's DB")
    imports.add_argument("--guild", help="the guild of plans that name none")
    imports.add_argument("--legacy-timezone", metavar="ZONE", help="old timestamps' zone")
    imports.add_argument("--config", type=Path, help="YAML settings file (environment wins)")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None


def settings_or_exit(
    args: argparse.Namespace, *, serving: bool = False, **overrides: object
) -> Settings:
    """Load settings; on any problem print one line per setting and exit with status 2."""
    from app.settings import SettingsError, load_settings

    try:
        return load_settings(getattr(args, "config", None), serving=serving, **overrides)
    except SettingsError as exc:
        for line in exc.problems:
            print(f"coach-plans: setting error: {line}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        print("coach-plans: setting error: --workers must be 1 or more", file=sys.stderr)
        return EXIT_CONFIG
    if args.workers == 1:
        from app.runtime.wake import early_start

        early = early_start(
            os.environ, config=args.config, mock=args.mock, host=args.host, port=args.port
        )
        if early is not None:
            return _serve_woken(args, early)
    settings = _serve_settings(args)
    sock = _listen_or_exit(settings.api_host, settings.api_port)
    from app.observability.logs import configure_logging
    from app.runtime.server import ConnectionLimits

    configure_logging(settings)
    limits = ConnectionLimits(
        settings.header_timeout_seconds, settings.body_timeout_seconds, settings.max_header_bytes
    )
    options = {**_SERVER, "forwarded_allow_ips": settings.forwarded_allow_ips}
    if args.workers > 1:
        # Worker processes rebuild the settings from the environment: hand the flags down.
        _export_for_workers(args, settings)
        from app.runtime.server import run_workers

        _stop_on_signals()
        gc.enable()  # this process only supervises; each worker starts its own interpreter
        run_workers("app.cli:app_from_environment", args.workers, sock, limits, options)
        log.info("stopped")
        return 0
    server = _Server()
    # The app's lifespan builds its storage before the server lets a request in.
    app = service_app(settings, on_failure=server.stop)
    return server.run(app, sock, limits, options, lambda: None)


def _serve_woken(args: argparse.Namespace, early: Early) -> int:
    """Listen first; the settings are loaded and the app built once the server listens
    (app/runtime/wake.py). A bad setting still stops it with status 2."""
    sock = _listen_or_exit(early.host, early.port)
    from app.observability.logs import configure_logging, hold_records, show_held_records
    from app.observability.metrics import Metrics
    from app.runtime.server import ConnectionLimits
    from app.runtime.wake import WakeApp

    hold_records()  # until the settings say where logs go
    server = _Server()
    metrics = Metrics()
    limits = ConnectionLimits()  # the defaults, until the settings are loaded

    def build() -> Starlette | None:
        try:
            settings = _serve_settings(args)
        except SystemExit:
            server.code = EXIT_CONFIG
            return None
        configure_logging(settings)
        started = (
            settings.api_host,
            settings.api_port,
            settings.discord_public_key,
            settings.forwarded_allow_ips,
        )
        if started != (early.host, early.port, early.public_key, early.forwarded_allow_ips) or (
            settings.mock_mode
        ):
            log.error("the settings differ from those the server started with; not serving")
            server.code = EXIT_CONFIG
            return None
        limits.header_timeout = settings.header_timeout_seconds
        limits.body_timeout = settings.body_timeout_seconds
        limits.max_header_bytes = settings.max_header_bytes
        from app.runtime.web import app_with_storage

        return app_with_storage(settings, metrics, on_failure=server.stop)

    front = WakeApp(early, metrics, build, on_failure=server.stop)
    options = {**_SERVER, "forwarded_allow_ips": early.forwarded_allow_ips}
    code = server.run(front, sock, limits, options, front.listening, built=False)
    show_held_records()  # if it stopped before logging was set up, say why
    return code


def service_app(settings: Settings, on_failure: Callable[[], None]) -> Starlette:
    """The app `serve` runs when it loads its settings before it listens; in mock mode with
    Discord's side kept in-process, and the route that shows what it kept."""
    from app.runtime.web import create_app

    if not settings.mock_mode:
        return create_app(settings, on_failure=on_failure)
    from app.mock.routes import discord_in_process

    fake, routes = discord_in_process(settings)
    return create_app(settings, on_failure=on_failure, http_transport=fake, routes=routes)


def app_from_environment() -> Starlette:
    """Factory for `serve --workers N`: each worker process loads the same settings."""
    from app.observability.logs import configure_logging
    from app.settings import load_settings

    settings = load_settings(os.environ.get("COACH_PLANS_CONFIG"))
    configure_logging(settings)
    # Without its database a worker cannot serve: it stops, as a lone server does.
    return service_app(settings, on_failure=lambda: os.kill(os.getpid(), signal.SIGTERM))


def _serve_settings(args: argparse.Namespace) -> Settings:
    return settings_or_exit(
        args,
        serving=True,
        mock_mode=True if args.mock else None,
        api_host=args.host,
        api_port=args.port,
    )


def _listen_or_exit(host: str, port: int) -> socket.socket:
    """Bind the address before anything else starts: when it is taken, one line and status 1."""
    from app.runtime.server import listen

    try:
        return listen(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"coach-plans: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        raise SystemExit(EXIT_LISTEN) from None


# uvicorn's options for both ways of serving. Forwarded headers (X-Forwarded-For and -Proto)
# are believed from FORWARDED_ALLOW_IPS alone.
_SERVER: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": True,
    "timeout_graceful_shutdown": 20,
    "ws": "none",  # no websockets here: their library stays unloaded, for a faster start
}


def _stop_on_signals() -> None:
    # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown; a no-op handler here turns
    # that into a clean exit 0 once in-flight requests have finished.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


class _Server:
    """One uvicorn server in this process, and the status `serve` exits with."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.code = 0

    def stop(self) -> None:
        """Nothing to serve: the database cannot be opened, the settings are bad (status 2), or
        a woken server's app could not be built."""
        if self.code == 0:
            self.code = 1
        if self.server is not None:
            self.server.should_exit = True

    def run(
        self,
        app: ASGIApp,
        sock: socket.socket,
        limits: ConnectionLimits,
        options: dict[str, Any],
        listening: Callable[[], None],
        *,
        built: bool = True,
    ) -> int:
        from app.runtime.server import AnnouncingServer, ServerConfig

        _stop_on_signals()
        config = ServerConfig(app, limits, **options)
        self.server = AnnouncingServer(config, listening, built=built)
        try:
            self.server.run(sockets=[sock])
        except SystemExit as exc:  # the start failed; it was logged why
            if self.code == 0:  # not already said by `stop` (the database cannot be opened)
                self.code = exc.code if isinstance(exc.code, int) and exc.code else 1
        finally:
            sock.close()
        if self.code == 1:
            log.error("stopped: nothing to serve (the error above says why)")
        elif self.code == 0:
            log.info("stopped")
        return self.code


def _export_for_workers(args: argparse.Namespace, settings: Settings) -> None:
    if args.config:
        os.environ["COACH_PLANS_CONFIG"] = str(args.config)
    if settings.mock_mode:
        os.environ["MOCK_MODE"] = "true"


def _end_past_the_bucket_client(code: int) -> NoReturn:
    """End a finished `charts migrate` before the interpreter's finalization. The bucket client
    (obstore) keeps a Tokio runtime whose threads are never told to stop; one still running while
    Python tears itself down can abort the process (SIGABRT) after all the work was done and
    reported, as a test run here showed once. Everything is written and flushed first."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action in ("serve", "charts", "export", "import"):
        # Plans, charts, logs and the development key are the service's alone: files it makes
        # are 0600 and folders 0700, SQLite's -wal and -shm files included.
        os.umask(0o077)
    if args.action == "grade":
        from app.observability.logs import configure_logging
        from app.outcomes import grading

        settings = settings_or_exit(args, mock_mode=True)
        configure_logging(settings.model_copy(update={"log_file": ""}))
        return grading.run(settings, args.date, args.since)
    if args.action == "serve":
        # Nothing made while starting is garbage: the collector would only slow the imports
        # that stand between a woken machine and its first answer. It is turned back on once
        # the app is built: when the server listens, or a woken server's build is done
        # (app/runtime/server.py, settle_collector). The figure: docs/performance.md ("gc off
        # while starting, then frozen").
        gc.disable()
        return serve(args)
    if args.action == "send":
        from app.mock.send import send

        settings = settings_or_exit(args, mock_mode=True)
        return send(args, settings)
    if args.action == "charts":
        from app.charts.migrate import run
        from app.observability.logs import configure_logging

        settings = settings_or_exit(args, mock_mode=True)
        # A one-off command logs to the terminal only: run as root on a machine (fly ssh), it
        # must not write, or rotate, the service's own log file.
        configure_logging(settings.model_copy(update={"log_file": ""}))
        _end_past_the_bucket_client(run(settings))
    if args.action in ("export", "import"):
        from app.moving.command import run_moving

        # Like `charts migrate`: a tool needs no Discord key, and logs to the terminal only.
        return run_moving(args, settings_or_exit(args, mock_mode=True))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

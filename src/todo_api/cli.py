"""The `todo-api` command: serve, migrate, healthcheck."""

import argparse
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from types import FrameType

from pydantic import ValidationError

from todo_api import __version__
from todo_api.config import Settings

HEALTHCHECK_TIMEOUT_SECONDS = 3.0
EXIT_USAGE = 2


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from todo_api.app import create_app
    from todo_api.db import prepare_database_location
    from todo_api.logs import logging_config

    updates = {
        name: value
        for name in ("host", "port", "workers")
        if (value := getattr(args, name)) is not None
    }
    settings = settings.model_copy(update=updates)
    # Uvicorn drains requests on SIGTERM, then re-raises the signal to the previous handler:
    # make that handler a clean exit, so a stop (docker stop, Kubernetes) reports status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    prepare_database_location(settings.database_url)  # a clear message, not a startup traceback
    # Several processes (or reload) need an import string: each worker builds its own app,
    # reading the same TODO_* environment; one process can take the app object directly.
    single = settings.workers == 1 and not args.reload
    uvicorn.run(
        create_app(settings) if single else "todo_api.app:create_app",
        factory=not single,
        host=settings.host,
        port=settings.port,
        workers=None if single else settings.workers,
        reload=args.reload,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        log_config=logging_config(settings.log_level, settings.log_format),
        access_log=False,  # our middleware logs each request with its route and id
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.graceful_timeout,
        server_header=False,
    )
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from todo_api.db import create_engine
    from todo_api.migrate import head_revision, upgrade_to_head

    engine = create_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
    print(f"database at revision {head_revision()}")
    return 0


def _healthcheck(settings: Settings, args: argparse.Namespace) -> int:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = args.url or f"http://{host}:{settings.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTHCHECK_TIMEOUT_SECONDS) as response:  # noqa: S310
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    print(f"{'healthy' if healthy else 'unhealthy'}: {url}")
    return 0 if healthy else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="todo-api", description="A todo-list API service. Settings come from TODO_* variables."
    )
    parser.add_argument("--version", action="version", version=f"todo-api {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="apply migrations and serve the API")
    serve.add_argument("--host", help="address to listen on (TODO_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (TODO_PORT)")
    serve.add_argument("--workers", type=int, help="worker processes (TODO_WORKERS)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations and exit")
    migrate.set_defaults(run=_migrate)

    healthcheck = commands.add_parser(
        "healthcheck", help="exit 0 if the local server's /health answers (for HEALTHCHECK)"
    )
    healthcheck.add_argument("--url", help="health URL (default: this host's TODO_PORT)")
    healthcheck.set_defaults(run=_healthcheck)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, ValueError) as error:
        print(f"todo-api: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_USAGE
    from todo_api.db import DatabaseLocationError

    try:
        result: int = args.run(settings, args)
    except DatabaseLocationError as error:
        print(f"todo-api: {error}", file=sys.stderr)
        return 1
    return result

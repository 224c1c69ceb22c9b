"""The servers the benchmark compares, all on uvicorn + uvloop + httptools, one worker.

Every contender runs with the access log off and warnings-only logging, so the comparison is
about the code that answers a request, not about how each one logs it. todo-api runs twice:
as deployed (TODO_AUTH=required, a bearer token on every request) and anonymous
(TODO_AUTH=disabled), so the cost of authentication is measured in the same run; and, as
deployed, on PostgreSQL (the machine's server: it shares the CPUs with wrk and the servers).
"""

import secrets
import sys
from pathlib import Path

from bench.servers import HOST, Contender, free_port

OURS = "todo-api"
ANONYMOUS = "todo-api-anon"
POSTGRES = "todo-api-pg"
FLOOR = "floor"
BARE = "bare-asgi"
TUTORIAL = "tutorial"
NAMES = (OURS, ANONYMOUS, POSTGRES, FLOOR, BARE, TUTORIAL)

_FLAGS = (  # the same stack todo-api serves on
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--workers",
    "1",
    "--no-access-log",
    "--log-level",
    "warning",
)


def todo_api(database_dir: Path, *, authenticated: bool = True, workers: int = 1) -> Contender:
    """todo-api started as the container starts it, on a fresh SQLite file (WAL by default):
    with accounts on (a user and a token are made before seeding), or anonymous. One worker
    process unless `workers` says otherwise (`--todo-workers`: the scaling check)."""
    port = free_port()
    name = OURS if authenticated else ANONYMOUS
    return Contender(
        name=name,
        summary=f"{name}: `todo-api serve`, SQLite (WAL) in a temporary directory, "
        + (
            "TODO_AUTH=required, a bearer token per request"
            if authenticated
            else "TODO_AUTH=disabled"
        ),
        argv=(sys.executable, "-m", "todo_api", "serve"),
        port=port,
        env={
            "TODO_HOST": HOST,
            "TODO_PORT": str(port),
            "TODO_WORKERS": str(workers),
            "TODO_ACCESS_LOG": "false",
            "TODO_LOG_LEVEL": "error",  # TODO_AUTH=disabled warns at start-up; nothing to see
            "TODO_AUTH": "required" if authenticated else "disabled",
            # On, so its cost is in the figures, but out of reach: wrk is one client.
            "TODO_RATE_LIMIT": "1000000000/minute",
            "TODO_DATABASE_URL": f"sqlite:///{database_dir / f'{name}.db'}",
        },
        holds_data=True,
        needs_account=authenticated,
    )


def todo_api_postgres(database_url: str, *, workers: int = 1) -> Contender:
    """todo-api as deployed (accounts on), on an empty PostgreSQL database it migrates."""
    port = free_port()
    sqlite = todo_api(Path("."), workers=workers)
    return Contender(
        name=POSTGRES,
        summary=f"{POSTGRES}: `todo-api serve`, PostgreSQL (the machine's server, pool of 10),"
        " TODO_AUTH=required, a bearer token per request",
        argv=sqlite.argv,
        port=port,
        env={
            **sqlite.env,
            "TODO_PORT": str(port),
            "TODO_DATABASE_URL": database_url,
            "TODO_SECRET_KEY": "bench-" + secrets.token_urlsafe(32),
        },
        holds_data=True,
        needs_account=True,
    )


def references() -> list[Contender]:
    """The yardsticks: framework floor, bare-ASGI ceiling, and the tutorial app to beat."""
    return [
        _uvicorn(FLOOR, "bench.floor_app:app", "minimal FastAPI app, todos from memory"),
        _uvicorn(BARE, "bench.bare_asgi:app", "raw ASGI callable, fixed bytes (Python ceiling)"),
        _uvicorn(
            TUTORIAL,
            "bench.tutorial_app:app",
            "typical tutorial app: def handlers, list of models, linear scan",
            ready_path="/todos",
            holds_data=True,
        ),
    ]


def _uvicorn(
    name: str, app: str, summary: str, *, ready_path: str = "/health", holds_data: bool = False
) -> Contender:
    port = free_port()
    return Contender(
        name=name,
        summary=summary,
        argv=(sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *_FLAGS),
        port=port,
        ready_path=ready_path,
        holds_data=holds_data,
    )

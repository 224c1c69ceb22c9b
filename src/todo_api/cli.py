"""The `todo-api` command: serve, migrate, healthcheck, export, import, copy-data, backup,
restore, user, token."""

import argparse
import asyncio
import contextlib
import logging
import logging.config
import os
import signal
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, Self

from pydantic import ValidationError

from todo_api import __version__
from todo_api.config import METRICS_MULTIPROCESS_VARIABLE as MULTIPROCESS_DIR_VARIABLE
from todo_api.config import Settings
from todo_api.domain import clock

if TYPE_CHECKING:
    from fastapi import FastAPI

    from todo_api.connection_limits import ConnectionLimits
    from todo_api.db import Database

HEALTHCHECK_TIMEOUT_SECONDS = 3.0
EXIT_USAGE = 2
EXIT_INVALID_DOCUMENT = 1
STANDARD_STREAM = "-"
CALENDAR_EXTENSIONS = (".ics", ".ical", ".icalendar")
READ_CHUNK_BYTES = 1024 * 1024
SERVED_APP_FACTORY = "todo_api.app:create_served_app"  # what each of several workers calls


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _served_app(settings: Settings) -> "FastAPI":
    # Imported only here: with several workers each imports the app itself, and this process,
    # which only supervises them, would spend ~1 s of every start importing it for nothing.
    from todo_api.app import create_served_app

    return create_served_app(settings)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api.connection_limits import ConnectionLimits, automatic_connection_cap
    from todo_api.db import prepare_database_location
    from todo_api.db_faults import check_usable
    from todo_api.logs import LOGGER_NAME, logging_config

    updates = {
        name: value
        for name in ("host", "port", "workers")
        if (value := getattr(args, name)) is not None
    }
    settings = settings.model_copy(update=updates)
    # Workers build their own Settings from the environment: give them the options too.
    os.environ.update({f"TODO_{name.upper()}": str(value) for name, value in updates.items()})
    log_config = logging_config(settings.log_level, settings.log_format)
    if settings.allowed_host_names() is None and not settings.allowed_hosts:
        # Logged as uvicorn will log (a JSON line under TODO_LOG_FORMAT=json), once, here.
        logging.config.dictConfig(log_config)
        logging.getLogger(LOGGER_NAME).warning(
            "bound to %s: answering requests for any Host; set TODO_ALLOWED_HOSTS to the "
            "names clients use (README, Configuration)",
            settings.host,
        )
    limits = ConnectionLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_connections=settings.max_connections or automatic_connection_cap(),
    )
    # Uvicorn drains requests on SIGTERM, then re-raises the signal to the previous handler:
    # make that handler a clean exit, so a stop (docker stop, Kubernetes) reports status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # One clear line for an unusable database, not a traceback from the first worker's start-up.
    prepare_database_location(settings.database_url)
    check_usable(settings.database_url)
    # Several processes (or reload) need an import string: each worker builds its own app,
    # reading the same TODO_* environment; one process can take the app object directly.
    single = settings.workers == 1 and not args.reload
    with _metrics_storage(settings.workers):
        if settings.metrics_port is not None:
            _serve_metrics(settings.host, settings.metrics_port)
        _run_uvicorn(settings, args, single, limits, log_config)
    return 0


@contextlib.contextmanager
def _metrics_storage(workers: int) -> Iterator[None]:
    """With several workers, a directory where each writes its metrics (prometheus_client's
    multiprocess mode), so /metrics sums them all; removed when the server stops. Set before
    anything imports prometheus_client; an operator's own PROMETHEUS_MULTIPROC_DIR is kept."""
    if workers == 1 or os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="todo-api-metrics-") as folder:
        os.environ[MULTIPROCESS_DIR_VARIABLE] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR_VARIABLE]


def _serve_metrics(host: str, port: int) -> None:
    """GET /metrics on `port`, from a thread of this process (the supervisor, with several
    workers: it reads every worker's files)."""
    from prometheus_client import start_http_server

    from todo_api import metrics

    start_http_server(port, addr=host, registry=metrics.exposition_registry())


def _run_uvicorn(
    settings: Settings,
    args: argparse.Namespace,
    single: bool,
    limits: "ConnectionLimits",
    log_config: dict[str, Any],
) -> None:
    import uvicorn

    from todo_api.connection_limits import limited_protocol

    uvicorn.run(
        _served_app(settings) if single else SERVED_APP_FACTORY,
        factory=not single,
        host=settings.host,
        port=settings.port,
        workers=None if single else settings.workers,
        reload=args.reload,
        loop="auto",  # uvloop when installed
        http=limited_protocol(limits),  # httptools, with header, time and connection limits
        log_config=log_config,
        access_log=False,  # our middleware logs each request with its route and id
        # Off unless a proxy is named: trusting nobody is the safe default, and the check costs
        # ~5% of a small request's time.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        timeout_graceful_shutdown=settings.graceful_timeout,
        server_header=False,
    )


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from todo_api.db import create_engine, pool_limits, prepare_database_location
    from todo_api.db_faults import check_usable
    from todo_api.migrate import head_revision, newer_revisions, upgrade_to_head

    prepare_database_location(settings.database_url)
    check_usable(settings.database_url)
    engine = create_engine(settings.database_url, pool_limits(settings))
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            newer = newer_revisions(connection)
    finally:
        engine.dispose()
    if newer:  # a rollback's init container: nothing to do, and nothing wrong
        revisions = ", ".join(sorted(newer))
        print(f"database at revision {revisions}, past this release's {head_revision()}")
    else:
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


# --- export and import: straight on the database, as the local user ---------------------------


def _document_format(args: argparse.Namespace) -> str:
    """--format, else the file's extension: .ics (.ical, .icalendar) is iCalendar, else JSON."""
    if args.format:
        format_name: str = args.format
        return format_name
    return "ics" if args.file.lower().endswith(CALENDAR_EXTENSIONS) else "json"


class ProgressBar(Protocol):
    """What the commands use of a tqdm bar (tqdm ships no type hints)."""

    def update(self, n: int = 1) -> object: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...


def _progress_bar(args: argparse.Namespace, **options: object) -> ProgressBar:
    from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

    # Progress goes to stderr, so `export -` can pipe the document; none when not on a terminal.
    hidden = args.quiet or not sys.stderr.isatty()
    bar: ProgressBar = tqdm(file=sys.stderr, disable=hidden, leave=False, **options)
    return bar


def _migrated_database(settings: Settings) -> "Database":
    from todo_api.db import open_database, pool_limits
    from todo_api.migrate import upgrade_to_head

    database = open_database(settings.database_url, pool_limits(settings))
    upgrade_to_head(database.engine)  # so export and import work on a fresh database too
    return database


def _owner_of_documents(database: "Database", args: argparse.Namespace) -> int | None:
    """The id of the account `--user` names (the local user, id 1, without it); None, with a
    message, when there is no such account."""
    from todo_api.repository import users
    from todo_api.tables import LOCAL_USER_ID

    user = asyncio.run(
        database.read(
            lambda connection: (
                users.find_user(connection, LOCAL_USER_ID)
                if args.user is None
                else users.find_by_username(connection, args.user)
            )
        )
    )
    if user is None:
        missing = "local user" if args.user is None else f"user {args.user!r}"
        print(f"todo-api: there is no {missing}; name an account with --user", file=sys.stderr)
        return None
    if not args.quiet:
        print(f"the lists and todos of {user.username} (id {user.id})", file=sys.stderr)
    return user.id


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api import export_document, ical

    chunks_of = (
        ical.calendar_chunks if _document_format(args) == "ics" else export_document.export_chunks
    )
    now = clock.now()
    to_stdout = args.file == STANDARD_STREAM
    # A file is written beside its destination and renamed once complete: a failed export
    # never leaves a truncated document under the name asked for.
    partial = None if to_stdout else Path(f"{args.file}.partial")
    database = _migrated_database(settings)
    owner_id = _owner_of_documents(database, args)
    if owner_id is None:
        database.close()
        return EXIT_USAGE
    try:
        with (
            _output(partial) as output,
            database.snapshot() as connection,
            _progress_bar(args, desc="exporting", unit=" todos") as bar,
        ):
            # Page by page, in one snapshot: memory stays a page whatever the account's size.
            for chunk in chunks_of(connection, owner_id, now, bar.update):
                output.write(chunk)
        if partial is not None:
            partial.replace(args.file)
    except OSError as error:
        print(f"todo-api: cannot write {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        database.close()
        if partial is not None:
            partial.unlink(missing_ok=True)
    if not to_stdout:
        print(f"exported to {args.file}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """The file at `path` opened for writing, or standard output when None."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with path.open("wb") as file:
        yield file


def _read_input(args: argparse.Namespace) -> bytes:
    """The whole input file (or stdin), with a progress bar in bytes."""
    if args.file == STANDARD_STREAM:
        stream, total = sys.stdin.buffer, None
    else:
        path = Path(args.file)
        stream, total = path.open("rb"), path.stat().st_size
    chunks = []
    with stream, _progress_bar(args, desc="reading", unit="B", unit_scale=True, total=total) as bar:
        while chunk := stream.read(READ_CHUNK_BYTES):
            chunks.append(chunk)
            bar.update(len(chunk))
    return b"".join(chunks)


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api import export_document, ical
    from todo_api.errors import AppError

    is_calendar = _document_format(args) == "ics"
    try:
        body = _read_input(args)
    except OSError as error:
        print(f"todo-api: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    # Validated whole before the database is even opened: an invalid file changes nothing.
    try:
        document = (
            ical.parse_calendar(body) if is_calendar else export_document.parse_document(body)
        )
    except AppError as error:
        print(f"todo-api: {args.file}: {error.title}; nothing was imported", file=sys.stderr)
        for item in error.errors:
            where = ".".join(str(part) for part in item["loc"][1:]) or "(document)"
            print(f"  {where}: {item['msg']}", file=sys.stderr)
        return EXIT_INVALID_DOCUMENT
    database = _migrated_database(settings)
    owner_id = _owner_of_documents(database, args)
    if owner_id is None:
        database.close()
        return EXIT_USAGE
    try:
        with _progress_bar(args, desc="importing", unit=" todos", total=len(document.todos)) as bar:
            result = asyncio.run(
                database.write(
                    lambda connection: export_document.import_document(
                        connection,
                        owner_id,
                        document,
                        clock.now(),
                        lists_by_name=is_calendar,
                        progress=bar.update,
                    ),
                    long=True,
                )
            )
    finally:
        database.close()
    print(f"imported {result.lists} new list(s) and {result.todos} todo(s) from {args.file}")
    return 0


def _copy_data(_settings: Settings, args: argparse.Namespace) -> int:
    from todo_api.database_copy import copy_data, count_rows

    total = count_rows(args.source)
    with _progress_bar(args, desc="copying", unit=" rows", total=total) as bar:
        copied = copy_data(args.source, args.target, bar.update)
    for table in copied:
        print(f"{table.name}: {table.rows} rows", file=sys.stderr)
    print(f"copied {sum(table.rows for table in copied)} rows; counts verified", file=sys.stderr)
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api.backup import backup

    backup(settings.database_url, Path(args.file))
    print(f"backed up to {args.file}", file=sys.stderr)
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api.backup import restore

    restore(settings.database_url, Path(args.file), force=args.force)
    print(f"restored from {args.file}", file=sys.stderr)
    return 0


# --- accounts: straight on the database (an operator's tools; docs/security.md) -----------------


def _read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    """From stdin (--password-stdin) or a prompt asked twice; never from argv, where any user
    of the machine can read it in the process list."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != password:
        raise _CommandError("the passwords differ")
    return password


class _CommandError(Exception):
    """A refusal the command prints as one line and exits 1 on."""


def _run_accounts(
    settings: Settings, work: Callable[["Database"], Coroutine[None, None, int]]
) -> int:
    from todo_api.errors import AppError

    database = _migrated_database(settings)
    try:
        return asyncio.run(work(database))
    except AppError as error:
        problems = "; ".join(f"{item['loc'][-1]} {item['msg']}" for item in error.errors)
        print(f"todo-api: {problems or error.detail}", file=sys.stderr)
        return 1
    finally:
        database.close()


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api import accounts
    from todo_api.domain.accounts import username_problem

    if (problem := username_problem(args.name)) is not None:
        print(f"todo-api: username {problem}", file=sys.stderr)
        return EXIT_USAGE
    password = _read_password(args)

    async def create(database: "Database") -> int:
        user = await accounts.register(database, args.name, password)
        print(f"created user {user.username} (id {user.id})")
        return 0

    return _run_accounts(settings, create)


def _user_list(settings: Settings, _args: argparse.Namespace) -> int:
    from todo_api.repository import users

    async def show(database: "Database") -> int:
        for user in await database.read(users.list_users):
            login = "" if user.password_hash else "  (no password: cannot log in)"
            print(f"{user.id}\t{user.username}\t{user.created_at:%Y-%m-%d}{login}")
        return 0

    return _run_accounts(settings, show)


def _user_delete(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api.repository import users

    async def delete(database: "Database") -> int:
        user = await database.read(lambda connection: users.get_by_username(connection, args.name))
        await database.write(lambda connection: users.delete_user(connection, user.id), long=True)
        print(f"deleted user {user.username} and all their data")
        return 0

    return _run_accounts(settings, delete)


def _user_set_password(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api import accounts
    from todo_api.domain.accounts import Caller
    from todo_api.repository import users

    password = _read_password(args, "New password: ")

    async def set_password(database: "Database") -> int:
        user = await database.read(lambda connection: users.get_by_username(connection, args.name))
        # A reset by the operator also ends every token and session: whoever had them is out.
        await accounts.change_password(
            database, user, password, revoke_others_than=Caller(user_id=user.id)
        )
        print(f"password of {user.username} set; their tokens and sessions are revoked")
        return 0

    return _run_accounts(settings, set_password)


def _user_adopt_local(settings: Settings, args: argparse.Namespace) -> int:
    from todo_api import accounts, passwords
    from todo_api.repository import users

    password = _read_password(args)

    async def adopt(database: "Database") -> int:
        accounts.check_new_password(password, args.name)
        password_hash = await asyncio.to_thread(passwords.hash_password, password)
        user = await database.write(
            lambda connection: users.adopt_local_user(connection, args.name, password_hash)
        )
        print(f"the local user's lists and todos now belong to {user.username} (id {user.id})")
        return 0

    return _run_accounts(settings, adopt)


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    import datetime as dt

    from todo_api import accounts
    from todo_api.domain.accounts import Scope
    from todo_api.repository import users

    days = args.expires_in_days or settings.token_default_days
    if not 1 <= days <= settings.token_max_days:
        print(
            f"todo-api: --expires-in-days must be 1 to {settings.token_max_days}", file=sys.stderr
        )
        return EXIT_USAGE
    scopes = frozenset({Scope.READ} if args.scope == "read" else {Scope.READ, Scope.WRITE})

    async def create(database: "Database") -> int:
        user = await database.read(lambda connection: users.get_by_username(connection, args.user))
        issued = await accounts.issue_token(
            database,
            user,
            name=args.name,
            scopes=scopes,
            expires_at=clock.now() + dt.timedelta(days=days),
        )
        # The secret alone on stdout (for `$(todo-api token create …)`); the rest on stderr.
        print(issued.secret)
        token = issued.token
        print(
            f"token {token.id} for {user.username}, scopes {' '.join(sorted(token.scopes))}, "
            f"expires {token.expires_at:%Y-%m-%d}; shown only now",
            file=sys.stderr,
        )
        return 0

    return _run_accounts(settings, create)


def _add_account_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    user = commands.add_parser("user", help="manage accounts (create, list, delete, ...)")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    def with_password(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from stdin's first line",
        )
        return command

    create = with_password(user_commands.add_parser("create", help="create an account"))
    create.add_argument("name", metavar="NAME")
    create.set_defaults(run=_user_create)
    listing = user_commands.add_parser("list", help="list the accounts")
    listing.set_defaults(run=_user_list)
    delete = user_commands.add_parser("delete", help="delete an account and all its data")
    delete.add_argument("name", metavar="NAME")
    delete.set_defaults(run=_user_delete)
    set_password = with_password(
        user_commands.add_parser(
            "set-password", help="set a password; revokes the user's tokens and sessions"
        )
    )
    set_password.add_argument("name", metavar="NAME")
    set_password.set_defaults(run=_user_set_password)
    adopt = with_password(
        user_commands.add_parser(
            "adopt-local",
            help="turn the implicit local user (data from before accounts) into account NAME",
        )
    )
    adopt.add_argument("name", metavar="NAME")
    adopt.set_defaults(run=_user_adopt_local)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token_commands.add_parser(
        "create", help="print a new API token for USER (the secret goes to stdout)"
    )
    token_create.add_argument("user", metavar="USER")
    token_create.add_argument("--name", help="a label, to tell tokens apart")
    token_create.add_argument(
        "--scope",
        choices=["read", "write"],
        default="write",
        help="read: safe methods only; write (default): read and write",
    )
    token_create.add_argument(
        "--expires-in-days", type=int, help="lifetime in days (default TODO_TOKEN_DEFAULT_DAYS)"
    )
    token_create.set_defaults(run=_token_create)


def _add_document_options(command: argparse.ArgumentParser, file_help: str) -> None:
    command.add_argument("file", metavar="FILE", help=file_help)
    command.add_argument(
        "--format",
        choices=["json", "ics"],
        help="json (the todo-api document) or ics (iCalendar); default: by FILE's extension",
    )
    command.add_argument(
        "--user",
        metavar="NAME",
        help="whose lists and todos (default: the local user, id 1: TODO_AUTH=disabled's "
        "user, or the account that adopted it)",
    )
    command.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


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

    export = commands.add_parser(
        "export",
        help="write all lists and todos to a file (JSON or iCalendar)",
        description="Export one account's lists and todos, --user NAME's or the local user's "
        "(docs/import-export.md).",
    )
    _add_document_options(export, "file to write; - for stdout")
    export.set_defaults(run=_export)

    import_ = commands.add_parser(
        "import",
        help="add the lists and todos of an export file, all or nothing",
        description="Import an export (JSON) or a calendar's VTODOs, appending to one "
        "account's data (--user NAME, or the local user) in one transaction; exit 1 and "
        "change nothing if the file is invalid.",
    )
    _add_document_options(import_, "file to read; - for stdin")
    import_.set_defaults(run=_import)

    copy = commands.add_parser(
        "copy-data",
        help="copy every row to a new database (SQLite to PostgreSQL, or back)",
        description="Copy a whole deployment, ids, versions and timestamps kept, into a new "
        "database (migrated first; refused unless empty), in one transaction; the row counts "
        "are verified (docs/postgresql.md#moving-data-between-databases). Stop the service, "
        "or the copy misses what it writes meanwhile.",
    )
    copy.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="database to read"
    )
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="database to fill")
    copy.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    copy.set_defaults(run=_copy_data)

    backup = commands.add_parser(
        "backup",
        help="copy the database to a file, safely while the server runs",
        description="Copy the SQLite database with SQLite's online backup (docs/operations.md).",
    )
    backup.add_argument("file", metavar="FILE", help="file to write (replaced once complete)")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser(
        "restore",
        help="replace the database with a verified backup (service stopped)",
        description="Check FILE (integrity, a todo-api database), then copy it over the "
        "database. Stop the service first (docs/operations.md#restore).",
    )
    restore.add_argument("file", metavar="FILE", help="a file written by todo-api backup")
    restore.add_argument(
        "--force", action="store_true", help="replace an existing database with the backup"
    )
    restore.set_defaults(run=_restore)
    _add_account_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, ValueError) as error:
        print(f"todo-api: invalid configuration:\n{error}", file=sys.stderr)
        return EXIT_USAGE
    from todo_api.db_faults import DatabaseUnusable
    from todo_api.tracing import TracingUnavailable

    try:
        result: int = args.run(settings, args)
    except (DatabaseUnusable, TracingUnavailable, _CommandError) as error:
        print(f"todo-api: {error}", file=sys.stderr)
        return 1
    return result

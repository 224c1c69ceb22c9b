"""The database seam: engine, SQLite connection pragmas, and the units of work routes run.

One concurrency model: route handlers are `async def`; the data work of a request is one
synchronous function of a `Connection` (a *unit of work*) handed to `Database.read` or
`Database.write`. On SQLite a local file answers in microseconds, so the unit runs inline on the
event loop over the process's one connection — a thread hop would cost more than the query.
Writes take SQLite's write lock up front (`BEGIN IMMEDIATE`) so concurrent writers, even from
other processes, queue on `busy_timeout` instead of failing with "database is locked". That wait
is on the event loop too: while it lasts, the process answers nothing else (docs/performance.md).
Statements on hot paths bypass SQLAlchemy's execution layer: see performance/driver_statements.py.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from todo_api.performance.group_commit import GroupCommit

T = TypeVar("T")
UnitOfWork = Callable[[Connection], T]

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "todo_begin"  # execution option naming the BEGIN statement of the next transaction


def sqlite_path(database_url: str) -> Path | None:
    """The file behind an SQLite URL, or None for an in-memory database."""
    path = sa.make_url(database_url).database
    return Path(path) if path and path != ":memory:" else None


class DatabaseLocationError(Exception):
    """The database file's directory cannot be created or written (a volume's ownership, say)."""


def prepare_database_location(database_url: str) -> None:
    """Create the SQLite file's directory, or explain why it cannot be used."""
    path = sqlite_path(database_url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseLocationError(
            f"cannot create {path.parent} for the database: {error.strerror}"
        ) from None
    # SQLite also writes -wal and -shm files beside the database, so the directory must be writable.
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseLocationError(
            f"{path.parent} is not writable by uid {os.getuid()}; the database and its -wal and "
            "-shm files live there (with Docker, give the volume to uid 10001: docs/docker.md)"
        )


def create_engine(database_url: str) -> Engine:
    """An engine whose connections are set up for safe concurrent use of one SQLite file."""
    prepare_database_location(database_url)
    engine = sa.create_engine(database_url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's own transaction handling is not usable here).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of this process (kill -9, OOM), but an
        # OS crash or power loss may lose the last commits; FULL would fsync each one (~1-5 ms).
        # No setting changes it: docs/performance.md#durability.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        statement = connection.get_execution_options().get(_BEGIN_OPTION)
        if statement:
            connection.exec_driver_sql(statement)

    return engine


class Database:
    """The process's access to the database: runs units of work in transactions."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = create_engine(database_url)
        self._connection: Connection | None = None
        self._group_commit = GroupCommit(self._connect)

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        return self._connection

    async def read(self, work: UnitOfWork[T]) -> T:
        """Run a read-only unit; each statement sees committed data (SQLite autocommit)."""
        connection = self._connect()
        try:
            return work(connection)
        finally:
            connection.rollback()  # ends SQLAlchemy's bookkeeping; no BEGIN was sent

    async def write(self, work: UnitOfWork[T]) -> T:
        """Run a unit atomically: all of it commits, or none of it does.

        Units arriving together share one transaction and one commit (see
        performance/group_commit.py); each still succeeds or fails on its own.
        """
        return await self._group_commit.submit(work)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()

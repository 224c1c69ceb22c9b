"""The database seam: engine, SQLite connection pragmas, and the units of work routes run.

One concurrency model: route handlers are `async def`; the data work of a request is one
synchronous function of a `Connection` (a *unit of work*) handed to `Database.read`,
`Database.read_off_loop` or `Database.write`, and nothing that can wait runs on the event loop
(see `Database`). Writes take SQLite's write lock up front (`BEGIN IMMEDIATE`): on the event loop
only when it is free at once, else on the writer thread, so concurrent writers, even from other
processes, queue on `busy_timeout` there; one that waits longer than that gets a 503 problem with
Retry-After, never "database is locked" as a 500.
Statements on hot paths bypass SQLAlchemy's execution layer: see performance/driver_statements.py.

PostgreSQL (db_postgres.py) implements the same methods without the SQLite machinery:
`open_database` picks the implementation from the URL, so routes do not care which it is.
"""

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from todo_api import metrics, tracing
from todo_api.config import Settings
from todo_api.db_faults import (
    MIN_FREE_BYTES,
    DatabaseFile,
    DatabaseUnusable,
    create_private_file,
    sqlite_path,
    translated,
)
from todo_api.db_postgres import (
    PoolLimits,
    PostgresDatabase,
    create_postgres_engine,
    is_postgres_url,
)
from todo_api.db_writer import GroupCommit
from todo_api.readiness import migration_not_ready_because
from todo_api.snapshot_stream import stream_off_loop

T = TypeVar("T")
UnitOfWork = Callable[[Connection], T]

# How long the writer thread waits for another process's write lock before answering 503.
BUSY_TIMEOUT_MS = 10_000
# A read in WAL mode waits for no lock but in rare recovery moments; it runs on the event loop.
READ_BUSY_TIMEOUT_MS = 50
BEGIN_OPTION = "todo_begin"  # execution option naming the BEGIN statement of the next transaction


class DatabaseLocationError(DatabaseUnusable):
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
    try:
        create_private_file(path)
    except OSError as error:
        raise DatabaseLocationError(f"cannot create {path}: {error.strerror}") from None


def pool_limits(settings: Settings) -> PoolLimits:
    """The PostgreSQL pool's bounds from the settings (SQLite has no pool to bound)."""
    return PoolLimits(
        size=settings.db_pool_size,
        timeout_seconds=settings.db_pool_timeout,
        statement_timeout_seconds=settings.db_statement_timeout,
    )


def open_database(database_url: str, limits: PoolLimits | None = None) -> "Database":
    """The database the URL names: SQLite (`SqliteDatabase`) or PostgreSQL (`PostgresDatabase`)."""
    if is_postgres_url(database_url):
        return PostgresDatabase(database_url, limits)
    return SqliteDatabase(database_url)


def create_engine(database_url: str, limits: PoolLimits | None = None) -> Engine:
    """An engine for the URL: PostgreSQL's pool (db_postgres.py), or SQLite's set-up below."""
    if is_postgres_url(database_url):
        return create_postgres_engine(database_url, limits)
    return create_sqlite_engine(database_url)


def create_sqlite_engine(database_url: str) -> Engine:
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
        statement = connection.get_execution_options().get(BEGIN_OPTION)
        if statement:
            connection.exec_driver_sql(statement)

    return engine


class SqliteDatabase:
    """The process's access to an SQLite database: runs units of work in transactions.

    Nothing here waits inside the event loop. Reads run inline on the loop's own connection:
    in WAL mode a reader never waits for a writer, and a point read costs less than a thread
    hop. A write runs inline too when nothing can make it wait (the write lock is free at once,
    the writer thread idle, the work not long); otherwise on the writer thread (db_writer.py),
    where waiting for another process's write lock stalls only the writes queued behind it.
    Long reads (exports) run on a thread of their own with `read_off_loop`.
    """

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = create_sqlite_engine(database_url)
        self.file = DatabaseFile(database_url)
        self._connection: Connection | None = None
        self._group_commit = GroupCommit(self.engine.connect, check=self.file.check, inline=True)
        self._connect()  # creates the file if it is new, so its identity can be noted
        self.file.remember()

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
            # Should a read ever meet a lock (WAL recovery), it must not hold the loop long.
            self._connection.exec_driver_sql(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
            self._connection.rollback()
        return self._connection

    async def read(self, work: UnitOfWork[T]) -> T:
        """Run a short read-only unit; each statement sees committed data (SQLite autocommit)."""
        connection = self._connect()
        if tracing.tracer is not None:  # tested here: off, a point read pays nothing more
            work = tracing.traced(work, "db.read")
        try:
            return work(connection)
        except sa.exc.OperationalError as error:
            self.file.check()  # a read failing because the file or its log went: say that
            raise translated(error) from error
        finally:
            connection.rollback()  # ends SQLAlchemy's bookkeeping; no BEGIN was sent

    async def not_ready_because(self, migrated: UnitOfWork[bool]) -> str | None:
        """Why the service should get no traffic now, or None when it is ready."""
        reason = await migration_not_ready_because(self._read_this_file, migrated)
        if reason is not None:
            return reason
        free = self.file.free_bytes()
        if free is not None and free < MIN_FREE_BYTES:
            return f"The disk holding the database is full ({free} bytes free)."
        return None

    async def _read_this_file(self, work: UnitOfWork[T]) -> T:
        """A read, refused when the path no longer holds the file this process opened."""
        self.file.check()
        return await self.read(work)

    async def read_off_loop(self, work: UnitOfWork[T]) -> T:
        """Run a long read-only unit on a worker thread, in one snapshot."""
        return await asyncio.to_thread(self._read_in_snapshot, work)

    def _read_in_snapshot(self, work: UnitOfWork[T]) -> T:
        with self.snapshot() as connection:
            return tracing.traced(work, "db.read_snapshot")(connection)

    def stream_off_loop(self, work: Callable[[Connection], Generator[T]]) -> AsyncGenerator[T]:
        """What `work` yields, produced on a thread of its own in one snapshot (an export):
        a few chunks ahead of the consumer, however many there are (snapshot_stream.py)."""
        return stream_off_loop(self.snapshot, work)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection in one read transaction: every statement sees the same committed state.

        In WAL mode it blocks no writer; while it lasts, a checkpoint cannot pass it (the WAL
        grows), so long holders are bounded (snapshot_stream.STALL_SECONDS).
        """
        started = time.perf_counter()
        with self.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN")
            try:
                yield connection
            except sa.exc.OperationalError as error:
                raise translated(error) from error
            finally:
                connection.rollback()  # the driver is in the BEGIN above: this ends it
                metrics.SNAPSHOT.observe(time.perf_counter() - started)

    async def write(self, work: UnitOfWork[T], *, long: bool = False) -> T:
        """Run a unit atomically: all of it commits, or none of it does.

        Units waiting together share one transaction and one commit (see db_writer.py), on the
        event loop when SQLite's write lock is free at once and the writer thread idle, else on
        the writer thread; each still succeeds or fails on its own. Mark work that may run long
        (a bulk change, an import, a cascade) `long`: it always runs on the writer thread.
        """
        try:
            if tracing.tracer is not None:
                work = tracing.traced(work, "db.write")
            return await self._group_commit.submit(work, long=long)
        except sa.exc.OperationalError as error:
            raise translated(error) from error
        except sqlite3.OperationalError as error:  # from a driver statement
            raise translated(error) from error

    def close(self) -> None:
        self._group_commit.close()
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()


# What routes and commands hold: either implementation, the same methods.
Database: TypeAlias = SqliteDatabase | PostgresDatabase

"""PostgreSQL behind the same seam as SQLite: units of work on a pool of threads, never the loop.

`Database` (db.py) is the SQLite implementation, whose speed machinery (reads inline on the loop,
the writer thread's group commit, driver statements, the search-index queue) exists because of
how SQLite locks. On PostgreSQL none of that applies: any statement may wait (a row lock, a slow
plan, a restarting server), so every unit runs on a thread of `PostgresDatabase`'s own pool, one
pooled connection per thread, through plain SQLAlchemy Core (psycopg 3; docs/postgresql.md has
the measurement behind the choice). A unit that waits holds one thread and one connection; the
event loop and the other requests go on.

Transactions are REPEATABLE READ: a unit sees one snapshot, and a write that meets a row changed
since that snapshot fails with a serialization error instead of silently missing it (an If-Match
compare-and-set must see the version it replaces). Such a unit is rolled back and run again, like
a unit that lost a deadlock or one that found an Idempotency-Key stored by a concurrent request
(`AppError.retry_in_new_transaction`): it then reads the new state and answers as it would have
in turn, as it would on SQLite, where writes are serial.
"""

import asyncio
import contextlib
import contextvars
import random
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from todo_api import metrics, tracing
from todo_api.errors import AppError, DatabaseBusy, DatabaseUnavailable
from todo_api.snapshot_stream import stream_off_loop

T = TypeVar("T")

DRIVER = "postgresql+psycopg"
SYSTEM = "postgresql"  # OpenTelemetry's db.system.name
URL_SCHEMES = ("postgresql", "postgres", DRIVER)
ISOLATION_LEVEL = "REPEATABLE READ"
# libpq's own default is to wait for a connection as long as the network does: bound it, so a
# vanished server is a 503 within seconds (a connect_timeout in the URL wins).
CONNECT_TIMEOUT_SECONDS = 3
APPLICATION_NAME = "todo-api"
# SQLSTATEs after which the whole unit is run again: serialization failure, deadlock detected.
RETRIED_STATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 8
RETRY_BACKOFF_SECONDS = 0.002  # times the attempt, jittered: the loser lets the winner commit


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """TODO_DB_POOL_SIZE, TODO_DB_POOL_TIMEOUT and TODO_DB_STATEMENT_TIMEOUT (config.py)."""

    size: int = 10
    timeout_seconds: float = 5.0
    statement_timeout_seconds: float = 30.0


def is_postgres_url(database_url: str) -> bool:
    return sa.make_url(database_url).drivername in URL_SCHEMES


def engine_url(database_url: str) -> sa.URL:
    """The URL for SQLAlchemy: psycopg 3 as the driver, libpq's parameters kept as given."""
    return sa.make_url(database_url).set(drivername=DRIVER)


def create_postgres_engine(database_url: str, limits: PoolLimits | None = None) -> Engine:
    """A bounded pool of psycopg connections in UTC, each statement bounded in time.

    `pool_pre_ping` checks a connection as it leaves the pool (one round trip), so after the
    server restarts the first request reconnects instead of failing on a dead socket.
    """
    limits = limits or PoolLimits()
    url = engine_url(database_url)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if "application_name" not in url.query:
        connect_args["application_name"] = APPLICATION_NAME
    engine = sa.create_engine(
        url,
        pool_size=limits.size,
        max_overflow=0,
        pool_timeout=limits.timeout_seconds,
        pool_pre_ping=True,
        isolation_level=ISOLATION_LEVEL,
        connect_args=connect_args,
    )
    statement_timeout_ms = max(1, round(limits.statement_timeout_seconds * 1000))

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            # tables.UTCDateTime binds naive UTC values: the session must read them as UTC.
            cursor.execute("SET TIME ZONE 'UTC'")
            cursor.execute(f"SET statement_timeout = {statement_timeout_ms}")
        dbapi_connection.commit()

    return engine


def unreachable_because(database_url: str) -> str | None:
    """Why the server cannot be used (one line for an operator, no password), or None."""
    url = engine_url(database_url)
    timeout = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=timeout)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot use {url.render_as_string(hide_password=True)}: {reason}"
    finally:
        engine.dispose()
    return None


def translated(error: Exception) -> Exception:
    """The AppError a PostgreSQL failure means for a client, or the error itself."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection came free in time
        return DatabaseUnavailable("Every database connection is busy; nothing was changed.")
    if isinstance(error, sa.exc.DBAPIError):
        state = getattr(error.orig, "sqlstate", None)
        if state == "57014":  # query_canceled: statement_timeout, a lock waited on too long
            return DatabaseUnavailable("The database did not answer in time; nothing was changed.")
        if state in RETRIED_STATES:  # lost to concurrent writers every time it was run
            return DatabaseBusy()
        if error.connection_invalidated or isinstance(error, sa.exc.OperationalError):
            return DatabaseUnavailable("The database cannot be reached; nothing was changed.")
    return error


def _state_of(error: BaseException) -> str | None:
    if isinstance(error, sa.exc.DBAPIError):
        state: str | None = getattr(error.orig, "sqlstate", None)
        return state
    return None


class PostgresDatabase:
    """The process's access to PostgreSQL: the same methods as db.Database, all off the loop."""

    def __init__(self, database_url: str, limits: PoolLimits | None = None) -> None:
        self._limits = limits = limits or PoolLimits()
        self.url = database_url
        self.engine = create_postgres_engine(database_url, limits)
        # One thread per pooled connection, and a unit is handed to a thread only when one is
        # free: the wait for a connection happens here, on the loop, bounded by the pool timeout,
        # instead of in an unbounded queue of the executor (streams take connections of their
        # own from the pool, and wait for one at most the same timeout there).
        self._threads = ThreadPoolExecutor(limits.size, thread_name_prefix="todo-api-db")
        self._free_threads = asyncio.Semaphore(limits.size)

    async def _off_loop(self, function: Callable[[Any], T], work: Any) -> T:
        if self._free_threads.locked():
            try:
                await asyncio.wait_for(self._free_threads.acquire(), self._limits.timeout_seconds)
            except TimeoutError:
                raise DatabaseUnavailable(
                    "Every database connection is busy; nothing was changed. Retry shortly."
                ) from None
        else:
            await self._free_threads.acquire()  # free: returns at once
        loop = asyncio.get_running_loop()

        def release(_done: object) -> None:
            # When the thread is done, not when the caller stops waiting (a client gone away).
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._free_threads.release)

        # In the caller's context: its request id and trace span go on with the unit.
        context = contextvars.copy_context()
        running = self._threads.submit(context.run, function, work)
        running.add_done_callback(release)
        return await asyncio.wrap_future(running)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run a read-only unit on a pool thread, in one snapshot."""
        return await self._off_loop(self._read, work)

    async def read_off_loop(self, work: Callable[[Connection], T]) -> T:
        """The same as `read`: on PostgreSQL every unit runs off the loop."""
        return await self._off_loop(self._read, work)

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self.snapshot() as connection:
            return tracing.traced(work, "db.read", SYSTEM)(connection)

    def stream_off_loop(self, work: Callable[[Connection], Generator[T]]) -> AsyncGenerator[T]:
        """What `work` yields, produced on a thread of its own in one snapshot (an export)."""
        return stream_off_loop(self.snapshot, work)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection in one read-only REPEATABLE READ transaction, rolled back at the end."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                try:
                    yield connection
                finally:
                    connection.rollback()
                    metrics.SNAPSHOT.observe(time.perf_counter() - started)
        except AppError:
            raise
        except sa.exc.SQLAlchemyError as error:
            raise translated(error) from error

    async def write(self, work: Callable[[Connection], T], *, long: bool = False) -> T:
        """Run a unit atomically on a pool thread; run it again after a serialization failure.

        (`long` is SQLite's concern: every unit runs off the loop here.)
        """
        return await self._off_loop(self._write, work)

    def _write(self, work: Callable[[Connection], T]) -> T:
        work = tracing.traced(work, "db.write", SYSTEM)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except AppError as error:
                if not error.retry_in_new_transaction or attempt == MAX_ATTEMPTS:
                    raise
            except sa.exc.SQLAlchemyError as error:
                if _state_of(error) not in RETRIED_STATES or attempt == MAX_ATTEMPTS:
                    raise translated(error) from error
            time.sleep(random.uniform(0, RETRY_BACKOFF_SECONDS * attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def not_ready_because(self, migrated: Callable[[Connection], bool]) -> str | None:
        """Why the service should get no traffic now, or None when it is ready."""
        try:
            if not await self.read(migrated):
                return "Database migrations are not applied."
        except AppError as error:
            return error.detail
        except Exception as error:  # any database failure means "not ready", never a 500
            return f"Database unavailable: {type(error).__name__}."
        return None

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()

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

Round trips are what a request costs here, in the server's CPU as much as in ours, so each unit
makes as few as it can: a short read (`read`) runs in autocommit, one round trip per statement
and no BEGIN or ROLLBACK, as SQLite's `read` does (each statement sees committed data); a long
one (`read_off_loop`, `snapshot`) is one snapshot, ended by COMMIT (psycopg forgets its prepared
statements at every ROLLBACK). A pooled connection is not pinged as it leaves the pool: a unit
that finds its connection dead before committing is run again, once, on a new one (the pool
has by then dropped every connection older than the failure), so a server restart costs no
request an error and a healthy server no round trip.
"""

import asyncio
import contextlib
import contextvars
import queue
import random
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from todo_api import metrics, tracing
from todo_api.errors import AppError, DatabaseBusy, DatabaseUnavailable
from todo_api.readiness import migration_not_ready_because
from todo_api.snapshot_stream import stream_off_loop

T = TypeVar("T")

DRIVER = "postgresql+psycopg"
SYSTEM = "postgresql"  # OpenTelemetry's db.system.name
URL_SCHEMES = ("postgresql", "postgres", DRIVER)
ISOLATION_LEVEL = "REPEATABLE READ"
AUTOCOMMIT = "AUTOCOMMIT"  # short reads: no transaction of ours around their statements
# libpq's own default is to wait for a connection as long as the network does: bound it, so a
# vanished server is a 503 within seconds (a connect_timeout in the URL wins).
CONNECT_TIMEOUT_SECONDS = 3
APPLICATION_NAME = "todo-api"
# SQLSTATEs after which the whole unit is run again: serialization failure, deadlock detected.
RETRIED_STATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 8
RETRY_BACKOFF_SECONDS = 0.002  # times the attempt, jittered: the loser lets the winner commit
# A unit that found its pooled connection dead runs again this many times on a new connection.
RECONNECT_ATTEMPTS = 1


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


def create_postgres_engine(
    database_url: str, limits: PoolLimits | None = None, *, isolation_level: str = ISOLATION_LEVEL
) -> Engine:
    """A bounded pool of psycopg connections in UTC, each statement bounded in time.

    No `pool_pre_ping`: it would cost every unit a round trip. A connection found dead is
    replaced when a unit fails on it, with every connection older than it (SQLAlchemy's pool
    invalidation), and `PostgresDatabase` runs that unit again (`_reconnecting`).
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
        isolation_level=isolation_level,
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


DRIVER_ERROR = psycopg.Error
BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ"


def as_sqlalchemy_error(connection: Connection, error: Any, sql: str) -> sa.exc.StatementError:
    """The error `Connection.execute` would have raised for a driver's `error`; a lost
    connection is invalidated, as it would have been, so the pool does not hand it out again."""
    lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    wrapped: sa.exc.StatementError = sa.exc.DBAPIError.instance(
        sql, None, error, DRIVER_ERROR, connection_invalidated=lost, dialect=connection.dialect
    )
    return wrapped


def _on_driver(connection: Connection, sql: str) -> None:
    """Run `sql` (BEGIN, COMMIT) on the driver's connection, its errors as SQLAlchemy's."""
    try:
        # Not prepared (psycopg prepares what runs often): a BEGIN gains nothing by it.
        connection.connection.dbapi_connection.execute(sql, prepare=False)  # type: ignore[union-attr]
    except DRIVER_ERROR as error:
        raise as_sqlalchemy_error(connection, error, sql) from error


def _in_transaction(connection: Connection) -> bool:
    driver: Any = connection.connection.dbapi_connection
    return bool(driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)


def _roll_back_quietly(connection: Connection) -> None:
    """End a unit's transaction after its error (the error is what the caller needs to see)."""
    if connection.invalidated:
        return  # gone with the connection
    with contextlib.suppress(Exception):
        connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]


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


CONNECTED_AT = "todo_api_connected_at"  # in a pooled connection's `info`: monotonic seconds


def _note_connected_at(_dbapi: Any, record: Any) -> None:
    record.info[CONNECTED_AT] = time.monotonic()


def _lost_connection(error: BaseException) -> bool:
    """The error says the connection was dead (the server restarted or ended it): the pool has
    dropped it, and a unit that did not reach its COMMIT may run again on a new one."""
    return isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated


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
        # The pooled connections stay in autocommit, as short reads want them: switching a
        # connection's mode as it leaves the pool and back costs psycopg calls per unit. Writes
        # send their own BEGIN (`_write`). `engine` is the same pool for everything else
        # (migrations, snapshots, streams): SQLAlchemy puts its connections in REPEATABLE READ
        # transactions, as any engine's, and back in autocommit when they return.
        self._units = create_postgres_engine(database_url, limits, isolation_level=AUTOCOMMIT)
        self.engine = self._units.execution_options(isolation_level=ISOLATION_LEVEL)
        # One thread per pooled connection, and a unit is handed to a thread only when one is
        # free: the wait for a connection happens here, on the loop, bounded by the pool timeout,
        # not in the threads' queue (streams take connections of their own from the pool, and
        # wait for one at most the same timeout there). Threads and a queue of our own, not a
        # ThreadPoolExecutor: a unit costs one wake-up of a thread and one of the loop
        # (`_answered` frees the thread and answers at once).
        self._threads: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._thread, name=f"todo-api-db_{number}", daemon=True)
            for number in range(limits.size)
        ]
        for worker in self._workers:
            worker.start()
        self._free_threads = asyncio.Semaphore(limits.size)
        self._connection_lost_at = 0.0  # monotonic; pooled connections older are replaced
        event.listen(self._units, "connect", _note_connected_at)
        event.listen(self._units, "checkout", self._replace_if_older_than_a_loss)

    def _replace_if_older_than_a_loss(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        """When a unit lost its connection (the server restarted), every connection made before
        is as dead: the pool replaces one as it hands it out (SQLAlchemy does that itself for a
        loss it sees; this is for one a driver statement saw)."""
        if record.info.get(CONNECTED_AT, 0.0) < self._connection_lost_at:
            raise sa.exc.DisconnectionError("connected before a connection was lost")

    def _note_lost(self, error: BaseException) -> bool:
        lost = _lost_connection(error)
        if lost:
            self._connection_lost_at = time.monotonic()
        return lost

    async def _off_loop(self, function: Callable[[Any], T], work: Any) -> T:
        if self._free_threads.locked():
            try:  # asyncio.timeout, not wait_for: no task made per wait
                async with asyncio.timeout(self._limits.timeout_seconds):
                    await self._free_threads.acquire()
            except TimeoutError:
                raise DatabaseUnavailable(
                    "Every database connection is busy; nothing was changed. Retry shortly."
                ) from None
        else:
            await self._free_threads.acquire()  # free: returns at once
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        # In the caller's context: its request id and trace span go on with the unit.
        self._threads.put((loop, answer, contextvars.copy_context(), function, work))
        return await answer

    def _answered(
        self, answer: "asyncio.Future[T]", result: T | None, error: BaseException | None
    ) -> None:
        """On the loop, once per unit: the thread is free again (when it is done, not when the
        caller stops waiting: a client gone away), and the caller gets what the unit gave."""
        self._free_threads.release()
        if answer.cancelled():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)  # type: ignore[arg-type]

    def _thread(self) -> None:
        """A pool thread: runs units from the queue until it takes None."""
        while (item := self._threads.get()) is not None:
            loop, answer, context, function, work = item
            result, error = None, None
            try:
                result = context.run(function, work)
            except BaseException as raised:  # any: the awaiting caller gets it, as from a future
                error = raised
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._answered, answer, result, error)
            del item, answer, result, error  # nothing of this unit kept while the thread waits

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run a short read-only unit on a pool thread; each statement sees committed data."""
        return await self._off_loop(self._read, work)

    async def read_off_loop(self, work: Callable[[Connection], T]) -> T:
        """Run a long read-only unit on a pool thread, in one snapshot."""
        return await self._off_loop(self._read_in_snapshot, work)

    def _read(self, work: Callable[[Connection], T]) -> T:
        """In autocommit: one round trip per statement, none to begin or end a transaction."""
        work = tracing.traced(work, "db.read", SYSTEM)
        for attempt in range(RECONNECT_ATTEMPTS + 1):
            try:
                with self._units.connect() as connection:
                    result = work(connection)
                    if _in_transaction(connection):  # one the unit began (a search does)
                        _on_driver(connection, "COMMIT")
                    return result
            except AppError:
                raise
            except sa.exc.SQLAlchemyError as error:
                if not self._note_lost(error) or attempt == RECONNECT_ATTEMPTS:
                    raise translated(error) from error
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_in_snapshot(self, work: Callable[[Connection], T]) -> T:
        with self.snapshot() as connection:
            return tracing.traced(work, "db.read_snapshot", SYSTEM)(connection)

    def stream_off_loop(self, work: Callable[[Connection], Generator[T]]) -> AsyncGenerator[T]:
        """What `work` yields, produced on a thread of its own in one snapshot (an export)."""
        return stream_off_loop(self.snapshot, work)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection in one REPEATABLE READ transaction, for reading only.

        It ends in COMMIT, which for a transaction that wrote nothing is what ROLLBACK is, but
        keeps psycopg's prepared statements (a ROLLBACK deallocates them all)."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                connection.begin()  # as in `_write`: commit() ends only a begun transaction
                try:
                    yield connection
                    connection.commit()
                finally:
                    connection.rollback()  # after an error; after the COMMIT, nothing to end
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
        reconnects = 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            committing = False
            try:
                with self._units.connect() as connection:
                    try:
                        _on_driver(connection, BEGIN_SNAPSHOT)
                        result = work(connection)
                        committing = True
                        _on_driver(connection, "COMMIT")
                    except BaseException:
                        _roll_back_quietly(connection)
                        raise
                    return result
            except AppError as error:
                if not error.retry_in_new_transaction or attempt == MAX_ATTEMPTS:
                    raise
            except sa.exc.SQLAlchemyError as error:
                # A connection lost before COMMIT: nothing was stored, run it on a new one. At
                # COMMIT, whether it was stored is unknown: 503, never a second copy.
                if (
                    self._note_lost(error)
                    and not committing
                    and reconnects < RECONNECT_ATTEMPTS
                    and attempt < MAX_ATTEMPTS
                ):
                    reconnects += 1
                    continue
                if _state_of(error) not in RETRIED_STATES or attempt == MAX_ATTEMPTS:
                    raise translated(error) from error
            time.sleep(random.uniform(0, RETRY_BACKOFF_SECONDS * attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def not_ready_because(self, migrated: Callable[[Connection], bool]) -> str | None:
        """Why the service should get no traffic now, or None when it is ready."""
        return await migration_not_ready_because(self.read, migrated)

    def close(self) -> None:
        for _worker in self._workers:
            self._threads.put(None)  # after the units already queued
        for worker in self._workers:
            worker.join()
        self._units.dispose()

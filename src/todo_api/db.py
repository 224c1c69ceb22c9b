"""The database seam: engine, SQLite connection pragmas, and the units of work routes run.

One concurrency model: route handlers are `async def`; the data work of a request is one
synchronous function of a `Connection` (a *unit of work*) handed to `Database.read` or
`Database.write`. On SQLite a local file answers in microseconds, so the unit runs inline on the
event loop over the process's one connection — a thread hop would cost more than the query.
Writes take SQLite's write lock up front (`BEGIN IMMEDIATE`) so concurrent writers, even from
other processes, queue on `busy_timeout` instead of failing with "database is locked".
"""

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.dml import ReturningInsert

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
        # NORMAL in WAL mode: a commit survives a crash of this process (kill -9, OOM);
        # see docs/operations.md for the power-loss trade-off and TODO_ names to change it.
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
        """Run a unit in one write transaction: all of it commits, or none of it does."""
        connection = self._connect()
        driver = connection.connection.driver_connection
        assert driver is not None
        # Taken here, not by SQLAlchemy's autobegin: a unit may run only driver statements.
        driver.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.commit()  # ends SQLAlchemy's transaction if a statement began one
            driver.commit()
        except BaseException:
            connection.rollback()
            driver.rollback()
            raise
        return result

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()


Fetchable: TypeAlias = sa.Select[*tuple[Any, ...]] | ReturningInsert[*tuple[Any, ...]]


class DriverQuery:
    """A SELECT (or INSERT … RETURNING) compiled once and run straight on the driver's cursor.

    SQLAlchemy's per-execution machinery costs ~40-80 µs: many times what SQLite needs for a point
    read or a one-row insert. The hottest statements skip it. Parameters and values pass through
    the type processors SQLAlchemy would apply, so rows equal what `Connection.execute` returns.
    """

    def __init__(
        self, statement: Fetchable, dialect: Dialect, column_keys: Sequence[str] | None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self._sql = compiled.string
        # Binds SQLAlchemy fills in itself (literals, SQLite's `OFFSET 0` after a LIMIT), by the
        # name they have in the SQL; the named ones come from the caller's parameters.
        binds = [(compiled.bind_names[bind], bind) for bind in compiled.binds.values()]
        self._defaults = {name: bind.effective_value for name, bind in binds if not bind.required}
        self._positional = compiled.positiontup  # parameter order, or None for named styles
        self._bind_processors = {
            name: processor
            for name, bind in binds
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }
        self._result_processors = [
            (index, processor)
            for index, column in enumerate(statement.exported_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[list[Any]]:
        values = self._defaults | parameters
        for name, process in self._bind_processors.items():
            values[name] = process(values[name])
        driver_parameters: Sequence[Any] | Mapping[str, Any] = (
            [values[name] for name in self._positional] if self._positional else values
        )
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, driver_parameters)
            raw_rows = cursor.fetchall()
        finally:
            cursor.close()
        rows = []
        for raw in raw_rows:
            row = list(raw)
            for index, process in self._result_processors:
                row[index] = process(row[index])
            rows.append(row)
        return rows


_driver_queries: dict[tuple[int, str, tuple[str, ...] | None], DriverQuery] = {}


def fetch(
    connection: Connection, statement: Fetchable, parameters: dict[str, Any]
) -> list[list[Any]]:
    """Run a module-level statement through its cached `DriverQuery` (see there for why).

    An INSERT is compiled for the columns named in `parameters`, as `Connection.execute` would.
    """
    column_keys = tuple(parameters) if isinstance(statement, sa.Insert) else None
    key = (id(statement), connection.dialect.name, column_keys)
    query = _driver_queries.get(key)
    if query is None:
        query = DriverQuery(statement, connection.dialect, column_keys)
        _driver_queries[key] = query
    return query.rows(connection, parameters)

"""Running hot statements on the DB-API driver directly, compiled once by SQLAlchemy."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import ReturningInsert

from todo_api.db_postgres import DRIVER_ERROR, as_sqlalchemy_error

Fetchable: TypeAlias = sa.Select[*tuple[Any, ...]] | ReturningInsert[*tuple[Any, ...]] | sa.Insert


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
        self._dialect = dialect
        self._column_types = [column.type for column in statement.exported_columns]
        # Made at the first execution: PostgreSQL's depend on the type the driver names for
        # each column (a float or a numeric), as SQLAlchemy's do; SQLite names none.
        self._result_processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def _processors_for(self, description: Sequence[Any] | None) -> list[tuple[int, Any]]:
        if self._result_processors is None:
            dialect = self._dialect
            type_codes = [column[1] for column in description or ()]
            self._result_processors = [
                (index, processor)
                for index, type_ in enumerate(self._column_types)
                if (
                    processor := type_.dialect_impl(dialect).result_processor(
                        dialect, type_codes[index] if index < len(type_codes) else None
                    )
                )
            ]
        return self._result_processors

    def _driver_parameters(self, parameters: dict[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        values = self._defaults | parameters
        for name, process in self._bind_processors.items():
            values[name] = process(values[name])
        return [values[name] for name in self._positional] if self._positional else values

    def run_many(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run the statement once per parameter set, in the driver's own loop (executemany)."""
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self._sql, [self._driver_parameters(row) for row in rows])
        except ERRORS_WRAPPED as error:
            raise as_sqlalchemy_error(connection, error, self._sql) from error
        finally:
            cursor.close()

    def run(self, connection: Connection, parameters: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an INSERT without RETURNING), once."""
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, self._driver_parameters(parameters))
        except ERRORS_WRAPPED as error:
            raise as_sqlalchemy_error(connection, error, self._sql) from error
        finally:
            cursor.close()

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[list[Any]]:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, self._driver_parameters(parameters))
            raw_rows = cursor.fetchall()
            processors = self._result_processors
            if processors is None:  # psycopg builds `description` anew each time it is read
                processors = self._processors_for(cursor.description)
        except ERRORS_WRAPPED as error:
            raise as_sqlalchemy_error(connection, error, self._sql) from error
        finally:
            cursor.close()
        rows = []
        for raw in raw_rows:
            row = list(raw)
            for index, process in processors:
                row[index] = process(row[index])
            rows.append(row)
        return rows


# Where the statements bypass SQLAlchemy. On PostgreSQL too: a point read costs ~25 µs of CPU
# through psycopg and ~110 µs through `Connection.execute` (docs/postgresql.md), and the server
# shares the machine's cores with the service, so the CPU counts even where a round trip's wall
# time dwarfs it.
SQLITE = "sqlite"
DRIVEN_DIALECTS = frozenset({SQLITE, "postgresql"})
# psycopg's errors from a driver statement are raised as SQLAlchemy would raise them (SQLite's
# are left as they are: db.py translates sqlite3's own).
ERRORS_WRAPPED = DRIVER_ERROR


# Bounded, and each entry keeps its statement: a statement's id() is only unique while it lives,
# and statements built per query shape (an lru_cache) may be dropped and their ids reused.
MAX_CACHED_QUERIES = 2048
_CacheKey = tuple[int, str, tuple[str, ...] | None]
_driver_queries: dict[_CacheKey, tuple[Fetchable, DriverQuery]] = {}


def fetch(
    connection: Connection, statement: Fetchable, parameters: dict[str, Any]
) -> list[list[Any]]:
    """Run a statement through its cached `DriverQuery` (see there for why).

    An INSERT is compiled for the columns named in `parameters`, as `Connection.execute` would.
    On SQLite and PostgreSQL: elsewhere the statement takes SQLAlchemy's path (`DRIVEN_DIALECTS`).
    """
    if connection.dialect.name not in DRIVEN_DIALECTS:
        return [list(row) for row in connection.execute(statement, parameters)]
    column_keys = tuple(parameters) if isinstance(statement, sa.Insert) else None
    return _driver_query(connection, statement, column_keys).rows(connection, parameters)


def execute(connection: Connection, statement: sa.Insert, parameters: dict[str, Any]) -> None:
    """Run an INSERT without RETURNING once, through its cached `DriverQuery`."""
    if connection.dialect.name not in DRIVEN_DIALECTS:
        connection.execute(statement, parameters)
        return
    _driver_query(connection, statement, tuple(parameters)).run(connection, parameters)


def insert_many(
    connection: Connection, statement: sa.Insert, rows: Sequence[dict[str, Any]]
) -> None:
    """Run an INSERT (no RETURNING) for many rows in the driver's executemany loop.

    SQLAlchemy's executemany builds each row's parameters in Python, which costs as much as
    SQLite's insert itself; every row must name the same columns.
    """
    if not rows:
        return
    if connection.dialect.name not in DRIVEN_DIALECTS:
        connection.execute(statement, rows)
        return
    column_keys = tuple(rows[0])
    _driver_query(connection, statement, column_keys).run_many(connection, rows)


def _driver_query(
    connection: Connection, statement: Fetchable, column_keys: tuple[str, ...] | None
) -> DriverQuery:
    key = (id(statement), connection.dialect.name, column_keys)
    entry = _driver_queries.get(key)
    if entry is None or entry[0] is not statement:
        entry = (statement, DriverQuery(statement, connection.dialect, column_keys))
        if len(_driver_queries) >= MAX_CACHED_QUERIES:
            del _driver_queries[next(iter(_driver_queries))]  # the oldest
        _driver_queries[key] = entry
    return entry[1]

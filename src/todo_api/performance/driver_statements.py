"""Running hot statements on the DB-API driver directly, compiled once by SQLAlchemy."""

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import ReturningInsert

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
        self._result_processors = [
            (index, processor)
            for index, column in enumerate(statement.exported_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        ]

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
        finally:
            cursor.close()

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[list[Any]]:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, self._driver_parameters(parameters))
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


# The statements are only worth bypassing SQLAlchemy where the database costs less than it: on
# PostgreSQL a round trip dwarfs SQLAlchemy's overhead, and its psycopg rows need no help.
SQLITE_ONLY = "sqlite"

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
    Only on SQLite: elsewhere the statement takes SQLAlchemy's usual path (`SQLITE_ONLY`).
    """
    if connection.dialect.name != SQLITE_ONLY:
        return [list(row) for row in connection.execute(statement, parameters)]
    column_keys = tuple(parameters) if isinstance(statement, sa.Insert) else None
    return _driver_query(connection, statement, column_keys).rows(connection, parameters)


def insert_many(
    connection: Connection, statement: sa.Insert, rows: Sequence[dict[str, Any]]
) -> None:
    """Run an INSERT (no RETURNING) for many rows in the driver's executemany loop.

    SQLAlchemy's executemany builds each row's parameters in Python, which costs as much as
    SQLite's insert itself; every row must name the same columns.
    """
    if not rows:
        return
    if connection.dialect.name != SQLITE_ONLY:
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

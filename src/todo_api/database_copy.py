"""Copying a whole deployment between databases (`todo-api copy-data`): SQLite ⇄ PostgreSQL.

Every table of the schema is copied row for row, ids, versions and timestamps as they are, so
ETags, cursors and links stay valid. The source is read in one snapshot; the target is written in
one transaction, so a failed copy leaves it as it was. The target is migrated first and must be
empty (what migrating an empty database creates, nothing more); afterwards each table's count is
compared, and the target's id sequences are moved past every id the source ever handed out (its
sequence, not just its largest row: the id of a deleted newest todo was seen by clients and must
not come back). Search indexes follow by themselves: SQLite's triggers queue the copied todos,
PostgreSQL's GIN index takes them.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.db import BEGIN_OPTION, create_engine, open_database
from todo_api.db_faults import DatabaseUnusable
from todo_api.migrate import is_at_head, upgrade_to_head
from todo_api.tables import USER_ID_FLOOR_ROW, metadata, user_id_floor, users

BATCH_ROWS = 1000


@dataclass(frozen=True, slots=True)
class CopiedTable:
    name: str
    rows: int


class TargetNotEmpty(DatabaseUnusable):
    """The target holds data of its own: copying would mix two deployments."""


def copy_data(
    source_url: str, target_url: str, progress: Callable[[int], object] = lambda _n: None
) -> list[CopiedTable]:
    """Copy every row from `source_url` to `target_url` (migrated here, and checked empty)."""
    source = open_database(source_url)
    target = create_engine(target_url)
    try:
        upgrade_to_head(target)
        with source.snapshot() as reading:
            if not is_at_head(reading):
                raise DatabaseUnusable(
                    "the source database is not at this version's schema: run todo-api migrate "
                    "on it first"
                )
            with target.connect() as writing:
                writing.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
                with writing.begin():
                    _require_empty(writing)
                    handed_out = _ids_handed_out(reading)
                    copied = [_copy_table(table, reading, writing, progress) for table in _tables()]
                    _move_sequences(writing, handed_out)
                    _verify(copied, writing)
        return copied
    finally:
        source.close()
        target.dispose()


def count_rows(database_url: str) -> int:
    """How many rows the copy will move (for a progress bar's total)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return sum(_count(connection, table) for table in _tables())
    finally:
        engine.dispose()


def _tables() -> list[sa.Table]:
    return list(metadata.sorted_tables)  # parents before the tables that refer to them


def _require_empty(connection: Connection) -> None:
    """What migrating an empty database puts there (the local user and its Inbox) may be
    replaced; anything more is someone's data."""
    fresh = {"users": 1, "lists": 1}
    for table in _tables():
        count = _count(connection, table)
        if count > fresh.get(table.name, 0):
            raise TargetNotEmpty(
                f"the target database is not empty ({table.name}: {count} rows); copy-data "
                "only fills a new database"
            )
    for table in reversed(_tables()):
        connection.execute(sa.delete(table))


def _copy_table(
    table: sa.Table, reading: Connection, writing: Connection, progress: Callable[[int], object]
) -> CopiedTable:
    copied = 0
    for batch in _batches(reading, table):
        writing.execute(sa.insert(table), batch)
        copied += len(batch)
        progress(len(batch))
    return CopiedTable(table.name, copied)


def _batches(connection: Connection, table: sa.Table) -> Iterator[list[dict[str, object]]]:
    """The table's rows in primary-key order, a batch at a time (memory stays a batch)."""
    key = list(table.primary_key.columns)
    rows = connection.execution_options(yield_per=BATCH_ROWS).execute(
        sa.select(table).order_by(*key)
    )
    for partition in rows.partitions():
        yield [dict(row._mapping) for row in partition]


def _ids_handed_out(connection: Connection) -> dict[str, int]:
    """Per table with an id sequence, the largest id it has handed out, as far as the database
    knows: PostgreSQL's sequence, SQLite's `sqlite_sequence` (AUTOINCREMENT tables) or
    `user_id_floor` (accounts), else the largest id present."""
    handed_out: dict[str, int] = {}
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        largest = connection.execute(sa.select(sa.func.max(column))).scalar_one() or 0
        if connection.dialect.name == "postgresql":
            names = {"table": table.name, "column": column.name}
            last = connection.execute(_POSTGRESQL_SEQUENCE, names)
        else:
            last = connection.execute(_SQLITE_SEQUENCE, {"name": table.name})
        handed_out[table.name] = max(largest, last.scalar() or 0)
        if table is users and connection.dialect.name == "sqlite":
            floor = connection.execute(sa.select(user_id_floor.c.highest_deleted)).scalar()
            handed_out[table.name] = max(handed_out[table.name], floor or 0)
    return handed_out


# NULL while the sequence has handed out nothing.
_POSTGRESQL_SEQUENCE = sa.text(
    "SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(:table, :column) AS regclass))"
)
_SQLITE_SEQUENCE = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name")
_SQLITE_START_SEQUENCE = sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)")
_SQLITE_MOVE_SEQUENCE = sa.text(
    "UPDATE sqlite_sequence SET seq = :seq WHERE name = :name AND seq < :seq"
)


def _move_sequences(connection: Connection, handed_out: dict[str, int]) -> None:
    """The next id of each table comes after every id the source handed out. SQLite: only its
    AUTOINCREMENT tables keep a sequence (tables.py says which); the others take max + 1."""
    for table in _tables():
        column = table.autoincrement_column
        if column is None:
            continue
        largest = connection.execute(sa.select(sa.func.max(column))).scalar_one() or 0
        last = max(largest, handed_out.get(table.name, 0))
        if connection.dialect.name == "postgresql":
            sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
            # setval(…, 1, false): an empty table's next id is 1, as in a new database.
            connection.execute(sa.select(sa.func.setval(sequence, last or 1, last > 0)))
        elif table is users and last > largest:  # SQLite's accounts: tables.user_id_floor
            connection.execute(sa.delete(user_id_floor))
            connection.execute(
                sa.insert(user_id_floor).values(id=USER_ID_FLOOR_ROW, highest_deleted=last)
            )
        elif table.dialect_options["sqlite"]["autoincrement"] and last > 0:
            parameters = {"name": table.name, "seq": last}
            if connection.execute(_SQLITE_SEQUENCE, parameters).scalar() is None:
                connection.execute(_SQLITE_START_SEQUENCE, parameters)
            else:
                connection.execute(_SQLITE_MOVE_SEQUENCE, parameters)


def _verify(copied: list[CopiedTable], connection: Connection) -> None:
    by_name = {table.name: table for table in _tables()}
    for table in copied:
        found = _count(connection, by_name[table.name])
        if found != table.rows:
            raise DatabaseUnusable(
                f"{table.name}: copied {table.rows} rows but the target holds {found}; "
                "nothing was committed"
            )


def _count(connection: Connection, table: sa.Table) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

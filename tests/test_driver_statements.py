"""Statements run straight on the driver return what SQLAlchemy would, and are cached safely."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.db import create_engine
from todo_api.performance import driver_statements
from todo_api.performance.driver_statements import fetch
from todo_api.tables import UTCDateTime

scratch = sa.MetaData()
# Every kind of column the repositories read through the driver: processors run both ways.
notes = sa.Table(
    "notes",
    scratch,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(50), nullable=False),
    sa.Column("done", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("due_date", sa.Date, nullable=True),
    sa.Column("due_at", UTCDateTime, nullable=True),
    sa.Column("weight", sa.Float, nullable=True),
)
SELECT_ALL = sa.select(notes).order_by(notes.c.id)
INSERT = sa.insert(notes).returning(notes)
DUE_AT = dt.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=2)))


@pytest.fixture
def connection() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        scratch.create_all(connection)
        yield connection
    engine.dispose()


def test_rows_equal_what_sqlalchemy_returns(connection: Connection) -> None:
    connection.execute(
        sa.insert(notes),
        {"title": "a", "done": True, "due_date": dt.date(2030, 1, 1), "due_at": DUE_AT},
    )
    connection.execute(sa.insert(notes), {"title": "b", "weight": 2.5})
    expected = [list(row) for row in connection.execute(SELECT_ALL)]
    assert fetch(connection, SELECT_ALL, {}) == expected
    assert expected[0][1:5] == ["a", True, dt.date(2030, 1, 1), DUE_AT.astimezone(dt.UTC)]


def test_an_insert_is_compiled_for_the_columns_it_is_given(connection: Connection) -> None:
    """The same INSERT statement with other columns: each set gets its own compiled SQL."""
    [short] = fetch(connection, INSERT, {"title": "short"})
    [full] = fetch(
        connection, INSERT, {"title": "full", "done": True, "due_at": DUE_AT, "weight": 1.0}
    )
    assert short == [1, "short", False, None, None, None]  # `done` took its server default
    assert full == [2, "full", True, None, DUE_AT.astimezone(dt.UTC), 1.0]
    assert fetch(connection, SELECT_ALL, {}) == [short, full]


def test_bound_parameters_and_literal_binds_both_apply(connection: Connection) -> None:
    for title in ("a", "b", "c"):
        fetch(connection, INSERT, {"title": title})
    after = (
        sa.select(notes.c.title)
        .where(notes.c.id > sa.bindparam("after_id"))
        .order_by(notes.c.id)
        .limit(1)  # a bind SQLAlchemy fills in itself (with SQLite's OFFSET)
    )
    assert fetch(connection, after, {"after_id": 1}) == [["b"]]
    assert fetch(connection, after, {"after_id": 3}) == []


def test_a_cached_statement_never_answers_for_another(connection: Connection) -> None:
    """Statement ids are reused after garbage collection: the cache must notice."""
    fetch(connection, INSERT, {"title": "a"})
    fetch(connection, INSERT, {"title": "b"})
    first = sa.select(notes.c.title).where(notes.c.id == 1)
    second = sa.select(notes.c.title).where(notes.c.id == 2)
    assert fetch(connection, first, {}) == [["a"]]
    # What an id reused by a new statement looks like to the cache: a stale entry.
    cache = driver_statements._driver_queries
    cache[(id(second), connection.dialect.name, None)] = cache[
        (id(first), connection.dialect.name, None)
    ]
    assert fetch(connection, second, {}) == [["b"]]


def test_the_cache_stays_bounded_and_keeps_answering(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = 8  # the real bound (MAX_CACHED_QUERIES) behaves the same, 250 times slower to fill
    monkeypatch.setattr(driver_statements, "MAX_CACHED_QUERIES", bound)
    monkeypatch.setattr(driver_statements, "_driver_queries", {})  # others' entries set aside
    fetch(connection, INSERT, {"title": "a"})
    statements: list[Any] = [
        sa.select(notes.c.title, sa.literal(n)).where(notes.c.id == 1) for n in range(bound + 3)
    ]
    for n, statement in enumerate(statements):
        assert fetch(connection, statement, {}) == [["a", n]]
    assert len(driver_statements._driver_queries) <= bound
    assert fetch(connection, statements[0], {}) == [["a", 0]]  # evicted, compiled again


def test_insert_many_stores_what_sqlalchemys_executemany_stores(connection: Connection) -> None:
    rows = [
        {"title": "a", "done": True, "due_date": dt.date(2030, 1, 1), "due_at": DUE_AT},
        {"title": "b", "done": False, "due_date": None, "due_at": None},
    ]
    connection.execute(sa.insert(notes), rows)
    driver_statements.insert_many(connection, sa.insert(notes), rows)
    stored = [list(row)[1:] for row in connection.execute(SELECT_ALL)]
    assert stored[2:] == stored[:2]
    driver_statements.insert_many(connection, sa.insert(notes), [])  # nothing to do: no error
    assert len(connection.execute(SELECT_ALL).all()) == 4

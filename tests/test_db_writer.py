"""Group commit: units submitted together share one commit, yet each succeeds or fails alone."""

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from todo_api.db import create_engine
from todo_api.db_writer import GroupCommit

Unit = Callable[[Connection], str]


class Refused(Exception):
    """What a unit raises to fail on its own."""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A real SQLite file with a deferred foreign key: a violation surfaces only at COMMIT."""
    engine = create_engine(f"sqlite:///{tmp_path / 'units.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE parents (name TEXT PRIMARY KEY)")
        connection.exec_driver_sql(
            "CREATE TABLE children (name TEXT PRIMARY KEY, parent TEXT"
            " REFERENCES parents (name) DEFERRABLE INITIALLY DEFERRED)"
        )
    engine.dispose()  # the writer opens its own connection, seen by `statements`
    yield engine
    engine.dispose()


@pytest.fixture
def statements(engine: Engine) -> list[str]:
    """Every statement sent on connections opened from now on (the writer's), in order."""
    sent: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(sent.append)

    return sent


@pytest.fixture
def group(engine: Engine) -> Iterator[GroupCommit]:
    """Group commit as `Database` runs it: a writer thread on a connection of its own."""
    group = GroupCommit(engine.connect)
    yield group
    group.close()


def committed(engine: Engine, table: str) -> list[str]:
    """What another connection sees: only committed rows."""
    with engine.connect() as reader:
        return list(reader.exec_driver_sql(f"SELECT name FROM {table} ORDER BY name").scalars())  # noqa: S608


def add_parent(name: str, fail: bool = False) -> Unit:
    def unit(connection: Connection) -> str:
        connection.exec_driver_sql("INSERT INTO parents (name) VALUES (?)", (name,))
        if fail:
            raise Refused(name)
        return name

    return unit


def add_orphan(name: str) -> Unit:
    """A child of no parent: its statement succeeds, the commit that would keep it cannot."""

    def unit(connection: Connection) -> str:
        connection.exec_driver_sql(
            "INSERT INTO children (name, parent) VALUES (?, 'nobody')", (name,)
        )
        return name

    return unit


@pytest.mark.anyio
async def test_units_submitted_together_share_one_commit(
    engine: Engine, group: GroupCommit, statements: list[str]
) -> None:
    results = await asyncio.gather(*(group.submit(add_parent(name)) for name in "abc"))
    assert results == ["a", "b", "c"]
    assert statements.count("COMMIT") == 1, statements
    assert committed(engine, "parents") == ["a", "b", "c"]


@pytest.mark.anyio
async def test_units_submitted_one_after_another_commit_one_by_one(
    engine: Engine, group: GroupCommit, statements: list[str]
) -> None:
    assert await group.submit(add_parent("a")) == "a"
    assert committed(engine, "parents") == ["a"]  # acknowledged only once committed
    assert await group.submit(add_parent("b")) == "b"
    assert statements.count("COMMIT") == 2, statements


@pytest.mark.anyio
async def test_a_unit_that_raises_rolls_back_alone(
    engine: Engine, group: GroupCommit, statements: list[str]
) -> None:
    results = await asyncio.gather(
        group.submit(add_parent("a")),
        group.submit(add_parent("bad", fail=True)),
        group.submit(add_parent("c")),
        return_exceptions=True,
    )
    assert results[0] == "a"
    assert isinstance(results[1], Refused)
    assert results[2] == "c"
    assert statements.count("COMMIT") == 1, statements
    assert committed(engine, "parents") == ["a", "c"]


@pytest.mark.anyio
async def test_a_failed_commit_fails_every_unit_of_the_batch(
    engine: Engine, group: GroupCommit
) -> None:
    results = await asyncio.gather(
        group.submit(add_parent("a")),
        group.submit(add_orphan("orphan")),
        group.submit(add_parent("c")),
        return_exceptions=True,
    )
    assert [type(result) for result in results] == [IntegrityError] * 3, results
    assert "FOREIGN KEY constraint failed" in str(results[0])
    assert committed(engine, "parents") == []
    assert committed(engine, "children") == []
    # The connection was rolled back, not left in the failed transaction: writes go on.
    assert await group.submit(add_parent("later")) == "later"
    assert committed(engine, "parents") == ["later"]


@pytest.mark.anyio
async def test_a_batch_that_cannot_connect_fails_every_unit_and_the_next_connects(
    engine: Engine,
) -> None:
    attempts: list[int] = []

    def connect_the_second_time() -> Connection:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        return engine.connect()

    group = GroupCommit(connect_the_second_time)
    try:
        results = await asyncio.gather(
            *(group.submit(add_parent(name)) for name in "ab"), return_exceptions=True
        )
        assert [str(result) for result in results] == ["database is locked"] * 2
        assert committed(engine, "parents") == []
        assert await group.submit(add_parent("later")) == "later"
    finally:
        group.close()
    assert attempts == [1, 2]
    assert committed(engine, "parents") == ["later"]


@pytest.mark.anyio
async def test_a_unit_cancelled_before_its_batch_runs_is_never_run(
    engine: Engine, group: GroupCommit
) -> None:
    loop = asyncio.get_running_loop()
    kept = asyncio.create_task(group.submit(add_parent("kept")))
    dropped = asyncio.create_task(group.submit(add_parent("dropped")))
    # Callbacks run in the order they were scheduled: both tasks submit, then this cancel runs,
    # then the batch the first submit scheduled (a client that went away while queued).
    loop.call_soon(dropped.cancel)
    assert await kept == "kept"
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert committed(engine, "parents") == ["kept"]


@pytest.mark.anyio
async def test_a_batch_of_only_cancelled_units_begins_no_transaction(
    engine: Engine, group: GroupCommit, statements: list[str]
) -> None:
    loop = asyncio.get_running_loop()
    dropped = asyncio.create_task(group.submit(add_parent("dropped")))
    loop.call_soon(dropped.cancel)  # after the submit, before the batch (see above)
    with pytest.raises(asyncio.CancelledError):
        await dropped
    group.close()  # the writer has finished everything queued before it
    assert "BEGIN IMMEDIATE" not in statements
    assert committed(engine, "parents") == []

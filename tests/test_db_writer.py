"""Group commit: units submitted together share one commit, yet each succeeds or fails alone;
a batch runs inline on the event loop only when nothing can make it wait there."""

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from todo_api import db_writer
from todo_api.db import BUSY_TIMEOUT_MS, create_engine
from todo_api.db_writer import GroupCommit

Unit = Callable[[Connection], str]
WRITER_THREAD = "todo-api-writer"
# A loop turn while a write waits for the lock: far below the busy timeout the loop must not pay.
LOOP_TURN_BOUND_SECONDS = 0.1


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


@pytest.fixture(params=[True, False], ids=["inline", "thread-only"])
def group(engine: Engine, request: pytest.FixtureRequest) -> Iterator[GroupCommit]:
    """Group commit as `Database` runs it (inline when it can, else on the writer thread), and
    with the writer thread alone: the same rules hold on both paths."""
    group = GroupCommit(engine.connect, inline=request.param)
    yield group
    group.close()


@pytest.fixture
def hybrid(engine: Engine) -> Iterator[GroupCommit]:
    """Group commit as `Database` runs it."""
    group = GroupCommit(engine.connect, inline=True)
    yield group
    group.close()


@contextlib.contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Hold the write lock from a connection of our own, as another process would."""
    database = engine.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def thread_of(name: str, ran_on: dict[str, str]) -> Unit:
    """A unit that adds a parent and notes the thread it ran on."""

    def unit(connection: Connection) -> str:
        ran_on[name] = threading.current_thread().name
        return add_parent(name)(connection)

    return unit


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
async def test_a_unit_alone_in_its_batch_runs_without_a_savepoint_and_rolls_back_alone(
    engine: Engine, group: GroupCommit, statements: list[str]
) -> None:
    with pytest.raises(Refused):
        await group.submit(add_parent("bad", fail=True))
    assert committed(engine, "parents") == []
    assert await group.submit(add_parent("a")) == "a"  # the connection is not left in a transaction
    assert committed(engine, "parents") == ["a"]
    assert not [statement for statement in statements if "SAVEPOINT" in statement], statements
    assert statements.count("ROLLBACK") == 1, statements


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


@pytest.mark.anyio
async def test_a_batch_runs_inline_when_the_lock_is_free_and_the_thread_idle(
    engine: Engine, hybrid: GroupCommit, statements: list[str]
) -> None:
    ran_on: dict[str, str] = {}
    results = await asyncio.gather(*(hybrid.submit(thread_of(name, ran_on)) for name in "ab"))
    assert results == ["a", "b"]
    loop_thread = threading.current_thread().name
    assert ran_on == {"a": loop_thread, "b": loop_thread}
    assert statements.count("COMMIT") == 1, statements
    assert committed(engine, "parents") == ["a", "b"]
    assert not any(thread.name == WRITER_THREAD for thread in threading.enumerate())


@pytest.mark.anyio
async def test_a_batch_goes_to_the_thread_when_another_connection_holds_the_lock(
    engine: Engine, hybrid: GroupCommit
) -> None:
    ran_on: dict[str, str] = {}
    with write_lock_held(engine):
        write = asyncio.ensure_future(hybrid.submit(thread_of("waited", ran_on)))
        slowest = 0.0
        for _turn in range(100):
            started = time.perf_counter()
            await asyncio.sleep(0)  # one loop turn: it must never wait for the lock
            slowest = max(slowest, time.perf_counter() - started)
        assert not write.done()  # waiting for the lock we hold, off the loop
    assert await write == "waited"
    assert ran_on == {"waited": WRITER_THREAD}
    assert slowest < LOOP_TURN_BOUND_SECONDS < BUSY_TIMEOUT_MS / 1000
    assert committed(engine, "parents") == ["waited"]
    # The thread is idle again: the next write is inline.
    assert await hybrid.submit(thread_of("next", ran_on)) == "next"
    assert ran_on["next"] == threading.current_thread().name


@pytest.mark.anyio
async def test_long_work_never_runs_inline_nor_do_the_units_batched_with_it(
    engine: Engine, hybrid: GroupCommit
) -> None:
    ran_on: dict[str, str] = {}
    results = await asyncio.gather(
        hybrid.submit(thread_of("long", ran_on), long=True),
        hybrid.submit(thread_of("short", ran_on)),
    )
    assert list(results) == ["long", "short"]
    assert ran_on == {"long": WRITER_THREAD, "short": WRITER_THREAD}
    assert committed(engine, "parents") == ["long", "short"]


@pytest.mark.anyio
async def test_a_write_handed_over_later_never_overtakes_one_waiting_on_the_thread(
    engine: Engine, hybrid: GroupCommit
) -> None:
    """Once the lock is free, the thread may still be asleep in SQLite's busy handler (up to
    100 ms between tries): a later write must queue behind it, not commit inline first."""
    order: list[str] = []

    def noting(name: str) -> Unit:
        def unit(connection: Connection) -> str:
            order.append(name)
            return add_parent(name)(connection)

        return unit

    with write_lock_held(engine):
        first = asyncio.ensure_future(hybrid.submit(noting("first")))
        for _turn in range(3):
            await asyncio.sleep(0)  # handed over, found the lock taken, queued on the thread
        assert not first.done()
    second = asyncio.ensure_future(hybrid.submit(noting("second")))
    assert list(await asyncio.gather(first, second)) == ["first", "second"]
    assert order == ["first", "second"]
    with engine.connect() as reader:
        by_rowid = reader.exec_driver_sql("SELECT name FROM parents ORDER BY rowid").scalars()
        assert list(by_rowid) == ["first", "second"]


@pytest.mark.anyio
async def test_inline_commits_are_checkpointed_by_the_thread(
    engine: Engine, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_writer, "CHECKPOINT_EVERY_INLINE_COMMITS", 3)
    group = GroupCommit(engine.connect, inline=True)
    try:
        for name in "abc":
            assert await group.submit(add_parent(name)) == name
    finally:
        group.close()  # the thread finishes the checkpoint queued after the third commit
    assert "PRAGMA wal_autocheckpoint=0" in statements  # the loop's connection never does
    assert statements.count("PRAGMA wal_checkpoint(PASSIVE)") == 1, statements
    assert committed(engine, "parents") == ["a", "b", "c"]


@pytest.mark.anyio
async def test_writes_stay_inline_while_the_thread_checkpoints(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint fsyncs; it is no reason for a write to wait: only batches queue behind it."""
    monkeypatch.setattr(db_writer, "CHECKPOINT_EVERY_INLINE_COMMITS", 1)
    thread_connecting, release_thread = threading.Event(), threading.Event()

    def connect() -> Connection:
        if threading.current_thread().name == WRITER_THREAD:
            thread_connecting.set()
            release_thread.wait(timeout=10)  # held here, on its way to the checkpoint
        return engine.connect()

    ran_on: dict[str, str] = {}
    group = GroupCommit(connect, inline=True)
    try:
        assert await group.submit(thread_of("a", ran_on)) == "a"  # queues a checkpoint
        assert await asyncio.to_thread(thread_connecting.wait, 10)
        write = group.submit(thread_of("b", ran_on))
        assert await asyncio.wait_for(write, timeout=5) == "b"
        assert ran_on == {"a": threading.current_thread().name, "b": ran_on["a"]}
    finally:
        release_thread.set()
        group.close()
    assert committed(engine, "parents") == ["a", "b"]


@pytest.mark.anyio
async def test_the_loops_connection_goes_back_to_the_pool_as_it_came(engine: Engine) -> None:
    group = GroupCommit(engine.connect, inline=True)
    assert await group.submit(add_parent("a")) == "a"
    group.close()
    with engine.connect() as connection:  # the pool hands back the connection the loop used
        settings = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("busy_timeout", "wal_autocheckpoint")
        ]
    assert settings == [BUSY_TIMEOUT_MS, 1000]


@pytest.mark.anyio
async def test_units_commit_in_the_order_they_were_submitted_whichever_path_they_take(
    engine: Engine, hybrid: GroupCommit
) -> None:
    """Turns of short and long units: long ones go to the thread, the short ones after them
    follow until it is idle, then run inline again; the order of submission always holds."""
    ran: list[str] = []
    names: list[str] = []
    pending: list[asyncio.Future[str]] = []

    def noting(name: str) -> Unit:
        def unit(connection: Connection) -> str:
            ran.append(name)
            return add_parent(name)(connection)

        return unit

    for turn in range(30):
        for index in range(1 + turn % 3):
            name = f"{turn:02}-{index}"
            names.append(name)
            long = turn % 7 == 3 and index == 0
            pending.append(asyncio.ensure_future(hybrid.submit(noting(name), long=long)))
        await asyncio.sleep(0)  # the next loop turn: this turn's units are one batch
    assert list(await asyncio.gather(*pending)) == names
    assert ran == names
    with engine.connect() as reader:
        by_rowid = reader.exec_driver_sql("SELECT name FROM parents ORDER BY rowid").scalars()
        assert list(by_rowid) == names

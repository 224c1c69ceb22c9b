"""snapshot_stream: a long read on its own thread, in one snapshot, that always ends."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from sqlalchemy.engine import Connection

from todo_api import snapshot_stream
from todo_api.db import Database, open_database
from todo_api.snapshot_stream import ClientStalled, stream_off_loop

WAIT_SECONDS = 10.0


class Snapshots:
    """The database's snapshots, noting when the last one has ended."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.ended = threading.Event()

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        try:
            with self.database.snapshot() as connection:
                yield connection
        finally:
            self.ended.set()

    async def wait_ended(self) -> bool:
        return await asyncio.to_thread(self.ended.wait, WAIT_SECONDS)


def count_marks(connection: Connection) -> int:
    count: int = connection.exec_driver_sql("SELECT count(*) FROM marks").scalar_one()
    return count


def counts(connection: Connection) -> Generator[int]:
    """The number of marks, again and again: constant inside one snapshot."""
    while True:
        yield count_marks(connection)


async def add_mark(database: Database) -> None:
    await database.write(
        lambda connection: connection.exec_driver_sql("INSERT INTO marks VALUES (1)")
    )


async def drain(stream: AsyncIterator[int]) -> None:
    async for _ in stream:
        pass


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The test's database, with a table of its own to count rows of."""
    database = open_database(database_url)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE marks (n INTEGER)")
    yield database
    database.close()


@pytest.mark.anyio
async def test_every_chunk_sees_the_state_the_stream_began_with(database: Database) -> None:
    snapshots = Snapshots(database)
    stream = stream_off_loop(snapshots.open, counts)
    before = await anext(stream)
    await add_mark(database)
    await add_mark(database)
    seen = [await anext(stream) for _ in range(5)]
    await stream.aclose()
    assert seen == [before] * 5
    assert await database.read(count_marks) == before + 2
    assert await snapshots.wait_ended()


@pytest.mark.anyio
async def test_a_finished_stream_yields_all_and_ends_its_transaction(
    database: Database,
) -> None:
    snapshots = Snapshots(database)

    def three(connection: Connection) -> Generator[int]:
        yield from range(count_marks(connection), count_marks(connection) + 3)

    assert [item async for item in stream_off_loop(snapshots.open, three)] == [0, 1, 2]
    assert await snapshots.wait_ended()


@pytest.mark.anyio
async def test_a_consumer_that_goes_away_ends_the_transaction(database: Database) -> None:
    snapshots = Snapshots(database)
    stream = stream_off_loop(snapshots.open, counts)
    await anext(stream)
    await stream.aclose()  # what a disconnect does to the response's iterator
    assert await snapshots.wait_ended()


@pytest.mark.anyio
async def test_a_stalled_consumer_loses_the_stream(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_stream, "STALL_SECONDS", 0.05)
    snapshots = Snapshots(database)
    stream = stream_off_loop(snapshots.open, counts)
    await anext(stream)
    assert await snapshots.wait_ended()  # nobody took a chunk: the producer gave up
    with pytest.raises(ClientStalled):
        await drain(stream)  # the chunks produced before it gave up are handed over first


@pytest.mark.anyio
async def test_an_error_of_the_read_reaches_the_consumer(database: Database) -> None:
    def broken(connection: Connection) -> Generator[int]:
        yield count_marks(connection)
        raise LookupError("gone")

    stream = stream_off_loop(Snapshots(database).open, broken)
    assert await anext(stream) == 0
    with pytest.raises(LookupError, match="gone"):
        await anext(stream)

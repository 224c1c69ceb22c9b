"""The writer thread, and group commit: the write units waiting together share one transaction.

This is behaviour, not only speed, which is why it is not under performance/: the thread is
what keeps the event loop from ever waiting for SQLite's write lock.

Why a thread: taking SQLite's write lock can wait (another worker, replica or `todo-api import`
holds it), and a long unit (a bulk change, an import) runs for seconds. Either would freeze
every request of the process if it ran on the event loop. The writer thread owns the process's
write connection; the loop only queues units and is woken once per batch with the outcomes.

Why a group: a commit is most of what a small write costs on SQLite (the touched table, index
and full-text pages are appended to the WAL once per commit). While the thread commits one
batch, the next requests queue; it then runs all of them in one transaction, so under load one
commit acknowledges many writes, and a lone write still costs one commit.

Each unit still stands alone: it runs inside its own SAVEPOINT, so a unit that raises is rolled
back by itself and its caller gets the exception, while the others commit. No caller hears
"done" before the commit that holds its changes has returned.
"""

import asyncio
import contextlib
import contextvars
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from todo_api import metrics

T = TypeVar("T")
_SAVEPOINT = "unit"
_STOP = None  # queued by close(): the thread finishes what was queued before, then ends


class _Unit:
    """A queued unit of work, the future its caller awaits, and the caller's context."""

    __slots__ = ("context", "future", "loop", "work")

    def __init__(
        self, work: Callable[[Connection], Any], future: asyncio.Future[Any], loop: Any
    ) -> None:
        self.work = work
        self.future = future
        self.loop: asyncio.AbstractEventLoop = loop
        # Log lines (request id) and traces written inside the unit belong to its request.
        self.context = contextvars.copy_context()


class GroupCommit:
    """Runs write units on one writer thread, each batch of waiting units in one transaction."""

    def __init__(
        self, connect: Callable[[], Connection], *, check: Callable[[], None] = lambda: None
    ) -> None:
        """`connect` opens the writer's connection (on the writer thread); `check` runs before
        each batch, and whatever it raises fails the batch before anything is written."""
        self._connect = connect
        self._check = check
        self._submitted: list[_Unit] = []  # this loop turn's units, not yet queued
        self._queue: queue.SimpleQueue[list[_Unit] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def submit(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._submitted:
            loop.call_soon(self._hand_over)  # after the requests already ready this turn
        self._submitted.append(_Unit(work, future, loop))
        return await future

    def _hand_over(self) -> None:
        """Queue the units submitted during this loop turn for the writer, as one batch."""
        units, self._submitted = self._submitted, []
        if self._thread is None:
            self._start()
        self._queue.put(units)

    def close(self) -> None:
        """Finish the queued units, close the writer's connection, end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="todo-api-writer", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        connection: Connection | None = None
        try:
            while True:
                batch, stopping = self._next_batch()
                if batch:
                    try:
                        if connection is None or connection.closed:
                            connection = self._connect()
                    except Exception as error:
                        # Opening can fail (a locked or unreadable file): the batch fails, and
                        # the thread lives on to try again for the next one, instead of
                        # leaving every caller waiting.
                        _settle_all([(unit, None, error) for unit in batch])
                    else:
                        self._commit(connection, batch)
                if stopping:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _next_batch(self) -> tuple[list[_Unit], bool]:
        """Wait for units, then take every unit queued behind them (up to a stop)."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = list(first)
        while True:
            try:
                units = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
            if units is _STOP:
                return batch, True
            batch.extend(units)

    def _commit(self, connection: Connection, batch: list[_Unit]) -> None:
        # A unit whose caller went away before it ran is dropped (once running, it completes).
        batch = [unit for unit in batch if not unit.future.cancelled()]
        if not batch:
            return
        outcomes: list[tuple[_Unit, Any, BaseException | None]] = []
        started = time.perf_counter()
        try:
            self._check()
            driver = connection.connection.driver_connection
            assert driver is not None
            # Taken here, not by SQLAlchemy's autobegin: a unit may run only driver statements.
            # This is where the thread waits (busy_timeout) while another process writes.
            try:
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                metrics.LOCK_TIMEOUTS.inc()
                raise
            locked = time.perf_counter()
            metrics.LOCK_WAIT_SECONDS.observe(locked - started)
            metrics.WRITE_BATCH_UNITS.observe(len(batch))
            for unit in batch:
                outcomes.append((unit, *unit.context.run(_run_unit, driver, connection, unit.work)))
            connection.commit()  # ends SQLAlchemy's transaction if a statement began one
            driver.commit()
            metrics.WRITE_BATCH.observe(time.perf_counter() - locked)
        except Exception as error:  # the transaction itself failed: nothing was committed
            _abandon(connection)
            _settle_all([(unit, None, error) for unit in batch])
            return
        _settle_all(outcomes)


def _abandon(connection: Connection) -> None:
    """Roll back whatever the failed batch left open, on both SQLAlchemy's side and the driver's."""
    try:
        connection.rollback()
        driver = connection.connection.driver_connection
        if driver is not None and driver.in_transaction:
            driver.rollback()
    except Exception:  # the connection is broken; the next batch reconnects
        connection.invalidate()


def _run_unit(
    driver: Any, connection: Connection, work: Callable[[Connection], Any]
) -> tuple[Any, Exception | None]:
    """Run one unit in a savepoint; roll back just that unit if it raises."""
    driver.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        result = work(connection)
    except Exception as error:
        # If SQLite already aborted the whole transaction, this raises: the batch fails.
        driver.execute(f"ROLLBACK TO {_SAVEPOINT}")
        driver.execute(f"RELEASE {_SAVEPOINT}")
        return None, error
    driver.execute(f"RELEASE {_SAVEPOINT}")
    return result, None


def _settle_all(outcomes: list[tuple[_Unit, Any, BaseException | None]]) -> None:
    """Hand each outcome to its caller's loop: one wake-up per loop, not one per unit."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for unit, result, error in outcomes:
        by_loop.setdefault(unit.loop, []).append((unit.future, result, error))
    for loop, settled in by_loop.items():
        # A loop that has closed has nobody waiting for these any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        if future.cancelled():  # the client went away; its unit committed (or not) all the same
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

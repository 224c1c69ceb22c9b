"""Write units and group commit: inline on the event loop when that cannot wait, else on the
writer thread; the units waiting together share one transaction.

This is behaviour, not only speed, which is why it is not under performance/: the thread is
what keeps the event loop from ever waiting for SQLite's write lock.

Where a batch runs. The loop commits a batch itself ("inline") when nothing can make it wait:
the writer thread has nothing queued or running, no unit is marked long (a bulk change, an
import, deleting a list), and SQLite's write lock is free at once — the loop's write connection
has `busy_timeout=0`, so `BEGIN IMMEDIATE` either takes the lock now or reports busy without
waiting, and then the batch goes to the writer thread, which waits for the lock with the normal
busy timeout, off the loop. A point write costs ~0.1 ms; the hop to the thread and back cost
more than that on every POST. Once a batch is on the thread, later batches follow it there until
the thread is idle again, so writes are committed in the order they were handed over.

The loop's write connection never checkpoints (a checkpoint copies pages and fsyncs): every
CHECKPOINT_EVERY_INLINE_COMMITS inline commits, the writer thread runs a passive checkpoint,
while the loop goes on committing inline (a checkpoint holds no writer back).

Why a group: a commit is most of what a small write costs on SQLite (the touched table, index
and full-text pages are appended to the WAL once per commit). Units submitted in one loop turn
are one batch; while the thread commits one batch, the next ones queue and it runs them all in
one transaction. Under load one commit acknowledges many writes; a lone write costs one commit.

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
_CHECKPOINT = "checkpoint"  # queued by the loop: the thread checkpoints what inline commits wrote
# The loop's connection appends ~5-15 WAL pages per commit; SQLite's own autocheckpoint runs at
# 1000 pages, which this approximates without a WAL hook (the sqlite3 module has none).
CHECKPOINT_EVERY_INLINE_COMMITS = 100
# The loop's write connection: busy at once instead of waiting for the lock; no checkpoints.
_LOOP_SETTINGS = {"busy_timeout": 0, "wal_autocheckpoint": 0}
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

Outcome = tuple["_Unit", Any, BaseException | None]
_Queued = list["_Unit"] | str | None


class _Unit:
    """A unit of work, the future its caller awaits, and the caller's context."""

    __slots__ = ("context", "future", "long", "loop", "work")

    def __init__(
        self,
        work: Callable[[Connection], Any],
        future: asyncio.Future[Any],
        loop: Any,
        long: bool,
    ) -> None:
        self.work = work
        self.future = future
        self.loop: asyncio.AbstractEventLoop = loop
        self.long = long
        # Log lines (request id) and traces written inside the unit belong to its request.
        self.context = contextvars.copy_context()


class GroupCommit:
    """Runs batches of write units, each in one transaction: inline when nothing can wait (see
    the module's docstring), otherwise on one writer thread."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        check: Callable[[], None] = lambda: None,
        inline: bool = False,
    ) -> None:
        """`connect` opens a connection (the writer's, on its thread; with `inline`, also the
        loop's); `check` runs before each batch, and whatever it raises fails the batch before
        anything is written."""
        self._connect = connect
        self._check = check
        self._inline = inline
        self._submitted: list[_Unit] = []  # this loop turn's units, not yet handed over
        self._queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # Guards the two fields below: the loop goes inline only when both are clear.
        self._state_lock = threading.Lock()
        self._on_thread = 0  # batches queued for or running on the thread (not checkpoints)
        self._inline_running = False
        self._inline_connection: Connection | None = None
        self._inline_commits = 0  # since the last checkpoint was queued
        self._pool_settings: list[str] = []  # the statements that undo _LOOP_SETTINGS

    async def submit(self, work: Callable[[Connection], T], *, long: bool = False) -> T:
        """Run `work` in the next batch; `long` work (it may run for seconds) never runs on
        the event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._submitted:
            loop.call_soon(self._hand_over)  # after the requests already ready this turn
        self._submitted.append(_Unit(work, future, loop, long))
        return await future

    def _hand_over(self) -> None:
        """Commit the units submitted during this loop turn as one batch: here, or on the thread."""
        units, self._submitted = self._submitted, []
        if self._inline and self._claim_inline(units):
            try:
                done = self._commit_inline(units)
            finally:
                with self._state_lock:
                    self._inline_running = False
            if done:
                return
        self._to_thread(units)

    def _claim_inline(self, units: list[_Unit]) -> bool:
        if any(unit.long for unit in units):
            return False
        with self._state_lock:
            if self._on_thread or self._inline_running:
                return False  # behind the thread's work: the order of hand-over is kept
            self._inline_running = True
            return True

    def _to_thread(self, item: list[_Unit] | str) -> None:
        """Queue a batch or a checkpoint; only batches hold later batches off the loop (a passive
        checkpoint never blocks a writer, and its fsync is no reason for a POST to wait)."""
        if isinstance(item, list):
            with self._state_lock:
                self._on_thread += 1
        if self._thread is None:
            self._start()
        self._queue.put(item)

    def _commit_inline(self, units: list[_Unit]) -> bool:
        """Commit the batch on the loop; False when it must go to the thread (lock taken)."""
        batch = [unit for unit in units if not unit.future.cancelled()]
        if not batch:
            return True
        try:
            # Before opening: opening the path of a deleted file would create a new, empty one.
            self._check()
        except Exception as error:
            _settle(_results(batch, error))
            return True
        try:
            connection = self._loop_connection()
        except Exception:  # the thread opens its own connection and reports what fails
            return False
        try:
            outcomes = self._run_batch(connection, batch, wait=False)
        except BaseException:  # KeyboardInterrupt inside a unit: still, nobody waits forever
            _settle(_results(batch, RuntimeError("the write was interrupted; nothing was written")))
            raise
        if outcomes is None:
            return False
        _settle(outcomes)
        self._count_inline_commit()
        return True

    def _count_inline_commit(self) -> None:
        self._inline_commits += 1
        if self._inline_commits >= CHECKPOINT_EVERY_INLINE_COMMITS:
            self._inline_commits = 0
            self._to_thread(_CHECKPOINT)

    def _loop_connection(self) -> Connection:
        connection = self._inline_connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connect()
            try:
                driver = connection.connection.driver_connection
                assert driver is not None
                self._pool_settings = [
                    f"PRAGMA {name}={driver.execute(f'PRAGMA {name}').fetchone()[0]}"
                    for name in _LOOP_SETTINGS
                ]
                for name, value in _LOOP_SETTINGS.items():
                    driver.execute(f"PRAGMA {name}={value}")
            except BaseException:
                connection.invalidate()  # half set up: it must never reach the pool
                connection.close()
                raise
            self._inline_connection = connection
        return connection

    def close(self) -> None:
        """Finish the queued units, close the writer's connections, end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()
        connection, self._inline_connection = self._inline_connection, None
        if connection is not None and not connection.closed:
            try:  # back to the pool as other users expect it: waiting for the lock, checkpointing
                driver = connection.connection.driver_connection
                assert driver is not None
                for statement in self._pool_settings:
                    driver.execute(statement)
            except Exception:
                connection.invalidate()
            connection.close()

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
                batch, checkpoint, taken, stopping = self._next_batch()
                outcomes: list[Outcome] = []
                try:
                    if batch or checkpoint:
                        try:
                            if connection is None or connection.closed:
                                self._check()  # opening a deleted file's path would create one
                                connection = self._connect()
                        except Exception as error:
                            # Opening can fail (a locked or unreadable file, or a deleted one):
                            # the batch fails, and the thread lives on to try again for the next
                            # one, instead of leaving every caller waiting.
                            outcomes = _results(batch, error)
                        else:
                            outcomes = self._commit(connection, batch)
                finally:
                    with self._state_lock:
                        self._on_thread -= taken
                    _settle_all(outcomes)  # answered before the checkpoint runs
                if checkpoint and connection is not None and not connection.closed:
                    _checkpoint(connection)  # meanwhile the loop may commit inline again
                if stopping:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _next_batch(self) -> tuple[list[_Unit], bool, int, bool]:
        """Wait for work, then take everything queued behind it (up to a stop): the units, whether
        a checkpoint was asked for, how many batches were taken, and whether to stop."""
        batch: list[_Unit] = []
        checkpoint = False
        taken = 0
        item = self._queue.get()
        while item is not _STOP:
            if item == _CHECKPOINT:
                checkpoint = True
            elif isinstance(item, list):
                taken += 1
                batch.extend(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, checkpoint, taken, False
        return batch, checkpoint, taken, True

    def _commit(self, connection: Connection, batch: list[_Unit]) -> list[Outcome]:
        # A unit whose caller went away before it ran is dropped (once running, it completes).
        batch = [unit for unit in batch if not unit.future.cancelled()]
        if not batch:
            return []
        outcomes = self._run_batch(connection, batch, wait=True)
        assert outcomes is not None  # only a batch that may not wait gives up on the lock
        return outcomes

    def _run_batch(
        self, connection: Connection, batch: list[_Unit], *, wait: bool
    ) -> list[Outcome] | None:
        """Run the batch in one transaction; None if it may not `wait` and the lock is taken."""
        outcomes: list[Outcome] = []
        started = time.perf_counter()
        try:
            self._check()
            driver = connection.connection.driver_connection
            assert driver is not None
            # Taken here, not by SQLAlchemy's autobegin: a unit may run only driver statements.
            # On the thread, this is where it waits (busy_timeout) while another process writes.
            try:
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if not wait and _is_busy(error):
                    return None
                metrics.LOCK_TIMEOUTS.inc()
                raise
            locked = time.perf_counter()
            metrics.LOCK_WAIT_SECONDS.observe(locked - started)
            metrics.WRITE_BATCH_UNITS.observe(len(batch))
            if len(batch) == 1:  # the transaction is the unit's savepoint
                unit = batch[0]
                outcomes.append(
                    (unit, *unit.context.run(_run_alone, driver, connection, unit.work))
                )
            else:
                for unit in batch:
                    outcomes.append(
                        (unit, *unit.context.run(_run_unit, driver, connection, unit.work))
                    )
            connection.commit()  # ends SQLAlchemy's transaction if a statement began one
            driver.commit()
            metrics.WRITE_BATCH.observe(time.perf_counter() - locked)
        except BaseException as error:  # the transaction itself failed: nothing was committed
            _abandon(connection)
            if not isinstance(error, Exception):
                raise
            return _results(batch, error)
        metrics.WRITE_BATCHES.labels("thread" if wait else "inline").inc()
        return outcomes


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _checkpoint(connection: Connection) -> None:
    """Copy the WAL's committed pages into the database file, waiting for nobody (PASSIVE)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    with contextlib.suppress(sqlite3.Error):  # a checkpoint that cannot run now runs next time
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


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


def _run_alone(
    driver: Any, connection: Connection, work: Callable[[Connection], Any]
) -> tuple[Any, Exception | None]:
    """Run a batch's only unit with no savepoint: if it raises, roll back the transaction.

    The same outcome as `_run_unit` for a batch of one, without its SAVEPOINT and RELEASE,
    which cost about 25 µs: a tenth of a lone POST (docs/performance.md, group commit).
    """
    try:
        return work(connection), None
    except Exception as error:
        connection.rollback()  # SQLAlchemy's side; pysqlite ends the transaction too
        if driver.in_transaction:
            driver.rollback()
        return None, error


def _results(batch: list[_Unit], error: BaseException) -> list[Outcome]:
    return [(unit, None, error) for unit in batch]


def _settle_all(outcomes: list[Outcome]) -> None:
    """Hand each outcome to its caller's loop: one wake-up per loop, not one per unit."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        # A loop that has closed has nobody waiting for these any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settled)


def _settle(outcomes: list[Outcome]) -> None:
    """Answer each caller (on its loop)."""
    for unit, result, error in outcomes:
        if (
            unit.future.cancelled()
        ):  # the client went away; its unit committed (or not) all the same
            continue
        if error is not None:
            unit.future.set_exception(error)
        else:
            unit.future.set_result(result)

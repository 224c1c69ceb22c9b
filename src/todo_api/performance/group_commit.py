"""Group commit: the write units that arrive together share one transaction and one commit.

A commit is most of what a small write costs on SQLite: the changed table, index and full-text
pages are appended to the WAL once per commit (~100 µs for one todo). Under load, requests
arrive in bursts; running every unit that is waiting in one transaction writes each shared page
once and lets one commit acknowledge them all.

Each unit still stands alone: it runs inside its own SAVEPOINT, so a unit that raises is rolled
back by itself and its caller gets the exception, while the others commit. No caller hears
"done" before the commit that holds its changes has returned. When nothing else is waiting,
the batch is one unit and the cost is one event-loop turn.
"""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")
_SAVEPOINT = "unit"


class GroupCommit:
    """Collects write units submitted in the same event-loop turn and commits them together."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._waiting: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []

    async def submit(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._run_waiting)  # after the requests already ready this turn
        self._waiting.append((work, future))
        return await future

    def _run_waiting(self) -> None:
        batch, self._waiting = self._waiting, []
        batch = [(work, future) for work, future in batch if not future.cancelled()]
        if not batch:
            return
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        connection: Connection | None = None
        try:
            connection = self._connect()
            driver = connection.connection.driver_connection
            assert driver is not None
            # Taken here, not by SQLAlchemy's autobegin: a unit may run only driver statements.
            driver.execute("BEGIN IMMEDIATE")
            for work, future in batch:
                outcomes.append((future, *_run_unit(driver, connection, work)))
            connection.commit()  # ends SQLAlchemy's transaction if a statement began one
            driver.commit()
        except BaseException as error:  # the transaction itself failed: nothing was committed
            if connection is not None:
                _abandon(connection)
            for _work, future in batch:
                _settle(future, None, error)
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt and friends still stop the process
            return
        for future, result, failure in outcomes:
            _settle(future, result, failure)


def _abandon(connection: Connection) -> None:
    """Roll back whatever the failed batch left open, on both SQLAlchemy's side and the driver's."""
    connection.rollback()
    driver = connection.connection.driver_connection
    if driver is not None and driver.in_transaction:
        driver.rollback()


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


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the client went away; its unit committed (or not) all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)

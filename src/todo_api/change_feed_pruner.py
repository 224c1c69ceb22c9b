"""Keeps the change feed bounded: every process deletes changes older than
TODO_EVENTS_RETENTION_HOURS, now and then, off the request path (docs/api.md, "Live changes").

Why a periodic task and not a step of each write: a write's unit of work stays as small as it
is (repository/changes.record is the hot path), and the deleting is done in batches of
`BATCH` rows, each its own `long` unit: on SQLite it runs on the writer thread, never on the
event loop, and between batches other writes take their turn; on PostgreSQL every unit runs off
the loop. Several workers and replicas may prune at once: a batch that another already deleted
deletes nothing (repository/change_retention.py).
"""

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial

from todo_api.db import Database
from todo_api.domain import clock
from todo_api.logs import LOGGER_NAME
from todo_api.repository import change_retention

BATCH = 1000
# A row lives at most a tenth longer than the retention; a sweep that finds nothing costs one
# read of the oldest `BATCH` keys.
SWEEPS_PER_RETENTION = 10
MIN_SWEEP_SECONDS = 1.0
MAX_SWEEP_SECONDS = 300.0

error_logger = logging.getLogger(f"{LOGGER_NAME}.error")


def sweep_seconds(retention: dt.timedelta) -> float:
    """How long between two sweeps, for this retention."""
    every = retention.total_seconds() / SWEEPS_PER_RETENTION
    return min(max(every, MIN_SWEEP_SECONDS), MAX_SWEEP_SECONDS)


async def prune_once(database: Database, retention: dt.timedelta) -> int:
    """Delete every change older than `retention`, a batch per unit of work; how many."""
    before = clock.now() - retention
    total = 0
    while True:
        deleted = await database.write(
            partial(change_retention.prune_changes, before=before, limit=BATCH), long=True
        )
        total += deleted
        if deleted < BATCH:
            return total


async def prune_forever(database: Database, retention: dt.timedelta) -> None:
    """Sweep every `sweep_seconds(retention)` until cancelled; a failed sweep (the database
    busy or away) is logged and tried again at the next."""
    pause = sweep_seconds(retention)
    while True:
        await asyncio.sleep(pause)
        try:
            await prune_once(database, retention)
        except Exception:
            error_logger.warning("pruning the change feed failed", exc_info=True)


@asynccontextmanager
async def pruning(database: Database, retention: dt.timedelta) -> AsyncIterator[None]:
    """Prune in the background while the block runs (the app's lifespan)."""
    task = asyncio.create_task(prune_forever(database, retention), name="change-feed-pruner")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

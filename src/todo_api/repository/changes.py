"""The change feed's table: every write records what it changed here, in one place (`record`),
and `GET /events` reads what came after a sequence number (`changes_after`).

`seq` grows with every change of every user, so it grows for each user: a client that resumes
after the last `seq` it saw misses nothing (docs/api.md, "Live changes"). CalDAV sync tokens and
webhooks will read the same rows (the roadmap's "one place that records every change").
"""

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain import clock
from todo_api.performance import driver_statements
from todo_api.tables import changes

Kind = Literal["todo", "list", "todos"]
Action = Literal["created", "updated", "deleted"]


class Change(NamedTuple):
    seq: int
    kind: str
    entity_id: int | None
    action: str
    changed_at: dt.datetime


_INSERT = sa.insert(changes)  # SQLite: its write lock already serializes every writer

# PostgreSQL: a user's writers do not queue behind each other (a row lock of the user's, as
# before, made each wait for the one before it to commit, fsync included: a few hundred writes a
# second). Each takes the user's feed lock SHARED, in the statement that takes its `seq` and
# before it takes it (the subquery, kept apart by OFFSET 0, runs before the insert's defaults);
# the lock lasts until its commit. A reader takes it EXCLUSIVE (`quiet_feed`): it waits until
# every writer that has taken a `seq` has committed or rolled back, and holds later writers back
# while it reads, so it never sees a later `seq` without the earlier ones. The lock manager
# queues a writer behind a waiting reader, so readers are not starved. (Two-key advisory locks:
# another key space than the migrations' one-key lock.)
FEED_LOCK_SPACE = 0x70D0_FEED
_USER_KEY = sa.bindparam("owner_id", type_=sa.Integer)
_INSERT_SHARING_THE_FEED = sa.insert(changes).from_select(
    ["owner_id", "kind", "entity_id", "action", "changed_at"],
    sa.select(
        _USER_KEY,
        sa.bindparam("kind", type_=changes.c.kind.type),
        sa.bindparam("entity_id", type_=changes.c.entity_id.type),
        sa.bindparam("action", type_=changes.c.action.type),
        sa.bindparam("changed_at", type_=changes.c.changed_at.type),
    ).select_from(
        sa.select(sa.func.pg_advisory_xact_lock_shared(FEED_LOCK_SPACE, _USER_KEY))
        .offset(0)
        .subquery("feed_lock")
    ),
)
_QUIET_FEED = sa.select(sa.func.pg_advisory_lock(FEED_LOCK_SPACE, _USER_KEY))
_RELEASE_FEED = sa.select(sa.func.pg_advisory_unlock(FEED_LOCK_SPACE, _USER_KEY))
POSTGRESQL = "postgresql"
_AFTER = (
    sa.select(
        changes.c.seq, changes.c.kind, changes.c.entity_id, changes.c.action, changes.c.changed_at
    )
    .where(changes.c.owner_id == sa.bindparam("owner_id"), changes.c.seq > sa.bindparam("after"))
    .order_by(changes.c.seq)
    .limit(sa.bindparam("limit"))
)


def record(
    connection: Connection,
    owner_id: int,
    kind: Kind,
    entity_id: int | None,
    action: Action,
    now: dt.datetime | None = None,
) -> None:
    """Note a change, in the transaction that makes it: it is seen when that commits.

    `kind` "todos" with no `entity_id` is a bulk change or an import: clients read again.
    One user's changes take their `seq` in commit order, so a reader never sees a later one
    before an earlier one commits: SQLite's write lock serializes every writer, so there the
    insert is all (on the driver directly: every write pays for it); on PostgreSQL writers
    share the user's feed lock and readers wait for them (`_INSERT_SHARING_THE_FEED`)."""
    change = {
        "owner_id": owner_id,
        "kind": kind,
        "entity_id": entity_id,
        "action": action,
        "changed_at": now or clock.now(),
    }
    if connection.dialect.name == POSTGRESQL:
        driver_statements.execute(connection, _INSERT_SHARING_THE_FEED, change)
        return
    driver_statements.insert_many(connection, _INSERT, [change])


@contextlib.contextmanager
def quiet_feed(connection: Connection, owner_id: int) -> Iterator[None]:
    """PostgreSQL: no writer of the user's between taking a `seq` and committing, while this
    lasts. The connection must be in autocommit (as `Database.read` runs it), so that what is
    read next is a snapshot taken after the wait, and the lock is the session's, let go here
    (or with the connection, should it be lost)."""
    if connection.dialect.name != POSTGRESQL:
        yield
        return
    connection.execute(_QUIET_FEED, {"owner_id": owner_id})
    try:
        yield
    finally:
        connection.execute(_RELEASE_FEED, {"owner_id": owner_id})


def changes_after(connection: Connection, owner_id: int, after: int, limit: int) -> list[Change]:
    with quiet_feed(connection, owner_id):
        return [
            Change._make(row)
            for row in connection.execute(
                _AFTER, {"owner_id": owner_id, "after": after, "limit": limit}
            )
        ]

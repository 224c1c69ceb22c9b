"""The change feed's table: every write records what it changed here, in one place (`record`),
and `GET /events` reads what came after a sequence number (`changes_after`).

`seq` grows with every change of every user, so it grows for each user: a client that resumes
after the last `seq` it saw misses nothing (docs/api.md, "Live changes"). CalDAV sync tokens and
webhooks will read the same rows (the roadmap's "one place that records every change").
"""

import datetime as dt
from typing import Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain import clock
from todo_api.performance.driver_statements import SQLITE_ONLY, insert_many
from todo_api.tables import changes, users

Kind = Literal["todo", "list", "todos"]
Action = Literal["created", "updated", "deleted"]


class Change(NamedTuple):
    seq: int
    kind: str
    entity_id: int | None
    action: str
    changed_at: dt.datetime


_INSERT = sa.insert(changes)
# FOR NO KEY UPDATE: one user's writers queue here, but the FOR KEY SHARE lock that a foreign
# key check takes on the same row (inserting a todo or an idempotency key) neither waits for it
# nor makes it wait; FOR UPDATE would deadlock with those.
_LOCK_USER = (
    sa.select(users.c.id)
    .where(users.c.id == sa.bindparam("owner_id"))
    .with_for_update(key_share=True)
)
_AFTER = (
    sa.select(
        changes.c.seq, changes.c.kind, changes.c.entity_id, changes.c.action, changes.c.changed_at
    )
    .where(changes.c.owner_id == sa.bindparam("owner_id"), changes.c.seq > sa.bindparam("after"))
    .order_by(changes.c.seq)
    .limit(sa.bindparam("limit"))
)
_LAST = sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0)).where(
    changes.c.owner_id == sa.bindparam("owner_id")
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
    On PostgreSQL the user's row is locked first, so one user's changes take their `seq` in
    commit order and a reader never sees a later one before an earlier one commits; SQLite's
    write lock already serializes every writer, so there the insert is all (on the driver
    directly: every write pays for it)."""
    if connection.dialect.name != SQLITE_ONLY:
        connection.execute(_LOCK_USER, {"owner_id": owner_id})
    change = {
        "owner_id": owner_id,
        "kind": kind,
        "entity_id": entity_id,
        "action": action,
        "changed_at": now or clock.now(),
    }
    insert_many(connection, _INSERT, [change])


def changes_after(connection: Connection, owner_id: int, after: int, limit: int) -> list[Change]:
    return [
        Change._make(row)
        for row in connection.execute(
            _AFTER, {"owner_id": owner_id, "after": after, "limit": limit}
        )
    ]


def last_seq(connection: Connection, owner_id: int) -> int:
    return int(connection.execute(_LAST, {"owner_id": owner_id}).scalar_one())

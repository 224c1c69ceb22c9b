"""The change feed's retention: old rows of the changes table are deleted (`prune_changes`), and
how far each user's were deleted is kept (`feed_position`), so that `GET /events` can tell a
client that resumes from an older id that it may have missed changes (docs/api.md, "Live
changes").

Pruning is its own unit of work, run off the request path by change_feed_pruner.py; it never
touches `changes.record`'s statements. It deletes a prefix of the table in `seq` order: once a
row is gone, every older one is too, so "pruned through seq N" is one number per user.

The newest row of the whole table is never deleted: on SQLite `seq` is the rowid, which
reuses the highest number once that row is gone, and a reused `seq` would hand a resuming
client a change it already counted as seen.
"""

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from todo_api.repository.changes import quiet_feed
from todo_api.tables import change_horizons, changes


class FeedPosition(NamedTuple):
    """Where a user's change feed stands: the last `seq` recorded (0 for none kept) and the last
    one pruned (0 for none)."""

    last_seq: int
    pruned_through: int

    @property
    def current(self) -> int:
        """The id a stream starts after when it is to show only what comes next."""
        return max(self.last_seq, self.pruned_through)


_OLDEST = (
    sa.select(changes.c.seq, changes.c.changed_at)
    .order_by(changes.c.seq)
    .limit(sa.bindparam("limit"))
)
_NEWEST = sa.select(sa.func.max(changes.c.seq))
_DELETE_THROUGH = (
    sa.delete(changes)
    .where(changes.c.seq <= sa.bindparam("through"))
    .returning(changes.c.owner_id, changes.c.seq)
)
_POSITION = sa.select(
    sa.select(sa.func.coalesce(sa.func.max(changes.c.seq), 0))
    .where(changes.c.owner_id == sa.bindparam("owner_id"))
    .scalar_subquery(),
    sa.select(sa.func.coalesce(sa.func.max(change_horizons.c.pruned_through), 0))
    .where(change_horizons.c.owner_id == sa.bindparam("owner_id"))
    .scalar_subquery(),
)


def prune_changes(connection: Connection, before: dt.datetime, limit: int) -> int:
    """Delete up to `limit` of the oldest changes made before `before`, and note per user the
    last `seq` deleted. Returns how many were deleted: `limit` means there may be more.

    Walks the primary key from the oldest row and stops at the first one that is recent
    enough, so each call reads at most `limit` rows whatever the table holds."""
    through = None
    for seq, changed_at in connection.execute(_OLDEST, {"limit": limit}):
        if changed_at >= before:
            break
        through = seq
    if through is None:
        return 0
    newest = connection.execute(_NEWEST).scalar_one()
    through = min(through, newest - 1)
    if through < 1:
        return 0
    deleted = connection.execute(_DELETE_THROUGH, {"through": through}).all()
    _raise_horizons(connection, ((owner_id, seq) for owner_id, seq in deleted))
    return len(deleted)


def _raise_horizons(connection: Connection, deleted: Iterable[tuple[int, int]]) -> None:
    """Move each user's `pruned_through` up to the highest `seq` deleted, never down (two
    processes may prune at once)."""
    highest: dict[int, int] = {}
    for owner_id, seq in deleted:
        highest[owner_id] = max(seq, highest.get(owner_id, 0))
    if not highest:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(change_horizons)
    proposed = insert.excluded.pruned_through
    upsert = insert.on_conflict_do_update(
        index_elements=[change_horizons.c.owner_id],
        set_={
            "pruned_through": sa.case(
                (proposed > change_horizons.c.pruned_through, proposed),
                else_=change_horizons.c.pruned_through,
            )
        },
    )
    connection.execute(
        upsert,
        [{"owner_id": owner_id, "pruned_through": seq} for owner_id, seq in highest.items()],
    )


def feed_position(connection: Connection, owner_id: int) -> FeedPosition:
    """The user's last recorded and last pruned `seq`, read together in one statement (on
    PostgreSQL once no write of the user's holds an earlier `seq` uncommitted: `quiet_feed`)."""
    with quiet_feed(connection, owner_id):
        row = connection.execute(_POSITION, {"owner_id": owner_id}).one()
    return FeedPosition(int(row[0]), int(row[1]))

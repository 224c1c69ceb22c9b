"""SQL for tags: the todo_tags index behind tag filters and tag counts."""

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.performance.driver_statements import fetch
from todo_api.tables import todo_tags


class TagCount(NamedTuple):
    name: str
    todos: int


_COUNTS = (
    sa.select(sa.func.min(todo_tags.c.name), sa.func.count())
    .where(todo_tags.c.owner_id == sa.bindparam("match_owner_id"))
    .group_by(todo_tags.c.tag_key)
    .order_by(todo_tags.c.tag_key)
)
_DELETE_FOR_TODO = sa.delete(todo_tags).where(todo_tags.c.todo_id == sa.bindparam("match_id"))


def tag_key(name: str) -> str:
    """Tags match without regard to case."""
    return name.casefold()


def list_tags(connection: Connection, owner_id: int) -> list[TagCount]:
    return [TagCount(*row) for row in fetch(connection, _COUNTS, {"match_owner_id": owner_id})]


def set_todo_tags(
    connection: Connection, owner_id: int, todo_id: int, names: list[str], *, new: bool = False
) -> None:
    """Make the index rows of one todo match `names` (already unique without regard to case).

    A `new` todo has no rows yet, which saves a statement on the hot create path.
    """
    if not new:
        connection.execute(_DELETE_FOR_TODO, {"match_id": todo_id})
    if names:
        connection.execute(
            sa.insert(todo_tags),
            [
                {"todo_id": todo_id, "tag_key": tag_key(name), "owner_id": owner_id, "name": name}
                for name in names
            ],
        )

"""SQL for tags: the todo_tags index behind tag filters and tag counts."""

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain.tags import tag_key
from todo_api.performance.driver_statements import fetch, insert_many
from todo_api.repository.access import reachable
from todo_api.tables import todo_tags


class TagCount(NamedTuple):
    name: str
    todos: int


_COUNTS = (
    sa.select(sa.func.min(todo_tags.c.name), sa.func.count())
    .where(reachable(todo_tags, sa.bindparam("match_owner_id")))
    .group_by(todo_tags.c.tag_key)
    .order_by(todo_tags.c.tag_key)
)
_DELETE_FOR_TODO = sa.delete(todo_tags).where(todo_tags.c.todo_id == sa.bindparam("match_id"))
_INSERT = sa.insert(todo_tags)


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
    add_todo_tags(connection, owner_id, [(todo_id, names)])


def replace_tags_of_many(
    connection: Connection, owner_id: int, todo_ids: sa.Select[Any], names: Sequence[str]
) -> None:
    """Give every todo `todo_ids` selects exactly the tags `names`: a statement per tag, not per
    todo (bulk changes)."""
    connection.execute(sa.delete(todo_tags).where(todo_tags.c.todo_id.in_(todo_ids)))
    for name in names:
        rows = sa.select(
            todo_ids.selected_columns[0],
            sa.literal(tag_key(name)),
            sa.literal(owner_id),
            sa.literal(name),
        )
        connection.execute(_INSERT.from_select(["todo_id", "tag_key", "owner_id", "name"], rows))


def add_todo_tags(
    connection: Connection, owner_id: int, tags_of_todos: Iterable[tuple[int, Sequence[str]]]
) -> None:
    """Index the tags of todos that have no index rows yet, in one statement."""
    rows = [
        {"todo_id": todo_id, "tag_key": tag_key(name), "owner_id": owner_id, "name": name}
        for todo_id, names in tags_of_todos
        for name in names
    ]
    insert_many(connection, _INSERT, rows)

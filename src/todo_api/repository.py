"""Every SQL statement of the service. Each function takes the caller's user id and scopes to it."""

import datetime as dt
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from todo_api.db import fetch
from todo_api.errors import TodoNotFound
from todo_api.pagination import Position
from todo_api.tables import todos


class Todo(NamedTuple):
    """A stored todo, as every function here returns it."""

    id: int
    title: str
    description: str | None
    completed: bool
    completed_at: dt.datetime | None
    order: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


_TODO_COLUMNS = [todos.c[name] for name in Todo._fields]


def _todo(row: Row[Any]) -> Todo:
    return Todo._make(row)


_NEWEST_FIRST = (todos.c.created_at.desc(), todos.c.id.desc())


MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL's bigint store


def is_storable_id(todo_id: int) -> bool:
    """An id outside the storable range names no todo (and would overflow the driver)."""
    return 0 < todo_id <= MAX_ID


# Statements are built once: building one costs more than running it on SQLite.
_OWNED_TODO = sa.and_(
    todos.c.id == sa.bindparam("match_id"), todos.c.owner_id == sa.bindparam("match_owner_id")
)
_SELECT_TODO = sa.select(*_TODO_COLUMNS).where(_OWNED_TODO)
_INSERT_TODO = sa.insert(todos).returning(*_TODO_COLUMNS)
_NEW_TODO_DEFAULTS = {"description": None, "completed": False, "order": None}
_DELETE_TODO = sa.delete(todos).where(_OWNED_TODO)


def get_todo(connection: Connection, owner_id: int, todo_id: int) -> Todo:
    if not is_storable_id(todo_id):
        raise TodoNotFound(todo_id)
    rows = fetch(connection, _SELECT_TODO, {"match_id": todo_id, "match_owner_id": owner_id})
    if not rows:
        raise TodoNotFound(todo_id)
    return Todo._make(rows[0])


def list_todos(
    connection: Connection,
    owner_id: int,
    *,
    limit: int,
    completed: bool | None = None,
    after: Position | None = None,
) -> list[Todo]:
    """Up to `limit` todos, newest first, starting strictly after `after` (keyset pagination)."""
    parameters: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "completed": completed}
    if after is not None:
        parameters |= {"after_created_at": after.created_at, "after_id": after.id}
    query = _page_query(filter_completed=completed is not None, has_position=after is not None)
    return [Todo._make(row) for row in fetch(connection, query, parameters)]


@cache
def _page_query(*, filter_completed: bool, has_position: bool) -> sa.Select[Any]:
    query = sa.select(*_TODO_COLUMNS).where(todos.c.owner_id == sa.bindparam("owner_id"))
    if filter_completed:
        query = query.where(todos.c.completed == sa.bindparam("completed"))
    if has_position:
        position = sa.tuple_(
            sa.bindparam("after_created_at", type_=todos.c.created_at.type),
            sa.bindparam("after_id", type_=todos.c.id.type),
        )
        query = query.where(sa.tuple_(todos.c.created_at, todos.c.id) < position)
    return query.order_by(*_NEWEST_FIRST).limit(sa.bindparam("limit"))


def create_todo(
    connection: Connection, owner_id: int, values: dict[str, Any], now: dt.datetime
) -> Todo:
    """Insert a todo from its field values (title, description, completed, order)."""
    row = {
        **_NEW_TODO_DEFAULTS,
        **values,
        "owner_id": owner_id,
        "completed_at": now if values.get("completed") else None,
        "created_at": now,
        "updated_at": now,
    }
    return Todo._make(fetch(connection, _INSERT_TODO, row)[0])


def update_todo(
    connection: Connection,
    owner_id: int,
    todo_id: int,
    changes: dict[str, Any],
    now: dt.datetime,
) -> Todo:
    """Apply `changes` in one statement; `completed_at` follows `completed` when it is changed."""
    if not is_storable_id(todo_id):
        raise TodoNotFound(todo_id)
    if not changes:  # an empty merge patch changes nothing, not even updated_at
        return get_todo(connection, owner_id, todo_id)
    values: dict[str, Any] = {**changes, "updated_at": now}
    if "completed" in changes:
        # Completing keeps the first completion time; reopening clears it.
        values["completed_at"] = (
            sa.func.coalesce(todos.c.completed_at, sa.literal(now, todos.c.completed_at.type))
            if changes["completed"]
            else None
        )
    row = connection.execute(
        sa.update(todos).where(_OWNED_TODO).values(**values).returning(*_TODO_COLUMNS),
        {"match_id": todo_id, "match_owner_id": owner_id},
    ).one_or_none()
    if row is None:
        raise TodoNotFound(todo_id)
    return _todo(row)


def delete_todo(connection: Connection, owner_id: int, todo_id: int) -> None:
    if not is_storable_id(todo_id):
        raise TodoNotFound(todo_id)
    result = connection.execute(_DELETE_TODO, {"match_id": todo_id, "match_owner_id": owner_id})
    if result.rowcount == 0:
        raise TodoNotFound(todo_id)

"""SQL for bulk changes: one merge patch or a delete applied to every todo a filter selects.

Set-based: a bulk change is a handful of statements whatever the number of todos, so 100,000
todos change in about a second (one row at a time in Python took over half a minute). The ids
are first copied into a temporary table, so that every statement acts on the todos that matched
*before* the change (a patch may change what the filter selects: `?completed=false` with
`{"completed": true}`), and the per-row rules of `todos.update_todo` are written as SQL
expressions over each row's own values. tests/test_bulk.py checks both give the same todos.
"""

import datetime as dt
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain.due import NO_DUE, due_key, offset_minutes
from todo_api.domain.order import order_key
from todo_api.repository import changes as changes_repository
from todo_api.repository import lists as lists_repository
from todo_api.repository.search_index import index_pending_search
from todo_api.repository.tags import replace_tags_of_many
from todo_api.repository.todos import TodoCriteria, filter_parameters, matching_ids
from todo_api.tables import todos

# The ids a bulk change acts on; a temporary table lives as long as its connection.
_matched = sa.Table(
    "bulk_matched_todos",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    prefixes=["TEMPORARY"],
)
_MATCHED_IDS = sa.select(_matched.c.id)
# API fields that are stored as they are given (the others have derived columns).
_PLAIN_FIELDS = ("title", "description", "priority", "list_id")


def delete_todos(
    connection: Connection, owner_id: int, filters: TodoCriteria, now: dt.datetime
) -> int:
    """Delete every matching todo (all of the owner's without filters); returns the count."""
    if filters.q is not None:
        index_pending_search(connection)
    parameters = filter_parameters(filters, owner_id, now)
    result = connection.execute(
        sa.delete(todos).where(todos.c.id.in_(matching_ids(filters))), parameters
    )
    if result.rowcount:
        changes_repository.record(connection, owner_id, "todos", None, "deleted", now)
    return result.rowcount


def update_todos(
    connection: Connection,
    owner_id: int,
    filters: TodoCriteria,
    changes: dict[str, Any],
    now: dt.datetime,
) -> int:
    """Apply the same merge patch to every matching todo; returns how many matched.

    Each todo changes as `todos.update_todo` would change it alone: version + 1, `updated_at`
    now, completing again keeps the first `completed_at`, setting one due field clears the
    other. An empty patch changes nothing, not even `updated_at`.
    """
    if filters.q is not None:
        index_pending_search(connection)
    matched = _remember_matches(connection, filters, owner_id, now)
    if not changes or not matched:
        return matched
    changes = dict(changes)
    if "list_id" in changes:
        if changes["list_id"] is None:
            changes["list_id"] = lists_repository.default_list_id(connection, owner_id, now)
        else:
            lists_repository.require_list(connection, owner_id, changes["list_id"])
    connection.execute(
        sa.update(todos)
        .where(todos.c.id.in_(_MATCHED_IDS))
        .values(**_new_values(changes, now), version=todos.c.version + 1, updated_at=now)
    )
    if "tags" in changes:
        replace_tags_of_many(connection, owner_id, _MATCHED_IDS, changes["tags"])
    changes_repository.record(connection, owner_id, "todos", None, "updated", now)
    return matched


def _remember_matches(
    connection: Connection, filters: TodoCriteria, owner_id: int, now: dt.datetime
) -> int:
    _matched.create(connection, checkfirst=True)
    connection.execute(sa.delete(_matched))
    inserted = connection.execute(
        # psycopg's count of an INSERT's rows is kept only when asked for.
        sa.insert(_matched)
        .from_select(["id"], matching_ids(filters))
        .execution_options(preserve_rowcount=True),
        filter_parameters(filters, owner_id, now),
    )
    return inserted.rowcount


def _new_values(changes: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Column values (or SQL expressions over the row's own) for a merge patch."""
    values: dict[str, Any] = {name: changes[name] for name in _PLAIN_FIELDS if name in changes}
    if "order" in changes:
        values["order"] = changes["order"]
        values["order_key"] = order_key(changes["order"])
    if "tags" in changes:
        values["tags"] = orjson.dumps(changes["tags"]).decode()
    if "completed" in changes:
        values["completed"] = changes["completed"]
        values["completed_at"] = (
            sa.case((todos.c.completed, todos.c.completed_at), else_=_as(todos.c.completed_at, now))
            if changes["completed"]
            else None
        )
    return values | _due_values(changes)


def _due_values(changes: dict[str, Any]) -> dict[str, Any]:
    """due_date and due_at exclude each other: setting one clears the other; the key follows."""
    due_date, due_at = changes.get("due_date"), changes.get("due_at")
    if due_date is not None or due_at is not None:  # a new due moment for every todo
        return {
            "due_date": due_date,
            "due_at": due_at,
            "due_offset_minutes": offset_minutes(due_at),
            "due_key": due_key(due_date, due_at),
        }
    values: dict[str, Any] = {}
    if "due_date" in changes:  # cleared: the key is due_at's, if the todo has one
        values["due_date"] = None
        values["due_key"] = sa.case(
            (todos.c.due_at.is_(None), _as(todos.c.due_key, NO_DUE)), else_=todos.c.due_key
        )
    if "due_at" in changes:  # cleared: the key is due_date's, if the todo has one
        values["due_at"] = None
        values["due_offset_minutes"] = None
        values["due_key"] = sa.case(
            (todos.c.due_date.is_(None), _as(todos.c.due_key, NO_DUE)), else_=todos.c.due_key
        )
    if "due_date" in changes and "due_at" in changes:
        values["due_key"] = NO_DUE
    return values


def _as(column: sa.Column[Any], value: Any) -> sa.BindParameter[Any]:
    """`value` bound as `column` stores it (inside an expression it would get a generic type)."""
    return sa.literal(value, type_=column.type)

"""SQL for export and import: an owner's todos read in pages, and inserts keeping given timestamps.

The document (its format, validation and defaults) is todo_api.export_document's; this module
writes what it decided. Imported rows get the same derived columns as created ones
(`todos.stored_fields`), so they sort and filter alike.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.performance.driver_statements import insert_many
from todo_api.repository import changes as changes_repository
from todo_api.repository.access import reachable
from todo_api.repository.tags import add_todo_tags
from todo_api.repository.todos import Todo, stored_fields
from todo_api.tables import lists, todos


class ImportedList(NamedTuple):
    name: str
    order: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ImportedTodo(NamedTuple):
    fields: dict[str, Any]  # the API fields, with list_id resolved
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


# Oldest first, so an import recreates them in the same order; (created_at, id) is a key of the
# index (owner_id, created_at, id), so each page starts where the last ended, at any depth.
_ORDER = (todos.c.created_at, todos.c.id)
_SELECT_FIRST_PAGE = (
    sa.select(*[todos.c[name] for name in Todo._fields])
    .where(reachable(todos, sa.bindparam("match_owner_id")))
    .order_by(*_ORDER)
    .limit(sa.bindparam("page_size"))
)
_SELECT_NEXT_PAGE = _SELECT_FIRST_PAGE.where(
    sa.tuple_(*_ORDER)
    > sa.tuple_(
        sa.bindparam("after_created_at", type_=todos.c.created_at.type),
        sa.bindparam("after_id", type_=todos.c.id.type),
    )
)
_INSERT_LIST = sa.insert(lists).returning(lists.c.id)
_INSERT_TODOS = sa.insert(todos)
_LAST_TODO_ID = sa.select(sa.func.coalesce(sa.func.max(todos.c.id), 0))
_TODO_IDS_AFTER = (
    sa.select(todos.c.id).where(todos.c.id > sa.bindparam("after")).order_by(todos.c.id)
)
_MERGE_DEFAULT_LIST = (
    sa.update(lists)
    .where(lists.c.id == sa.bindparam("match_id"), reachable(lists, sa.bindparam("match_owner")))
    .values(version=lists.c.version + 1)
)


def todo_pages(connection: Connection, owner_id: int, page_size: int) -> Iterator[list[Todo]]:
    """Every todo of the owner, oldest first, `page_size` at a time: memory stays one page.

    Each page is its own statement (keyset), so between pages nothing of the read is held but
    the caller's transaction: in one snapshot the pages add up to one consistent state.
    """
    parameters: dict[str, Any] = {"match_owner_id": owner_id, "page_size": page_size}
    page = [Todo._make(row) for row in connection.execute(_SELECT_FIRST_PAGE, parameters)]
    while page:
        yield page
        if len(page) < page_size:
            return
        last = page[-1]
        parameters |= {"after_created_at": last.created_at, "after_id": last.id}
        page = [Todo._make(row) for row in connection.execute(_SELECT_NEXT_PAGE, parameters)]


def merge_into_default_list(
    connection: Connection, owner_id: int, default_id: int, values: ImportedList
) -> None:
    """The document's default list becomes the owner's: its name, order and timestamps."""
    connection.execute(
        _MERGE_DEFAULT_LIST.values(**values._asdict()),
        {"match_id": default_id, "match_owner": owner_id},
    )


def insert_list(connection: Connection, owner_id: int, values: ImportedList) -> int:
    row = {**values._asdict(), "owner_id": owner_id, "is_default": False, "version": 1}
    list_id: int = connection.execute(_INSERT_LIST, row).scalar_one()
    return list_id


def insert_todos(
    connection: Connection, owner_id: int, batch: Sequence[ImportedTodo], now: dt.datetime
) -> None:
    """Insert a batch of todos (one executemany) with their tags; timestamps as given."""
    rows = []
    for todo in batch:
        row = stored_fields(todo.fields, now)
        row["completed_at"] = todo.completed_at
        rows.append(
            {
                **row,
                "owner_id": owner_id,
                "version": 1,
                "created_at": todo.created_at,
                "updated_at": todo.updated_at,
            }
        )
    ids = _insert_in_order(connection, rows)
    changes_repository.record(connection, owner_id, "todos", None, "created", now)
    add_todo_tags(
        connection,
        owner_id,
        [(todo_id, todo.fields["tags"]) for todo_id, todo in zip(ids, batch, strict=True)],
    )


def _insert_in_order(connection: Connection, rows: list[dict[str, Any]]) -> Sequence[int]:
    """Insert `rows`; the new ids in the order of `rows`.

    On SQLite, RETURNING in parameter order means one statement per row (SQLAlchemy cannot
    trust the order of a multi-row RETURNING there), ~35 µs a todo. A plain executemany runs in
    the driver's C loop; the unit holds the write lock, and SQLite gives each new row, in order,
    the largest id it ever handed out plus one (AUTOINCREMENT, migration 0010), so the new ids
    are exactly those above the largest one present before.
    (SQLite only, as the service is today; another database would use RETURNING.)
    """
    last_id = connection.execute(_LAST_TODO_ID).scalar_one()
    insert_many(connection, _INSERT_TODOS, rows)
    ids = connection.execute(_TODO_IDS_AFTER, {"after": last_id}).scalars().all()
    assert len(ids) == len(rows), "another writer inserted todos inside our write lock"
    return ids

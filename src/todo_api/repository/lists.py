"""SQL for todo lists. Every user has one default list ("Inbox") that cannot be deleted."""

import datetime as dt
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain.ids import is_storable_id
from todo_api.domain.order import NO_ORDER
from todo_api.domain.versions import VersionCondition, require_version
from todo_api.errors import Conflict, DefaultListMadeConcurrently, InvalidField, ListNotFound
from todo_api.performance.driver_statements import fetch
from todo_api.repository import changes as changes_repository
from todo_api.repository.access import reachable
from todo_api.tables import DEFAULT_LIST_INDEX, DEFAULT_LIST_NAME, lists


class TodoList(NamedTuple):
    id: int
    name: str
    order: float | None
    is_default: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


_COLUMNS = [lists.c[name] for name in TodoList._fields]
_OWNED = sa.and_(
    lists.c.id == sa.bindparam("match_id"), reachable(lists, sa.bindparam("match_owner_id"))
)
_SELECT_ONE = sa.select(*_COLUMNS).where(_OWNED)
_SELECT_DEFAULT_ID = sa.select(lists.c.id).where(
    reachable(lists, sa.bindparam("match_owner_id")), lists.c.is_default
)
_SELECT_ALL = (
    sa.select(*_COLUMNS)
    .where(reachable(lists, sa.bindparam("match_owner_id")))
    .order_by(sa.func.coalesce(lists.c.order, NO_ORDER), lists.c.created_at, lists.c.id)
)
_INSERT = sa.insert(lists).returning(*_COLUMNS)
_DEFAULT_LIST_IDS = "todo_api.default_list_ids"  # key in Connection.info


def _get(connection: Connection, owner_id: int, list_id: int) -> TodoList | None:
    if not is_storable_id(list_id):
        return None
    rows = fetch(connection, _SELECT_ONE, {"match_id": list_id, "match_owner_id": owner_id})
    return TodoList._make(rows[0]) if rows else None


def get_list(connection: Connection, owner_id: int, list_id: int) -> TodoList:
    found = _get(connection, owner_id, list_id)
    if found is None:
        raise ListNotFound(list_id)
    return found


def require_list(connection: Connection, owner_id: int, list_id: int) -> None:
    """For a todo's `list_id` in a request body: an unknown list is an invalid field."""
    if _get(connection, owner_id, list_id) is None:
        raise InvalidField("list_id", f"there is no list with id {list_id}")


def list_lists(connection: Connection, owner_id: int) -> list[TodoList]:
    return [
        TodoList._make(row) for row in fetch(connection, _SELECT_ALL, {"match_owner_id": owner_id})
    ]


def default_list_id(connection: Connection, owner_id: int, now: dt.datetime) -> int:
    """The owner's default list, created on first use.

    A default list is never deleted or replaced, so its id is remembered on the connection
    (which is bound to one database): most creates then skip a query.

    A new user's first writes sent at once (two tabs, two replicas) all find no list; on
    PostgreSQL the ones that lose the race for the unique index run again and find the winner's.
    """
    known: dict[int, int] = connection.info.setdefault(_DEFAULT_LIST_IDS, {})
    if owner_id not in known:
        rows = fetch(connection, _SELECT_DEFAULT_ID, {"match_owner_id": owner_id})
        if rows:
            known[owner_id] = rows[0][0]
        else:
            try:
                new = create_list(
                    connection, owner_id, {"name": DEFAULT_LIST_NAME}, now, is_default=True
                )
            except sa.exc.IntegrityError as error:
                if DEFAULT_LIST_INDEX not in str(error.orig):
                    raise
                raise DefaultListMadeConcurrently(
                    "Another request made your default list first; retry."
                ) from None
            return new.id  # remembered once its transaction has committed and it is read again
    return known[owner_id]


def create_list(
    connection: Connection,
    owner_id: int,
    values: dict[str, Any],
    now: dt.datetime,
    *,
    is_default: bool = False,
) -> TodoList:
    row = {
        "owner_id": owner_id,
        "name": values["name"],
        "order": values.get("order"),
        "is_default": is_default,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    created = TodoList._make(connection.execute(_INSERT, row).one())
    changes_repository.record(connection, owner_id, "list", created.id, "created", now)
    return created


def update_list(
    connection: Connection,
    owner_id: int,
    list_id: int,
    changes: dict[str, Any],
    now: dt.datetime,
    condition: VersionCondition | None = None,
) -> TodoList:
    current = get_list(connection, owner_id, list_id)
    require_version(condition, current.version, f"List {list_id}")
    if not changes:
        return current
    row = connection.execute(
        sa.update(lists)
        .where(_OWNED, lists.c.version == current.version)
        .values(**changes, version=current.version + 1, updated_at=now)
        .returning(*_COLUMNS),
        {"match_id": list_id, "match_owner_id": owner_id},
    ).one()
    changes_repository.record(connection, owner_id, "list", list_id, "updated", now)
    return TodoList._make(row)


def delete_list(
    connection: Connection,
    owner_id: int,
    list_id: int,
    condition: VersionCondition | None = None,
) -> None:
    """Delete a list and, by the foreign key's cascade, every todo in it."""
    current = get_list(connection, owner_id, list_id)
    if current.is_default:
        raise Conflict("The default list cannot be deleted; rename it or move its todos instead.")
    require_version(condition, current.version, f"List {list_id}")
    connection.execute(
        sa.delete(lists).where(_OWNED), {"match_id": list_id, "match_owner_id": owner_id}
    )
    changes_repository.record(connection, owner_id, "list", list_id, "deleted")

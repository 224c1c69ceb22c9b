"""SQL for todos: point reads and writes, and filtered keyset pages (bulk changes: todo_bulk)."""

import datetime as dt
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from todo_api.domain import clock
from todo_api.domain.due import (
    NO_DUE,
    due_key,
    in_given_offset,
    offset_minutes,
    with_due_counterpart,
)
from todo_api.domain.ids import is_storable_id
from todo_api.domain.order import order_key
from todo_api.domain.tags import tag_key
from todo_api.domain.versions import VersionCondition, require_version
from todo_api.errors import TodoNotFound
from todo_api.pagination import Position, SortKey
from todo_api.performance.driver_statements import fetch
from todo_api.repository import changes as changes_repository
from todo_api.repository import lists as lists_repository
from todo_api.repository.access import reachable
from todo_api.repository.search_index import (
    Method,
    SearchQuery,
    matches_search,
    owned_expression,
    plan_search,
    row_matches_search,
)
from todo_api.repository.tags import set_todo_tags
from todo_api.tables import todo_tags, todos


class Todo(NamedTuple):
    """A stored todo, as every function here returns it."""

    id: int
    list_id: int
    title: str
    description: str | None
    completed: bool
    completed_at: dt.datetime | None
    order: float | None
    tags: str  # JSON array of names
    priority: int
    due_date: dt.date | None
    due_at: dt.datetime | None
    due_offset_minutes: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


@dataclass(frozen=True, slots=True)
class Sort:
    """A sort order for pages: a never-null key column, a direction, then id the same way."""

    column: sa.Column[Any]
    descending: bool

    @property
    def key_is_datetime(self) -> bool:
        return self.column.name in ("created_at", "updated_at", "due_key")

    def key_of(self, todo: Todo) -> SortKey:
        keys: dict[str, SortKey] = {
            "created_at": todo.created_at,
            "updated_at": todo.updated_at,
            "order_key": order_key(todo.order),
            "due_key": due_key(todo.due_date, todo.due_at),
            "priority": todo.priority,
        }
        return keys[self.column.name]


SORTS = {
    "-created_at": Sort(todos.c.created_at, descending=True),
    "created_at": Sort(todos.c.created_at, descending=False),
    "order": Sort(todos.c.order_key, descending=False),
    "due": Sort(todos.c.due_key, descending=False),
    "-priority": Sort(todos.c.priority, descending=True),
    "updated_at": Sort(todos.c.updated_at, descending=False),
    "-updated_at": Sort(todos.c.updated_at, descending=True),
}

_COLUMNS = [todos.c[name] for name in Todo._fields]
_OWNED = sa.and_(
    todos.c.id == sa.bindparam("match_id"), reachable(todos, sa.bindparam("match_owner_id"))
)
# Statements are built once: building one costs more than running it on SQLite.
_SELECT_ONE = sa.select(*_COLUMNS).where(_OWNED)
_INSERT = sa.insert(todos).returning(*_COLUMNS)
_DELETE_ONE = sa.delete(todos).where(_OWNED)
_NEW_TODO_DEFAULTS: dict[str, Any] = {
    "description": None,
    "completed": False,
    "order": None,
    "tags": [],
    "priority": 0,
    "due_date": None,
    "due_at": None,
}


def stored_fields(fields: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Column values for the given API fields, with the derived columns that follow them."""
    values = {key: value for key, value in fields.items() if key != "tags"}
    if "tags" in fields:
        values["tags"] = orjson.dumps(fields["tags"]).decode()
    if "order" in fields:
        values["order_key"] = order_key(fields["order"])
    if "due_at" in fields:
        due_at = fields["due_at"]
        values["due_offset_minutes"] = offset_minutes(due_at)
    if "due_date" in fields or "due_at" in fields:
        values["due_key"] = due_key(fields.get("due_date"), fields.get("due_at"))
    if "completed" in fields:
        values["completed_at"] = now if fields["completed"] else None
    return values


def get_todo(connection: Connection, owner_id: int, todo_id: int) -> Todo:
    if not is_storable_id(todo_id):
        raise TodoNotFound(todo_id)
    rows = fetch(connection, _SELECT_ONE, {"match_id": todo_id, "match_owner_id": owner_id})
    if not rows:
        raise TodoNotFound(todo_id)
    return Todo._make(rows[0])


def create_todo(
    connection: Connection, owner_id: int, fields: dict[str, Any], now: dt.datetime
) -> Todo:
    """Insert a todo from its API fields; without list_id it goes to the default list."""
    fields = {**_NEW_TODO_DEFAULTS, **fields}
    if fields.get("list_id") is None:
        fields["list_id"] = lists_repository.default_list_id(connection, owner_id, now)
    else:
        lists_repository.require_list(connection, owner_id, fields["list_id"])
    row = {
        **stored_fields(fields, now),
        "owner_id": owner_id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    todo = Todo._make(fetch(connection, _INSERT, row)[0])
    set_todo_tags(connection, owner_id, todo.id, fields["tags"], new=True)
    changes_repository.record(connection, owner_id, "todo", todo.id, "created", now)
    return todo


def update_todo(
    connection: Connection,
    owner_id: int,
    todo_id: int,
    changes: dict[str, Any],
    now: dt.datetime,
    condition: VersionCondition | None = None,
) -> Todo:
    """Apply API field `changes`; with a `condition`, only if the current version satisfies it.

    The write transaction holds the database's write lock, and the UPDATE also requires the
    version it read, so two writers with the same If-Match cannot both win.
    """
    current = get_todo(connection, owner_id, todo_id)
    require_version(condition, current.version, f"Todo {todo_id}")
    if not changes:  # an empty merge patch changes nothing, not even updated_at
        return current
    changes = with_due_counterpart(
        changes, current.due_date, in_given_offset(current.due_at, current.due_offset_minutes)
    )
    if "list_id" in changes and changes["list_id"] is None:  # PUT without list_id
        changes["list_id"] = lists_repository.default_list_id(connection, owner_id, now)
    elif changes.get("list_id") not in (None, current.list_id):
        lists_repository.require_list(connection, owner_id, changes["list_id"])
    values = stored_fields(changes, now)
    if "completed" in changes and changes["completed"] and current.completed:
        values["completed_at"] = current.completed_at  # completing again keeps the first time
    row = connection.execute(
        sa.update(todos)
        .where(_OWNED, todos.c.version == current.version)
        .values(**values, version=current.version + 1, updated_at=now)
        .returning(*_COLUMNS),
        {"match_id": todo_id, "match_owner_id": owner_id},
    ).one()
    if "tags" in changes:
        set_todo_tags(connection, owner_id, todo_id, changes["tags"])
    changes_repository.record(connection, owner_id, "todo", todo_id, "updated", now)
    return Todo._make(row)


def delete_todo(
    connection: Connection,
    owner_id: int,
    todo_id: int,
    condition: VersionCondition | None = None,
) -> None:
    current = get_todo(connection, owner_id, todo_id)
    require_version(condition, current.version, f"Todo {todo_id}")
    connection.execute(_DELETE_ONE, {"match_id": todo_id, "match_owner_id": owner_id})
    changes_repository.record(connection, owner_id, "todo", todo_id, "deleted")


# --- filtered queries ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TodoCriteria:
    """Which todos a page, bulk update or bulk delete applies to; every criterion given must hold.

    The routes build it from the query they validated (schemas.TodoFilters); None is "any".
    """

    list_id: int | None = None
    completed: bool | None = None
    tag: tuple[str, ...] = ()  # a todo must carry every one (any case)
    priority_min: int | None = None
    due_before: dt.datetime | None = None
    due_after: dt.datetime | None = None
    overdue: bool | None = None
    q: str | None = None  # words in the title or description


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which filters a query uses (not their values): one cached statement per shape."""

    list_id: bool
    completed: bool
    tags: int
    priority_min: bool
    due_before: bool
    due_after: bool
    overdue: bool | None
    search: Method | None  # how the words are matched (search_index.plan_search)


def _shape(filters: TodoCriteria) -> _Shape:
    return _Shape(
        list_id=filters.list_id is not None,
        completed=filters.completed is not None,
        tags=len(filters.tag),
        priority_min=filters.priority_min is not None,
        due_before=filters.due_before is not None,
        due_after=filters.due_after is not None,
        overdue=filters.overdue,
        search=None if filters.q is None else Method.MATCHING,
    )


def filter_parameters(filters: TodoCriteria, owner_id: int, now: dt.datetime) -> dict[str, Any]:
    """The values of the parameters that the statements built for `filters` take."""
    parameters: dict[str, Any] = {"match_owner_id": owner_id}
    parameters |= {f"tag_{n}": tag_key(tag) for n, tag in enumerate(filters.tag)}
    for name in ("list_id", "completed", "priority_min", "due_before", "due_after"):
        if (value := getattr(filters, name)) is not None:
            parameters[f"filter_{name}"] = value
    if filters.overdue is not None:
        parameters["filter_now"] = now
    if filters.q is not None:
        parameters["filter_q"] = owned_expression(owner_id, filters.q)
    return parameters


# The search's words: FTS5's query on SQLite, to_tsquery's on PostgreSQL (search_index.py).
_SEARCH_QUERY = sa.bindparam("filter_q", type_=SearchQuery())


def _filter_clauses(shape: _Shape) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [reachable(todos, sa.bindparam("match_owner_id"))]
    if shape.list_id:
        clauses.append(todos.c.list_id == sa.bindparam("filter_list_id"))
    if shape.completed:
        clauses.append(todos.c.completed == sa.bindparam("filter_completed", type_=sa.Boolean))
    for n in range(shape.tags):
        clauses.append(
            sa.exists().where(
                todo_tags.c.todo_id == todos.c.id, todo_tags.c.tag_key == sa.bindparam(f"tag_{n}")
            )
        )
    if shape.priority_min:
        clauses.append(todos.c.priority >= sa.bindparam("filter_priority_min"))
    due_type = todos.c.due_key.type
    if shape.due_before:
        clauses.append(todos.c.due_key <= sa.bindparam("filter_due_before", type_=due_type))
    if shape.due_after:
        clauses.append(todos.c.due_key > sa.bindparam("filter_due_after", type_=due_type))
        clauses.append(todos.c.due_key < sa.literal(NO_DUE, due_type))
    if shape.overdue is not None:
        overdue = sa.and_(
            todos.c.due_key <= sa.bindparam("filter_now", type_=due_type),
            sa.not_(todos.c.completed),
        )
        clauses.append(overdue if shape.overdue else sa.not_(overdue))
    if shape.search is Method.MATCHING:  # the owner's matches, from the index (either database)
        clauses.append(
            matches_search(
                todos.c.id,
                todos.c.owner_id,
                todos.c.title,
                todos.c.description,
                _SEARCH_QUERY,
                sa.bindparam("match_owner_id"),
            )
        )
    elif shape.search is Method.GATHER:  # the owner's matches, listed by plan_search
        gathered = sa.func.json_each(sa.bindparam("filter_matches")).table_valued("value")
        clauses.append(todos.c.id.in_(sa.select(gathered.c.value)))
    elif shape.search is Method.WALK:  # each row in the sort's order, checked on its own
        clauses.append(
            row_matches_search(todos.c.id, todos.c.title, todos.c.description, _SEARCH_QUERY)
        )
    return clauses


# Where a page starts relative to the cursor's (key, id): the rest of the cursor's key group,
# or the keys beyond it. SQLite bounds an index range on a row value `(key, id) > (?, ?)` by
# `key` alone when `id` is the rowid, so a page deep inside a large group of equal keys (no
# `order`, no due date, priority 0) would walk the whole group. Two ranges it can seek
# exactly — `key = ? AND id > ?`, then `key > ?` — keep every page O(limit).
Start = Literal["first", "same_key", "beyond"]


@lru_cache(maxsize=1024)
def _page_statement(shape: _Shape, sort_name: str, start: Start) -> sa.Select[Any]:
    sort = SORTS[sort_name]
    query = sa.select(*_COLUMNS).where(*_filter_clauses(shape))
    after_key = sa.bindparam("after_key", type_=sort.column.type)
    after_id = sa.bindparam("after_id", type_=todos.c.id.type)
    if start == "same_key":
        beyond_id = todos.c.id < after_id if sort.descending else todos.c.id > after_id
        query = query.where(sort.column == after_key, beyond_id)
    elif start == "beyond":
        query = query.where(sort.column < after_key if sort.descending else sort.column > after_key)
    if sort.descending:
        query = query.order_by(sort.column.desc(), todos.c.id.desc())
    else:
        query = query.order_by(sort.column.asc(), todos.c.id.asc())
    return query.limit(sa.bindparam("limit"))


def list_todos(
    connection: Connection,
    owner_id: int,
    filters: TodoCriteria,
    *,
    sort_name: str = "-created_at",
    limit: int,
    after: Position | None = None,
    now: dt.datetime | None = None,
) -> list[Todo]:
    """Up to `limit` matching todos in `sort_name` order, strictly after `after` (keyset)."""
    parameters = filter_parameters(filters, owner_id, now or clock.now())
    parameters["limit"] = limit
    shape = _shape(filters)
    if filters.q is not None:
        plan = plan_search(connection, owner_id, filters.q)
        if plan is None:
            return []
        shape = replace(shape, search=plan.method)
        parameters["filter_q"] = plan.expression
        parameters["filter_matches"] = plan.matches
    if after is None:
        rows = fetch(connection, _page_statement(shape, sort_name, "first"), parameters)
    else:
        parameters |= {"after_key": after.key, "after_id": after.id}
        rows = fetch(connection, _page_statement(shape, sort_name, "same_key"), parameters)
        if len(rows) < limit:
            parameters["limit"] = limit - len(rows)
            rows += fetch(connection, _page_statement(shape, sort_name, "beyond"), parameters)
    return [Todo._make(row) for row in rows]


def count_todos(
    connection: Connection, owner_id: int, filters: TodoCriteria, now: dt.datetime
) -> int:
    """How many todos match `filters` (what `list_todos` would return over every page)."""
    parameters = filter_parameters(filters, owner_id, now)
    shape = _shape(filters)
    if filters.q is not None:  # the search is planned as list_todos plans it, for every match
        plan = plan_search(connection, owner_id, filters.q, every_match=True)
        if plan is None:
            return 0
        shape = replace(shape, search=plan.method)
        parameters["filter_q"] = plan.expression
        parameters["filter_matches"] = plan.matches
    statement = sa.select(sa.func.count()).where(*_filter_clauses(shape))
    return int(connection.execute(statement, parameters).scalar_one())


def matching_ids(filters: TodoCriteria) -> sa.Select[Any]:
    """The ids of the todos `filters` select (bound with `filter_parameters`)."""
    return sa.select(todos.c.id).where(*_filter_clauses(_shape(filters)))

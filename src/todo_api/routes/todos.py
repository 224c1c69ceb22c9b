"""The /todos resource: filtered pages, create, read, replace, merge-patch, delete, and bulk."""

import functools
from typing import Annotated, Any, get_origin

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from todo_api.deps import (
    caller_of,
    cursor_key_of,
    database_of,
    unchanged_for_client,
    version_condition,
)
from todo_api.domain import clock
from todo_api.errors import InvalidParameter
from todo_api.idempotency import IDEMPOTENT_POST, idempotent_write
from todo_api.pagination import Position, decode_cursor, encode_cursor, query_fingerprint
from todo_api.repository import search_index, todo_bulk
from todo_api.repository import todos as repository
from todo_api.representation import (
    base_url,
    json_response,
    not_modified,
    todo_body,
    versioned_response,
)
from todo_api.routes.openapi import (
    AUTHENTICATED,
    CONDITIONAL,
    ETAG_HEADER,
    INVALID,
    MERGE_PATCH,
    Responses,
)
from todo_api.schemas import (
    TodoCount,
    TodoCreate,
    TodoFilters,
    TodoPageQuery,
    TodoPatch,
    TodoRead,
    TodoReplace,
)

router = APIRouter(prefix="/todos", tags=["todos"], responses=AUTHENTICATED)

NOT_FOUND: Responses = {404: {"description": "No such todo (or not yours)"}}
PAGE_HEADERS = {"Link": {"description": 'URL of the next page, as `<…>; rel="next"`'}}


def criteria_of(filters: TodoFilters) -> repository.TodoCriteria:
    """The repository's criteria for the validated query (the repository knows no HTTP models)."""
    return repository.TodoCriteria(
        list_id=filters.list_id,
        completed=filters.completed,
        tag=tuple(filters.tag),
        priority_min=filters.priority_min,
        due_before=filters.due_before,
        due_after=filters.due_after,
        overdue=filters.overdue,
        q=filters.q,
    )


@router.get(
    "", response_model=list[TodoRead], responses={200: {"headers": PAGE_HEADERS}, **INVALID}
)
async def list_todos(request: Request, query: Annotated[TodoPageQuery, Query()]) -> Response:
    """Todos matching the filters, a page at a time; the next page's URL is in `Link`."""
    _require_single_values(request, TodoPageQuery)
    caller = caller_of(request)
    sort = repository.SORTS[query.sort]
    fingerprint = query_fingerprint(
        caller.user_id, query.model_dump(mode="json", exclude={"limit", "cursor"})
    )
    after = (
        decode_cursor(
            query.cursor,
            fingerprint,
            cursor_key_of(request),
            key_is_datetime=sort.key_is_datetime,
        )
        if query.cursor
        else None
    )
    database = database_of(request)
    # Only a search that finds todos waiting for the index takes the write lock.
    if query.q is not None and await database.read(search_index.search_index_is_behind):
        await database.write(search_index.index_pending_search)
    criteria = criteria_of(query)
    todos = await database.read(
        lambda connection: repository.list_todos(
            connection,
            caller.user_id,
            criteria,
            sort_name=query.sort,
            limit=query.limit + 1,
            after=after,
        )
    )
    headers = {}
    root = base_url(request)
    if len(todos) > query.limit:
        todos = todos[: query.limit]
        last = todos[-1]
        next_cursor = encode_cursor(
            Position(sort.key_of(last), last.id), fingerprint, cursor_key_of(request)
        )
        next_query = request.url.include_query_params(cursor=next_cursor, limit=query.limit).query
        headers["Link"] = f'<{root}/todos?{next_query}>; rel="next"'
    return json_response([todo_body(todo, root) for todo in todos], headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=TodoRead,
    responses={201: {"headers": {"Location": {"description": "URL of the new todo"}}}, **INVALID},
    openapi_extra=IDEMPOTENT_POST,
)
async def create_todo(request: Request, todo: TodoCreate) -> Response:
    """Create a todo; its URL is in the `Location` header. Retry safely with `Idempotency-Key`."""
    caller = caller_of(request)
    fields = todo.model_dump()
    root = base_url(request)

    def create(connection: Connection) -> Response:
        created = repository.create_todo(connection, caller.user_id, fields, clock.now())
        body = todo_body(created, root)
        return versioned_response(body, created.version, status_code=201, location=True)

    return await idempotent_write(request, caller.user_id, create)


# Beside /todos, not under it: /todos/count is the path of a todo whose id is "count", and
# every method of /todos/{todo_id} would match it.
count_router = APIRouter(tags=["todos"], responses=AUTHENTICATED)


@count_router.get("/todo-count", responses=INVALID)
async def count_todos(request: Request, filters: Annotated[TodoFilters, Query()]) -> TodoCount:
    """How many todos match the filters (those of `GET /todos`, without `sort` and pages)."""
    _require_single_values(request, TodoFilters)
    caller = caller_of(request)
    database = database_of(request)
    if filters.q is not None and await database.read(search_index.search_index_is_behind):
        await database.write(search_index.index_pending_search)
    criteria = criteria_of(filters)
    count = await database.read(
        lambda connection: repository.count_todos(connection, caller.user_id, criteria, clock.now())
    )
    return TodoCount(count=count)


@router.get(
    "/{todo_id}",
    response_model=TodoRead,
    responses={200: {"headers": ETAG_HEADER}, 304: {"description": "Not modified"}, **NOT_FOUND},
)
async def get_todo(todo_id: int, request: Request) -> Response:
    """One todo. With `If-None-Match` naming its current ETag: 304."""
    caller = caller_of(request)
    todo = await database_of(request).read(
        lambda connection: repository.get_todo(connection, caller.user_id, todo_id)
    )
    if unchanged_for_client(request, todo.version):
        return not_modified(todo.version)
    return versioned_response(todo_body(todo, base_url(request)), todo.version)


@router.put(
    "/{todo_id}", response_model=TodoRead, responses={**NOT_FOUND, **INVALID, **CONDITIONAL}
)
async def replace_todo(todo_id: int, todo: TodoReplace, request: Request) -> Response:
    """Replace a todo whole; fields left out return to their defaults (list: the default)."""
    return await _update(request, todo_id, todo.model_dump())


@router.patch(
    "/{todo_id}", response_model=TodoRead, responses={**NOT_FOUND, **INVALID, **CONDITIONAL}
)
async def patch_todo(
    todo_id: int,
    patch: Annotated[TodoPatch, Body(media_type=MERGE_PATCH)],
    request: Request,
) -> Response:
    """Change some fields (JSON Merge Patch): absent fields stay, `null` clears.

    Moving a todo to another list is a patch of `list_id`; it keeps its id.
    """
    return await _update(request, todo_id, patch.model_dump(exclude_unset=True))


async def _update(request: Request, todo_id: int, changes: dict[str, Any]) -> Response:
    caller = caller_of(request)
    condition = version_condition(request)
    todo = await database_of(request).write(
        lambda connection: repository.update_todo(
            connection, caller.user_id, todo_id, changes, clock.now(), condition
        )
    )
    return versioned_response(todo_body(todo, base_url(request)), todo.version)


@router.delete("/{todo_id}", status_code=204, responses={**NOT_FOUND, **CONDITIONAL})
async def delete_todo(todo_id: int, request: Request) -> None:
    """Delete a todo."""
    caller = caller_of(request)
    condition = version_condition(request)
    await database_of(request).write(
        lambda connection: repository.delete_todo(connection, caller.user_id, todo_id, condition)
    )


@router.delete("", responses=INVALID)
async def delete_todos(
    request: Request, filters: Annotated[TodoFilters, Query()]
) -> dict[str, int]:
    """Delete every todo matching the filters: **all of yours without any** (the Todo-Backend
    contract); `?completed=true` clears completed ones. Atomic; returns the count."""
    _require_single_values(request, TodoFilters)
    caller = caller_of(request)
    criteria = criteria_of(filters)
    deleted = await database_of(request).write(
        lambda connection: todo_bulk.delete_todos(
            connection, caller.user_id, criteria, clock.now()
        ),
        long=True,
    )
    return {"deleted": deleted}


@router.patch("", responses=INVALID)
async def patch_todos(
    request: Request,
    filters: Annotated[TodoFilters, Query()],
    patch: Annotated[TodoPatch, Body(media_type=MERGE_PATCH)],
) -> dict[str, int]:
    """Merge-patch every todo matching the filters (e.g. `{"completed": true}` marks all done).
    Atomic; returns the count."""
    _require_single_values(request, TodoFilters)
    caller = caller_of(request)
    changes = patch.model_dump(exclude_unset=True)
    criteria = criteria_of(filters)
    updated = await database_of(request).write(
        lambda connection: todo_bulk.update_todos(
            connection, caller.user_id, criteria, changes, clock.now()
        ),
        long=True,
    )
    return {"updated": updated}


def _require_single_values(request: Request, model: type[BaseModel]) -> None:
    """A parameter the document types as one value, given twice, is an error (FastAPI would
    quietly keep the last one: `?completed=x&completed=false` must not delete anything)."""
    single_valued = _single_valued(model)
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, _value in request.query_params.multi_items():  # one pass over the query
        if name in single_valued:
            (repeated if name in seen else seen).add(name)
    if repeated:  # the first in the model's order, as the document lists them
        raise InvalidParameter(
            next(name for name in single_valued if name in repeated), "give it once"
        )


@functools.cache
def _single_valued(model: type[BaseModel]) -> tuple[str, ...]:
    """The model's fields that take one value, in its order (read once per model)."""
    return tuple(
        name
        for name, field in model.model_fields.items()
        if get_origin(field.annotation) is not list
    )

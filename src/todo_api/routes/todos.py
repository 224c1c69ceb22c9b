"""The /todos resource: list, create, read, replace, merge-patch and delete todos."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from todo_api import repository
from todo_api.deps import caller_of, database_of
from todo_api.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Position,
    decode_cursor,
    encode_cursor,
    query_fingerprint,
)
from todo_api.representation import json_response, todo_body, todos_url
from todo_api.schemas import TodoCreate, TodoPatch, TodoRead, TodoReplace

router = APIRouter(prefix="/todos", tags=["todos"])

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "No such todo (or not yours)"}}
INVALID: Responses = {422: {"description": "Invalid input; `errors` names each field at fault"}}
PAGE_HEADERS = {"Link": {"description": 'URL of the next page, as `<…>; rel="next"`'}}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.get(
    "",
    response_model=list[TodoRead],
    responses={200: {"headers": PAGE_HEADERS}, **INVALID},
)
async def list_todos(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    completed: bool | None = None,
) -> Response:
    """Todos, newest first, a page at a time; the next page's URL is in the `Link` header."""
    caller = caller_of(request)
    fingerprint = query_fingerprint(caller.user_id, {"completed": completed})
    after = decode_cursor(cursor, fingerprint) if cursor else None
    rows = await database_of(request).read(
        lambda connection: repository.list_todos(
            connection, caller.user_id, limit=limit + 1, completed=completed, after=after
        )
    )
    headers = {}
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(Position(rows[-1].created_at, rows[-1].id), fingerprint)
        next_url = request.url.include_query_params(cursor=next_cursor, limit=limit)
        headers["Link"] = f'<{next_url}>; rel="next"'
    base_url = todos_url(request)
    return json_response([todo_body(row, base_url) for row in rows], headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=TodoRead,
    responses={201: {"headers": {"Location": {"description": "URL of the new todo"}}}, **INVALID},
)
async def create_todo(request: Request, todo: TodoCreate) -> Response:
    """Create a todo; its URL is in the `Location` header."""
    caller = caller_of(request)
    values = todo.model_dump()
    row = await database_of(request).write(
        lambda connection: repository.create_todo(connection, caller.user_id, values, _now())
    )
    body = todo_body(row, todos_url(request))
    return json_response(body, status_code=201, headers={"Location": body["url"]})


@router.get("/{todo_id}", response_model=TodoRead, responses=NOT_FOUND)
async def get_todo(todo_id: int, request: Request) -> Response:
    """One todo."""
    caller = caller_of(request)
    row = await database_of(request).read(
        lambda connection: repository.get_todo(connection, caller.user_id, todo_id)
    )
    return json_response(todo_body(row, todos_url(request)))


@router.put("/{todo_id}", response_model=TodoRead, responses={**NOT_FOUND, **INVALID})
async def replace_todo(todo_id: int, todo: TodoReplace, request: Request) -> Response:
    """Replace a todo whole; fields left out return to their defaults."""
    return await _update(request, todo_id, todo.model_dump())


@router.patch("/{todo_id}", response_model=TodoRead, responses={**NOT_FOUND, **INVALID})
async def patch_todo(
    todo_id: int,
    patch: Annotated[TodoPatch, Body(media_type="application/merge-patch+json")],
    request: Request,
) -> Response:
    """Change some fields (JSON Merge Patch): absent fields stay, `null` clears."""
    return await _update(request, todo_id, patch.model_dump(exclude_unset=True))


async def _update(request: Request, todo_id: int, changes: dict[str, Any]) -> Response:
    caller = caller_of(request)
    row = await database_of(request).write(
        lambda connection: repository.update_todo(
            connection, caller.user_id, todo_id, changes, _now()
        )
    )
    return json_response(todo_body(row, todos_url(request)))


@router.delete("/{todo_id}", status_code=204, responses=NOT_FOUND)
async def delete_todo(todo_id: int, request: Request) -> None:
    """Delete a todo."""
    caller = caller_of(request)
    await database_of(request).write(
        lambda connection: repository.delete_todo(connection, caller.user_id, todo_id)
    )

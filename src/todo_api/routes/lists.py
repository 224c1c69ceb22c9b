"""The /lists resource. Deleting a list deletes its todos; the default list cannot be deleted."""

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy.engine import Connection

from todo_api.deps import caller_of, database_of, unchanged_for_client, version_condition
from todo_api.domain import clock
from todo_api.idempotency import IDEMPOTENT_POST, idempotent_write
from todo_api.repository import lists as repository
from todo_api.representation import (
    base_url,
    json_response,
    list_body,
    not_modified,
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
from todo_api.schemas import ListCreate, ListPatch, ListRead, ListReplace

router = APIRouter(prefix="/lists", tags=["lists"], responses=AUTHENTICATED)
NOT_FOUND: Responses = {404: {"description": "No such list (or not yours)"}}


@router.get("", response_model=list[ListRead])
async def list_lists(request: Request) -> Response:
    """Your lists, by `order` (lists without one last), then age."""
    caller = caller_of(request)
    found = await database_of(request).read(
        lambda connection: repository.list_lists(connection, caller.user_id)
    )
    root = base_url(request)
    return json_response([list_body(todo_list, root) for todo_list in found])


@router.post(
    "", status_code=201, response_model=ListRead, responses=INVALID, openapi_extra=IDEMPOTENT_POST
)
async def create_list(request: Request, todo_list: ListCreate) -> Response:
    """Create a list; its URL is in the `Location` header. Retry safely with `Idempotency-Key`."""
    caller = caller_of(request)
    values = todo_list.model_dump()
    root = base_url(request)

    def create(connection: Connection) -> Response:
        created = repository.create_list(connection, caller.user_id, values, clock.now())
        body = list_body(created, root)
        return versioned_response(body, created.version, status_code=201, location=True)

    return await idempotent_write(request, caller.user_id, create)


@router.get(
    "/{list_id}",
    response_model=ListRead,
    responses={200: {"headers": ETAG_HEADER}, 304: {"description": "Not modified"}, **NOT_FOUND},
)
async def get_list(list_id: int, request: Request) -> Response:
    """One list. With `If-None-Match` naming its current ETag: 304."""
    caller = caller_of(request)
    found = await database_of(request).read(
        lambda connection: repository.get_list(connection, caller.user_id, list_id)
    )
    if unchanged_for_client(request, found.version):
        return not_modified(found.version)
    return versioned_response(list_body(found, base_url(request)), found.version)


@router.put(
    "/{list_id}", response_model=ListRead, responses={**NOT_FOUND, **INVALID, **CONDITIONAL}
)
async def replace_list(list_id: int, todo_list: ListReplace, request: Request) -> Response:
    """Replace a list's name and order."""
    return await _update(request, list_id, todo_list.model_dump())


@router.patch(
    "/{list_id}", response_model=ListRead, responses={**NOT_FOUND, **INVALID, **CONDITIONAL}
)
async def patch_list(
    list_id: int, patch: Annotated[ListPatch, Body(media_type=MERGE_PATCH)], request: Request
) -> Response:
    """Rename or reorder a list (JSON Merge Patch)."""
    return await _update(request, list_id, patch.model_dump(exclude_unset=True))


async def _update(request: Request, list_id: int, changes: dict[str, object]) -> Response:
    caller = caller_of(request)
    condition = version_condition(request)
    updated = await database_of(request).write(
        lambda connection: repository.update_list(
            connection, caller.user_id, list_id, changes, clock.now(), condition
        )
    )
    return versioned_response(list_body(updated, base_url(request)), updated.version)


@router.delete(
    "/{list_id}",
    status_code=204,
    responses={
        **NOT_FOUND,
        **CONDITIONAL,
        409: {"description": "The default list cannot be deleted"},
    },
)
async def delete_list(list_id: int, request: Request) -> None:
    """Delete a list **and every todo in it**."""
    caller = caller_of(request)
    condition = version_condition(request)
    await database_of(request).write(
        lambda connection: repository.delete_list(connection, caller.user_id, list_id, condition),
        long=True,  # the cascade deletes every todo in the list
    )

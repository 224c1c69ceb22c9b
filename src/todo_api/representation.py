"""How stored rows are shown to clients: JSON built straight from the row, with its ETag.

Routes declare the Pydantic `*Read` models for the OpenAPI document but answer with these bytes;
building the models and letting FastAPI validate them again costs more than the database read.
Nothing checks these bodies against the models at run time: the route tests validate answers
against them, and since the models accept extra fields, a field leaked here would pass.
"""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from todo_api.domain.due import in_given_offset
from todo_api.etags import etag
from todo_api.repository.lists import TodoList
from todo_api.repository.todos import Todo

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
# Where middleware.PublicUrlMiddleware puts TODO_PUBLIC_URL, when it is set.
PUBLIC_URL_SCOPE_KEY = "todo_api.public_url"
_HIDDEN_TODO_FIELDS = ("due_offset_minutes", "version")


def base_url(request: Request) -> str:
    """The absolute URL of the API root as the client sees it, without the trailing slash:
    TODO_PUBLIC_URL when set, otherwise from the request's Host (which `AllowedHostsMiddleware`
    checks when the names are restricted).

    Built from the scope: Starlette's `request.base_url` costs ~10 µs a call.
    """
    scope = request.scope
    public_url: str | None = scope.get(PUBLIC_URL_SCOPE_KEY)
    if public_url is not None:
        return public_url
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        return str(request.base_url).rstrip("/")
    return f"{scope['scheme']}://{host.decode('latin-1')}{scope.get('root_path', '')}"


def todo_body(todo: Todo, root: str) -> dict[str, Any]:
    body = todo._asdict()
    for name in _HIDDEN_TODO_FIELDS:
        del body[name]
    body["url"] = f"{root}/todos/{todo.id}"
    body["tags"] = orjson.loads(todo.tags)
    body["due_at"] = in_given_offset(todo.due_at, todo.due_offset_minutes)
    return body


def list_body(todo_list: TodoList, root: str) -> dict[str, Any]:
    body = todo_list._asdict()
    del body["version"]
    body["url"] = f"{root}/lists/{todo_list.id}"
    return body


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content, option=JSON_OPTIONS),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def versioned_response(
    body: dict[str, Any], version: int, status_code: int = 200, location: bool = False
) -> Response:
    """One resource with its strong ETag (and its URL in Location when just created)."""
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = body["url"]
    return json_response(body, status_code=status_code, headers=headers)


def not_modified(version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag(version)})

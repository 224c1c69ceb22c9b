"""How a stored todo is shown to clients: JSON built straight from the row.

Routes declare `TodoRead` for the OpenAPI document but answer with these bytes; building the
Pydantic model and letting FastAPI validate it again costs more than the database read.
Tests check every answer against `TodoRead`.
"""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from todo_api.repository import Todo

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def todos_url(request: Request) -> str:
    """The absolute URL of /todos as the client sees it (Starlette's `base_url` costs ~10 µs)."""
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        return f"{request.base_url}todos"
    return f"{scope['scheme']}://{host.decode('latin-1')}{scope.get('root_path', '')}/todos"


def todo_body(todo: Todo, base_url: str) -> dict[str, Any]:
    body = todo._asdict()
    body["url"] = f"{base_url}/{todo.id}"
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

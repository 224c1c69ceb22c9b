"""How a stored todo is shown to clients: JSON built straight from the row.

Routes declare `TodoRead` for the OpenAPI document but answer with these bytes; building the
Pydantic model and letting FastAPI validate it again costs more than the database read.
Tests check every answer against `TodoRead`.
"""

from typing import Any

import orjson
from sqlalchemy.engine import Row
from starlette.requests import Request
from starlette.responses import Response

from todo_api.repository import TODO_FIELDS

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def todos_url(request: Request) -> str:
    return f"{request.base_url}todos"


def todo_body(row: Row[Any], base_url: str) -> dict[str, Any]:
    body = dict(zip(TODO_FIELDS, row, strict=True))
    body["url"] = f"{base_url}/{row.id}"
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

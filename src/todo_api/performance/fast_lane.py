"""A pure-ASGI lane for the hottest requests: `GET /todos/{id}`, `POST /todos`, `GET /todos`.

FastAPI's routing, parameter solving and request objects cost more per request than reading
a todo from SQLite (docs/performance.md). This lane does only that part itself — it matches
the path and parses the body or the query with the route's own Pydantic model — and then
calls the route function FastAPI would call, so the answer is built by the same code.

It answers only what the route answers successfully. Anything unusual (a query string on a
single todo, another media type, a body or query that does not validate) and every error (an
unknown id, a list that does not exist, a tampered cursor) goes to FastAPI with the request
intact, so errors are rendered in one place and the OpenAPI document stays the contract.
tests/test_fast_lane.py checks both paths answer alike.
"""

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.errors import AppError
from todo_api.schemas import TodoCreate, TodoPageQuery

# Canonical ids only ("7", not "07" or "+7"), short enough to be an int64: others go to FastAPI.
_TODO_PATH = re.compile(r"/todos/([1-9][0-9]{0,17})")
# A POST body larger than this goes to FastAPI unread; a todo is far smaller.
_MAX_LANE_BODY_BYTES = 64 * 1024
# `GET /todos` parameters, read as FastAPI reads a query model: a list field takes every value
# given, any other field the last one. An unknown parameter goes to FastAPI, which rejects it.
_PAGE_PARAMETERS = frozenset(TodoPageQuery.model_fields)
_REPEATABLE_PAGE_PARAMETERS = frozenset({"tag"})


class FastLane:
    """Answers plain `GET /todos/{id}`, `POST /todos` and `GET /todos` by calling their routes."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.get_todo = _api_route(routes, "GET", "/todos/{todo_id}")
        self.create_todo = _api_route(routes, "POST", "/todos")
        self.list_todos = _api_route(routes, "GET", "/todos")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            if method == "GET" and path == "/todos":
                await self._list(scope, receive, send)
                return
            if not scope["query_string"]:
                if method == "GET":
                    match = _TODO_PATH.fullmatch(path)
                    if match is not None:
                        await self._get(scope, receive, send, int(match[1]))
                        return
                elif method == "POST" and path == "/todos":
                    await self._post(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _list(self, scope: Scope, receive: Receive, send: Send) -> None:
        parameters = QueryParams(scope["query_string"])
        if not _PAGE_PARAMETERS.issuperset(parameters):
            await self.app(scope, receive, send)
            return
        try:
            query = TodoPageQuery.model_validate(
                {
                    name: parameters.getlist(name)
                    if name in _REPEATABLE_PAGE_PARAMETERS
                    else parameters[name]
                    for name in parameters  # each name once
                }
            )
        except ValidationError:
            await self.app(scope, receive, send)  # FastAPI words the 422
            return
        scope["route"] = self.list_todos
        request = Request(scope, receive)
        if not await _answered(
            scope, receive, send, lambda: self.list_todos.endpoint(request, query)
        ):
            await self.app(scope, receive, send)

    async def _get(self, scope: Scope, receive: Receive, send: Send, todo_id: int) -> None:
        scope["route"] = self.get_todo
        request = Request(scope, receive)
        if not await _answered(
            scope, receive, send, lambda: self.get_todo.endpoint(todo_id, request)
        ):
            await self.app(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _json_body_length(scope)
        if length is None or length > _MAX_LANE_BODY_BYTES:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        try:
            todo = TodoCreate.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            await self.app(scope, _replaying(body, receive), send)  # FastAPI words the 400/422
            return
        scope["route"] = self.create_todo
        request = Request(scope, _replaying(body, receive))
        if not await _answered(
            scope, receive, send, lambda: self.create_todo.endpoint(request, todo)
        ):
            await self.app(scope, _replaying(body, receive), send)


async def _answered(
    scope: Scope, receive: Receive, send: Send, endpoint: Callable[[], Awaitable[Response]]
) -> bool:
    """Send what the route function returns; False when it raised an application error."""
    try:
        response = await endpoint()
    except AppError:
        return False  # its unit of work rolled back; FastAPI runs the route again and renders it
    await response(scope, receive, send)
    return True


def _api_route(routes: Sequence[BaseRoute], method: str, path: str) -> APIRoute:
    for route in routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no route {method} {path}")


def _json_body_length(scope: Scope) -> int | None:
    """The Content-Length of a JSON body, or None when the request is not that plain."""
    length = None
    media_type = b""
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
        elif name == b"transfer-encoding":
            return None
    if media_type != b"application/json" or length is None or not length.isdigit():
        return None
    return int(length)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the body already read, then waits on the real one."""
    pending: dict[str, Any] | None = {"type": "http.request", "body": body, "more_body": False}

    async def replay() -> Message:
        nonlocal pending
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return replay

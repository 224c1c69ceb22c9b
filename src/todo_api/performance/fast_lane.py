"""A pure-ASGI lane for the hottest requests: `GET /todos/{id}`, `POST /todos`, `GET /todos`.

FastAPI's routing, parameter solving and request objects cost more per request than reading
a todo from SQLite (docs/performance.md). This lane does only that part itself — it matches
the path and parses the body or the query with the route's own Pydantic model — and then
calls the route function FastAPI would call, so the answer is built by the same code.

Anything unusual (a query string on a single todo, another media type, a body or query that
does not validate) goes to FastAPI with the request intact, so FastAPI words every 400 and
422. An application error the route raises (an unknown id, a list that does not exist, a
tampered cursor, a busy database) is rendered by `problems.app_error_response`, the function
FastAPI's handler calls. tests/test_fast_lane.py checks both paths answer alike.

What to parse comes from the route declarations (FastAPI's own reading of them): the body and
query models, which query parameters repeat, and the names the route function takes its
arguments by. A field added to a model, or a parameter renamed, needs no edit here.
"""

import re
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.domain.ids import MAX_ID, is_storable_id
from todo_api.errors import AppError
from todo_api.problems import app_error_response

# Canonical ids only ("7", not "07" or "+7"), as long as a storable one: others go to FastAPI.
_TODO_PATH = re.compile(rf"/todos/([1-9][0-9]{{0,{len(str(MAX_ID)) - 1}}})")
# A POST body larger than this goes to FastAPI unread; a todo is far smaller.
_MAX_LANE_BODY_BYTES = 64 * 1024
_SEQUENCE_TYPES = (list, set, frozenset, tuple, Sequence)
_Parameter = typing.TypeVar("_Parameter")


class FastLane:
    """Answers plain `GET /todos/{id}`, `POST /todos` and `GET /todos` by calling their routes."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.get_todo = _api_route(routes, "GET", "/todos/{todo_id}")
        self.create_todo = _api_route(routes, "POST", "/todos")
        self.list_todos = _api_route(routes, "GET", "/todos")
        self.page_query = _QueryModel.of(self.list_todos)
        self.todo_id_name = _only(self.get_todo.dependant.path_params).name
        body = _only(self.create_todo.dependant.body_params)
        self.create_body_name = body.name
        self.create_body_model = _model(body.field_info.annotation)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            if method == "GET" and path == "/todos":
                await self._list(scope, receive, send)
                return
            if not scope["query_string"]:
                if method == "GET":
                    match = _TODO_PATH.fullmatch(path)
                    if match is not None and is_storable_id(todo_id := int(match[1])):
                        await self._get(scope, receive, send, todo_id)
                        return
                elif method == "POST" and path == "/todos":
                    await self._post(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _list(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = self.page_query.parse(QueryParams(scope["query_string"]))
        if query is None:  # an unknown parameter or an invalid value: FastAPI words the 422
            await self.app(scope, receive, send)
            return
        arguments = {self.page_query.argument_name: query}
        await _answer(scope, receive, send, self.list_todos, arguments)

    async def _get(self, scope: Scope, receive: Receive, send: Send, todo_id: int) -> None:
        arguments = {self.todo_id_name: todo_id}
        await _answer(scope, receive, send, self.get_todo, arguments)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _json_body_length(scope)
        if length is None or length > _MAX_LANE_BODY_BYTES:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        try:
            todo = self.create_body_model.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            await self.app(scope, _replaying(body, receive), send)  # FastAPI words the 400/422
            return
        arguments = {self.create_body_name: todo}
        await _answer(scope, _replaying(body, receive), send, self.create_todo, arguments)


class _QueryModel:
    """A route's query model, read from a query string as FastAPI reads it.

    A sequence-typed field takes every value given, any other field one. A name that is no
    field, a single-valued field given twice (the route rejects both) or a value that does not
    validate parses to None.
    """

    def __init__(self, model: type[BaseModel], argument_name: str) -> None:
        self.model = model
        self.argument_name = argument_name
        # A query string names fields as the model reads them: by alias when one is declared.
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        self.names = frozenset(fields)
        self.repeatable = frozenset(
            name for name, field in fields.items() if _is_sequence(field.annotation)
        )

    @classmethod
    def of(cls, route: APIRoute) -> "_QueryModel":
        parameter = _only(route.dependant.query_params)
        return cls(_model(parameter.field_info.annotation), parameter.name)

    def parse(self, parameters: QueryParams) -> BaseModel | None:
        if not self.names.issuperset(parameters):
            return None
        if any(
            len(parameters.getlist(name)) > 1 for name in parameters if name not in self.repeatable
        ):
            return None  # a single-valued parameter given twice: the route words the 422
        values = {
            name: parameters.getlist(name) if name in self.repeatable else parameters[name]
            for name in parameters  # each name once
        }
        try:
            return self.model.model_validate(values)
        except ValidationError:
            return None


async def _answer(
    scope: Scope, receive: Receive, send: Send, route: APIRoute, arguments: dict[str, Any]
) -> None:
    """Send what the route function returns, or the problem its application error names.

    The route function gets its arguments by name, and the request as FastAPI would pass it.
    An application error is rendered by the same function FastAPI's handler uses, rather than
    by running the route again through FastAPI: a second run would wait for the database's
    lock a second time (a 503 after twice the lock timeout) and repeat the unit's work.
    """
    scope["route"] = route
    request_name = route.dependant.request_param_name
    if request_name is not None:
        arguments = {**arguments, request_name: Request(scope, receive)}
    endpoint: Callable[..., Awaitable[Response]] = route.endpoint
    try:
        response = await endpoint(**arguments)
    except AppError as error:  # its unit of work rolled back
        response = app_error_response(error)
    await response(scope, receive, send)


def _api_route(routes: Sequence[BaseRoute], method: str, path: str) -> APIRoute:
    for route in routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no route {method} {path}")


def _only(parameters: Sequence[_Parameter]) -> _Parameter:
    """The one parameter of a kind a lane route declares; two would need parsing here too."""
    if len(parameters) != 1:
        raise LookupError(f"expected one parameter, the route declares {len(parameters)}")
    return parameters[0]


def _model(annotation: Any) -> type[BaseModel]:
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise LookupError(f"expected a Pydantic model, the route declares {annotation!r}")
    return annotation


def _is_sequence(annotation: Any) -> bool:
    """Whether FastAPI reads a query field of this type from every value given (`?tag=a&tag=b`)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(argument) for argument in typing.get_args(annotation))
    return isinstance(origin, type) and issubclass(origin, _SEQUENCE_TYPES)


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

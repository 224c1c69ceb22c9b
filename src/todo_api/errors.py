"""One error hierarchy, answered as RFC 9457 problem+json in one place.

Domain code raises an `AppError` subclass; the handlers below turn it, request-validation errors
and Starlette's HTTP errors (404 route, 405 method) into the same problem shape. Anything else is
caught by the request middleware and answered as a generic 500 without details.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:todo-api:problem:"


class AppError(Exception):
    """An error a client caused or must know about; subclasses fix the status and type."""

    status = HTTPStatus.BAD_REQUEST
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the error's status calls for (Retry-After on a 503, say)."""
        return {}


class NotFound(AppError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"
    title = "Not found"


class TodoNotFound(NotFound):
    def __init__(self, todo_id: int) -> None:
        super().__init__(f"There is no todo with id {todo_id}.")


class ListNotFound(NotFound):
    def __init__(self, list_id: int) -> None:
        super().__init__(f"There is no list with id {list_id}.")


class Conflict(AppError):
    status = HTTPStatus.CONFLICT
    slug = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    """If-Match named a version that is no longer current: someone else changed it first."""

    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"
    title = "Precondition failed"


class PreconditionRequired(AppError):
    """TODO_REQUIRE_IF_MATCH is on and the request changes a resource without If-Match."""

    status = HTTPStatus.PRECONDITION_REQUIRED
    slug = "precondition-required"
    title = "Precondition required"


class DatabaseBusy(AppError):
    """Another process held the database's write lock for longer than a writer waits."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    slug = "database-busy"
    title = "Database busy"
    RETRY_AFTER_SECONDS = 1

    def __init__(self) -> None:
        super().__init__(
            "The database is busy with another writer; nothing was changed. Retry shortly."
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class InvalidField(AppError):
    """A body field that parsed but refers to something that does not exist (a list id, say)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"body.{field}: {message}",
            errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}],
        )


class InvalidParameter(AppError):
    """A query parameter that parsed but makes no sense (a tampered cursor, say)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid request"

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(
            f"Query parameter {parameter!r}: {message}",
            errors=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
        )


def problem_response(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one place a problem+json body is built."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = list(errors)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _app_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, AppError)
    return problem_response(
        error.status,
        slug=error.slug,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        headers=error.headers,
    )


def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else None
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(error.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route's)."""
    probe = {**request.scope, "method": ""}  # matches no route fully: path-only matches remain
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(probe)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def _validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [_public_error(item) for item in error.errors()]
    if any(item["type"] == "json_invalid" for item in errors):
        return problem_response(
            HTTPStatus.BAD_REQUEST,
            slug="malformed-json",
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
            errors=errors,
        )
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        slug="validation-error",
        title="Invalid request",
        detail="; ".join(f"{_dotted(item['loc'])}: {item['msg']}" for item in errors),
        errors=errors,
    )


def _public_error(item: Any) -> dict[str, Any]:
    """Keep what a client needs; drop `input` and `ctx`, which may echo large or odd values."""
    return {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


class InvalidIdempotencyKey(AppError):
    """The Idempotency-Key header is empty, too long, repeated or not printable ASCII."""

    slug = "invalid-idempotency-key"
    title = "Invalid Idempotency-Key"

    def __init__(self, message: str) -> None:
        super().__init__(
            f"Header 'Idempotency-Key': {message}",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": message, "type": "value_error"}],
        )


class IdempotencyKeyReused(AppError):
    """The key already answered a different request (another body, path or query)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused"


class IdempotencyKeyInFlight(Conflict):
    """Another request with the same key committed while this one ran; retry to get its answer."""

    slug = "idempotency-key-in-flight"
    title = "Idempotency-Key in use"


class InvalidDocument(AppError):
    """An import document that parsed but does not validate; `errors` locates each problem."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Invalid import document"


class MalformedDocument(AppError):
    """An import body that is not JSON at all (as for every other JSON body: 400)."""

    status = HTTPStatus.BAD_REQUEST
    slug = "malformed-json"
    title = "Malformed JSON"


class UnsupportedMediaType(AppError):
    """POST /import with a body that is neither a todo-api export nor a calendar."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    slug = "unsupported-media-type"
    title = "Unsupported media type"

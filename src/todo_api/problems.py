"""RFC 9457 problem+json: the one place errors become HTTP answers.

The handlers turn an `AppError` (todo_api.errors), request-validation errors and Starlette's
HTTP errors (404 route, 405 method) into the same problem shape. Anything else is caught by
the request middleware and answered as a generic 500 without details.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from todo_api.errors import AppError, UnsupportedMediaType, dotted_location

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:todo-api:problem:"


class ValidationIssue(BaseModel):
    """One thing wrong with a request: where (`loc`), what (`msg`), and a machine-readable kind."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description='Path to the part at fault, e.g. ["body", "title"].')
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document: the body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="`urn:todo-api:problem:<slug>`, or `about:blank`.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ValidationIssue] = Field(
        default=[], description="For validation problems: each field or parameter at fault."
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
    """A problem+json answer (the body from `problem_document`)."""
    return Response(
        problem_document(status, slug=slug, title=title, detail=detail, errors=errors),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def problem_document(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
) -> bytes:
    """The one place a problem+json body is built; `Problem` documents its shape. Also for
    answers the server's HTTP protocol writes itself, before there is a request for the app."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = list(errors)
    return orjson.dumps(body)


def _app_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, AppError)
    return app_error_response(error)


def app_error_response(error: AppError) -> Response:
    """The problem+json answer to an application error (the fast lane renders with it too)."""
    return problem_response(
        error.status,
        slug=error.slug,
        title=error.title,
        detail=error.detail,
        errors=error.errors,
        headers=error.headers,
    )


# What FastAPI's JSON reading raises, besides a syntax error, on bytes that are no JSON it can
# hold: invalid UTF-8 (UnicodeDecodeError), numbers past 4,300 digits (ValueError), deep nesting.
_UNREADABLE_JSON = (ValueError, RecursionError)


def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == HTTPStatus.BAD_REQUEST and isinstance(
        error.__cause__, _UNREADABLE_JSON
    ):
        # FastAPI answers these with a bare 400 of its own, raised from the reading error.
        return _malformed_json(_unreadable_because(error.__cause__))
    detail = error.detail if isinstance(error.detail, str) else None
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(error.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route's),
    and HEAD wherever GET is: `HeadAsGetMiddleware` answers it."""
    probe = {**request.scope, "method": ""}  # matches no route fully: path-only matches remain
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(probe)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _unreadable_because(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8"
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    return "it holds a number too long to read"


def _malformed_json(reason: str) -> Response:
    message = f"The request body is not valid JSON: {reason}."
    return problem_response(
        HTTPStatus.BAD_REQUEST,
        slug="malformed-json",
        title="Malformed JSON",
        detail=message,
        errors=[{"loc": ["body"], "msg": message, "type": "json_invalid"}],
    )


def _is_json(request: Request) -> bool:
    """Whether the body is JSON as FastAPI reads it: `application/json` or `application/*+json`
    (JSON Merge Patch's `application/merge-patch+json`, say); without a Content-Type, not."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _unsupported_media_type() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "Send the body as application/json.",
        errors=[
            {
                "loc": ["header", "Content-Type"],
                "msg": "must be application/json",
                "type": "unsupported_media_type",
            }
        ],
    )


def _validation_error(request: Request, error: Exception) -> Response:
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
    if any(item["loc"] == ["body"] for item in errors) and not _is_json(request):
        # FastAPI hands a body of another media type to the model as bytes, which fail it.
        return _app_error(request, _unsupported_media_type())
    return problem_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        slug="validation-error",
        title="Invalid request",
        detail="; ".join(f"{dotted_location(item['loc'])}: {item['msg']}" for item in errors),
        errors=errors,
    )


def _public_error(item: Any) -> dict[str, Any]:
    """Keep what a client needs; drop `input` and `ctx`, which may echo large or odd values."""
    return {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

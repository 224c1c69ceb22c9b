"""The OpenAPI document is the contract: what FastAPI derives from the routes, completed here.

Routes declare their own outcomes (404, 409, 412, ...) by description only. This module, in one
pass over the generated document, gives every error response the `Problem` schema as
`application/problem+json` (which is what `problems.problem_response` sends), adds the errors any
operation of its kind can answer, replaces FastAPI's `HTTPValidationError`, links each
created resource to the operations on it (for clients, and for Schemathesis' stateful phase),
and states how to authenticate: the security schemes (bearer token; session cookie with its
CSRF header) and, per operation, which it needs (none on the public routes), so /docs'
Authorize button works.
tests/contract.py checks every response of the test suite against the result.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from todo_api.credentials import SESSION_COOKIE
from todo_api.domain.accounts import SAFE_METHODS, is_public
from todo_api.problems import PROBLEM_CONTENT_TYPE, Problem

Document = dict[str, Any]

PROBLEM_REF = "#/components/schemas/Problem"
# FastAPI's default 422 body and description; this server sends a Problem instead.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_VALIDATION_DESCRIPTION = "Validation Error"

# Errors an operation can answer because of what it takes, whatever the route does.
ANY_OPERATION = {
    400: "The Host header names no host this server answers (TODO_ALLOWED_HOSTS)",
    429: "Rate limit reached (TODO_RATE_LIMIT, rate_limit.py); Retry-After says when to retry",
    500: "An unexpected failure; the detail quotes the request id",
}
WITH_INPUT = {422: "Invalid input; `errors` names each field or parameter at fault"}
WITH_BODY = {
    400: "The body is not valid JSON (or the Host is not allowed)",
    413: "The body is larger than TODO_MAX_BODY_BYTES",
    415: "The body is not application/json",
}

# (collection, item path, path parameter): POST to the collection creates an item whose `id`
# is the path parameter of every operation on the item.
CREATED_RESOURCES = (
    ("/todos", "/todos/{todo_id}", "todo_id"),
    ("/lists", "/lists/{list_id}", "list_id"),
)

# How a caller proves who they are (authentication.py): the names are the document's own.
SECURITY_SCHEMES: Document = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "todo_…",
        "description": "An API token from POST /tokens: `Authorization: Bearer todo_…`.",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The browser session set by POST /session (a browser sends it by "
        "itself; /docs cannot set it, log in with POST /session there instead).",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The `csrf_token` of POST /session's answer: needed beside the session "
        "cookie on every request but GET, HEAD and OPTIONS.",
    },
}
READ_SECURITY: list[Document] = [{"bearerToken": []}, {"sessionCookie": []}]
CHANGE_SECURITY: list[Document] = [{"bearerToken": []}, {"sessionCookie": [], "csrfToken": []}]


def install_openapi(app: FastAPI, *, auth_required: bool = True) -> None:
    """Make `app.openapi()` (and so /openapi.json and /docs) serve the completed document."""
    generate: Callable[[], Document] = app.openapi

    def openapi() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(generate(), auth_required=auth_required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete_document(document: Document, *, auth_required: bool = True) -> Document:
    """Problem responses everywhere, FastAPI's validation schemas gone, links added, and
    (TODO_AUTH=required) the security each operation needs."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)

    for operations in document["paths"].values():
        for operation in operations.values():
            _document_errors(operation)
    _link_created_resources(document)
    if auth_required:
        _state_security(document)
    return document


def _state_security(document: Document) -> None:
    """The schemes, a default that any change needs, and each operation's own requirement."""
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = CHANGE_SECURITY
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            method = method.upper()
            if is_public(method, path):
                operation["security"] = []
            else:
                operation["security"] = READ_SECURITY if method in SAFE_METHODS else CHANGE_SECURITY


def _document_errors(operation: Document) -> None:
    responses: Document = operation.setdefault("responses", {})
    implied = dict(ANY_OPERATION)
    if operation.get("parameters") or operation.get("requestBody"):
        implied |= WITH_INPUT
    if operation.get("requestBody"):  # DELETE /me has one too
        implied |= WITH_BODY
    for status, description in implied.items():
        response = responses.setdefault(str(status), {"description": description})
        if response["description"] == _FASTAPI_VALIDATION_DESCRIPTION:
            response["description"] = description
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}


def _link_created_resources(document: Document) -> None:
    paths = document["paths"]
    for collection, item_path, parameter in CREATED_RESOURCES:
        created = paths[collection]["post"]["responses"]["201"]
        created["links"] = {
            f"{operation['operationId']}": {
                "operationId": operation["operationId"],
                "parameters": {parameter: "$response.body#/id"},
                "description": f"The created item, by the `id` in the body ({method.upper()}).",
            }
            for method, operation in paths[item_path].items()
        }

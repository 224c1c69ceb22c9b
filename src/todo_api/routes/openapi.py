"""OpenAPI declarations that several route modules share: error responses and media types."""

from typing import Any

Responses = dict[int | str, dict[str, Any]]
INVALID: Responses = {422: {"description": "Invalid input; `errors` names each field at fault"}}
CONDITIONAL: Responses = {
    412: {"description": "If-Match names a version that is no longer current"},
    428: {"description": "If-Match is required (TODO_REQUIRE_IF_MATCH) and missing"},
}
ETAG_HEADER = {"ETag": {"description": "Strong validator; send it back in If-Match"}}
MERGE_PATCH = "application/merge-patch+json"
# Answered by the authentication middleware (authentication.py) before any route runs.
AUTHENTICATED: Responses = {
    401: {
        "description": "No valid credential (missing, unknown, expired or revoked)",
        "headers": {"WWW-Authenticate": {"description": 'Bearer realm="todo-api"'}},
    },
    403: {"description": "A read-only token writing, or a session change without its CSRF token"},
}
LOGIN: Responses = {401: {"description": "The username or the password is wrong"}}

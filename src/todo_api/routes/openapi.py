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

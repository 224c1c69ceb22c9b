"""Every SQL statement of the service, one module per resource.

Each function takes the caller's user id and scopes to it: another user's row is never found.
Nothing above this package builds a query; nothing in it knows HTTP (see docs/architecture.md).
"""

from todo_api.repository import (
    idempotency_keys,
    import_export,
    lists,
    search_index,
    tags,
    todo_bulk,
    todos,
)

__all__ = [
    "idempotency_keys",
    "import_export",
    "lists",
    "search_index",
    "tags",
    "todo_bulk",
    "todos",
]

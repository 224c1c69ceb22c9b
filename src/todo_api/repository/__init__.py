"""Every SQL statement of the service, one module per resource.

Each function takes the caller's user id and scopes to it: another user's row is never found.
"""

from todo_api.repository import lists, tags, todos

__all__ = ["lists", "tags", "todos"]

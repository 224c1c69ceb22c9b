"""The todo document the in-memory references answer with, shaped like todo-api's `TodoRead`.

The floor and the bare ASGI app serve these same values, so the gap between them is framework
cost alone, and the gap to todo-api is what our own code (database included) costs.
"""

from typing import Any

PAGE_SIZE = 50
# As long as the URLs todo-api builds for a benchmark server on 127.0.0.1, so bodies match in size.
BASE_URL = "http://127.0.0.1:40000/todos"
# Timestamps as todo-api renders them; kept as strings because the references hold no datetimes.
TIMESTAMP = "2025-01-01T12:00:00.000000Z"


def sample_todo(todo_id: int, title: str = "buy milk") -> dict[str, Any]:
    """One todo with every field todo-api returns."""
    return {
        "id": todo_id,
        "url": f"{BASE_URL}/{todo_id}",
        "list_id": 1,
        "title": title,
        "description": None,
        "completed": False,
        "completed_at": None,
        "order": None,
        "tags": [],
        "priority": 0,
        "due_date": None,
        "due_at": None,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }


def sample_page() -> list[dict[str, Any]]:
    """A full page, newest first, as `GET /todos?limit=50` returns it."""
    return [sample_todo(todo_id) for todo_id in range(PAGE_SIZE, 0, -1)]

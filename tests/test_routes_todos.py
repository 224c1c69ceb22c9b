"""The /todos resource over HTTP: CRUD, merge-patch semantics, validation and errors."""

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contract import StrictTodoRead


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/todos", json={"title": "buy milk", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def test_create_returns_the_todo_with_location_and_absolute_url(client: TestClient) -> None:
    response = client.post("/todos", json={"title": "  buy milk  ", "order": 3})
    assert response.status_code == 201
    todo = StrictTodoRead.model_validate(response.json())
    assert todo.title == "buy milk"  # trimmed
    assert todo.order == 3
    assert todo.completed is False
    assert todo.completed_at is None
    assert todo.description is None
    assert todo.url == f"http://localhost/todos/{todo.id}"
    assert response.headers["location"] == todo.url
    assert todo.created_at == todo.updated_at
    assert todo.created_at.tzinfo is not None
    assert abs(todo.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_created_completed_todo_gets_completion_time(client: TestClient) -> None:
    todo = create(client, completed=True)
    assert todo["completed_at"] == todo["created_at"]


def test_get_returns_what_was_created(client: TestClient) -> None:
    created = create(client, description="two litres")
    response = client.get(f"/todos/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_list_is_a_plain_array_newest_first(client: TestClient) -> None:
    ids = [create(client, title=f"todo {n}")["id"] for n in range(3)]
    response = client.get("/todos")
    assert response.status_code == 200
    body = response.json()
    assert [todo["id"] for todo in body] == list(reversed(ids))
    for todo in body:
        StrictTodoRead.model_validate(todo)
    assert "link" not in response.headers


def test_list_filters_on_completed(client: TestClient) -> None:
    done = create(client, title="done", completed=True)
    open_ = create(client, title="open")
    assert [t["id"] for t in client.get("/todos?completed=true").json()] == [done["id"]]
    assert [t["id"] for t in client.get("/todos?completed=false").json()] == [open_["id"]]


def test_put_replaces_every_field(client: TestClient) -> None:
    todo = create(client, description="old", order=1, completed=True)
    response = client.put(f"/todos/{todo['id']}", json={"title": "new"})
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "new"
    assert replaced["description"] is None  # left out: back to the default
    assert replaced["order"] is None
    assert replaced["completed"] is False
    assert replaced["completed_at"] is None
    assert replaced["created_at"] == todo["created_at"]
    assert replaced["updated_at"] > todo["updated_at"]
    assert client.get(f"/todos/{todo['id']}").json() == replaced


def test_put_requires_a_title(client: TestClient) -> None:
    todo = create(client)
    body = assert_problem(client.put(f"/todos/{todo['id']}", json={"completed": True}), 422)
    assert body["errors"][0]["loc"] == ["body", "title"]
    assert client.get(f"/todos/{todo['id']}").json() == todo  # nothing written


def test_patch_leaves_absent_fields_untouched(client: TestClient) -> None:
    todo = create(client, description="keep me", order=7)
    patched = client.patch(f"/todos/{todo['id']}", json={"title": "renamed"}).json()
    assert patched["title"] == "renamed"
    assert patched["description"] == "keep me"
    assert patched["order"] == 7


def test_patch_null_clears_a_nullable_field(client: TestClient) -> None:
    todo = create(client, description="drop me", order=7)
    patched = client.patch(f"/todos/{todo['id']}", json={"description": None}).json()
    assert patched["description"] is None
    assert patched["order"] == 7


@pytest.mark.parametrize("field", ["title", "completed"])
def test_patch_null_on_a_required_field_is_rejected(client: TestClient, field: str) -> None:
    todo = create(client)
    body = assert_problem(client.patch(f"/todos/{todo['id']}", json={field: None}), 422)
    assert body["errors"][0]["loc"] == ["body", field]
    assert client.get(f"/todos/{todo['id']}").json() == todo


def test_patch_accepts_merge_patch_content_type(client: TestClient) -> None:
    todo = create(client)
    response = client.patch(
        f"/todos/{todo['id']}",
        content=b'{"completed": true}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    assert response.json()["completed"] is True


def test_empty_patch_changes_nothing(client: TestClient) -> None:
    todo = create(client)
    assert client.patch(f"/todos/{todo['id']}", json={}).json() == todo


def test_completion_time_is_set_kept_and_cleared(client: TestClient) -> None:
    todo = create(client)
    done = client.patch(f"/todos/{todo['id']}", json={"completed": True}).json()
    assert done["completed_at"] is not None
    again = client.patch(f"/todos/{todo['id']}", json={"completed": True}).json()
    assert again["completed_at"] == done["completed_at"]  # first completion time is kept
    reopened = client.patch(f"/todos/{todo['id']}", json={"completed": False}).json()
    assert reopened["completed_at"] is None


def test_completed_at_cannot_be_set_by_clients(client: TestClient) -> None:
    body = assert_problem(
        client.post("/todos", json={"title": "x", "completed_at": "2020-01-01T00:00:00Z"}), 422
    )
    assert body["errors"][0]["loc"] == ["body", "completed_at"]


def test_delete_then_gone(client: TestClient) -> None:
    todo = create(client)
    response = client.delete(f"/todos/{todo['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"/todos/{todo['id']}"), 404)
    assert_problem(client.delete(f"/todos/{todo['id']}"), 404)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("todo_id", ["999", "0", "-1", str(2**63), str(10**30)])
def test_unknown_id_is_404_problem(client: TestClient, method: str, todo_id: str) -> None:
    response = client.request(method, f"/todos/{todo_id}", json={"title": "x"})
    body = assert_problem(response, 404)
    assert body["type"].endswith("not-found")


def test_non_integer_id_is_422_naming_the_path(client: TestClient) -> None:
    body = assert_problem(client.get("/todos/abc"), 422)
    assert body["errors"][0]["loc"] == ["path", "todo_id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": 5}, "title"),
        ({}, "title"),
        ({"title": "x", "description": "d" * 10_001}, "description"),
        ({"title": "x", "completed": "yes"}, "completed"),
        ({"title": "x", "completed": 1}, "completed"),
        ({"title": "x", "order": "first"}, "order"),
        ({"title": "x", "unknown": 1}, "unknown"),
        ({"title": "x", "id": 3}, "id"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    body = assert_problem(client.post("/todos", json=payload), 422)
    assert ["body", field] in [error["loc"] for error in body["errors"]]
    assert field in body["detail"]
    assert client.get("/todos").json() == []  # nothing written


def test_limits_are_inclusive(client: TestClient) -> None:
    todo = create(client, title="x" * 500, description="d" * 10_000)
    assert len(todo["title"]) == 500


@pytest.mark.parametrize("order", [1, 2.5, -3, None])
def test_order_round_trips(client: TestClient, order: float | None) -> None:
    assert create(client, order=order)["order"] == order


def test_non_finite_order_is_rejected(client: TestClient) -> None:
    response = client.post(
        "/todos",
        content=b'{"title": "x", "order": NaN}',
        headers={"content-type": "application/json"},
    )
    # Python's JSON parser reads NaN, so the body is well-formed: the value is what is invalid.
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "order"]
    assert response.headers["content-type"] == "application/problem+json"


def test_malformed_json_is_400_problem(client: TestClient) -> None:
    response = client.post(
        "/todos", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON"


@pytest.mark.parametrize("payload", [b"[]", b'"title"', b"null", b"42"])
def test_json_that_is_not_an_object_is_422(client: TestClient, payload: bytes) -> None:
    response = client.post("/todos", content=payload, headers={"content-type": "application/json"})
    assert_problem(response, 422)


def test_wrong_method_is_405_problem(client: TestClient) -> None:
    response = client.put("/todos", json={"title": "x"})
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH, POST"


def test_405_names_head_only_where_get_is_served(client: TestClient) -> None:
    """HeadAsGetMiddleware answers HEAD for every GET route, so Allow must say so (RFC 9110)."""
    assert client.post("/todos/1").headers["allow"] == "DELETE, GET, HEAD, PATCH, PUT"
    assert client.get("/import").headers["allow"] == "POST"


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/nope"), 404)


def test_unicode_titles_survive(client: TestClient) -> None:
    todo = create(client, title="köp mjölk 🥛 — 牛乳")
    assert client.get(f"/todos/{todo['id']}").json()["title"] == "köp mjölk 🥛 — 牛乳"

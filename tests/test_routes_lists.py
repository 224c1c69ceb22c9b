"""Lists: the default Inbox, CRUD, moving todos between lists, deleting a list with its todos."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from contract import StrictListRead, StrictTodoRead


def create_list(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/lists", json={"name": "Groceries", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_user_starts_with_a_default_inbox(client: TestClient) -> None:
    [inbox] = client.get("/lists").json()
    StrictListRead.model_validate(inbox)
    assert inbox["name"] == "Inbox"
    assert inbox["is_default"] is True


def test_todos_without_list_id_land_in_the_default_list(client: TestClient) -> None:
    [inbox] = client.get("/lists").json()
    todo = client.post("/todos", json={"title": "x"}).json()
    assert todo["list_id"] == inbox["id"]


def test_create_read_list(client: TestClient) -> None:
    response = client.post("/lists", json={"name": "  Work  ", "order": 2})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "Work"
    assert created["is_default"] is False
    assert (
        response.headers["location"] == created["url"] == f"http://localhost/lists/{created['id']}"
    )
    assert response.headers["etag"] == '"1"'
    fetched = client.get(f"/lists/{created['id']}")
    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'


def test_lists_are_ordered_by_order_then_age(client: TestClient) -> None:
    late = create_list(client, name="late", order=5)
    early = create_list(client, name="early", order=1)
    unordered = create_list(client, name="unordered")
    names = [item["name"] for item in client.get("/lists").json()]
    assert names == [early["name"], late["name"], "Inbox", unordered["name"]]


def test_patch_and_put_list(client: TestClient) -> None:
    todo_list = create_list(client, order=3)
    patched = client.patch(f"/lists/{todo_list['id']}", json={"name": "Shopping"})
    assert patched.json()["name"] == "Shopping"
    assert patched.json()["order"] == 3
    assert patched.headers["etag"] == '"2"'
    replaced = client.put(f"/lists/{todo_list['id']}", json={"name": "Food"}).json()
    assert replaced["order"] is None


def test_default_list_can_be_renamed_not_deleted(client: TestClient) -> None:
    [inbox] = client.get("/lists").json()
    assert client.patch(f"/lists/{inbox['id']}", json={"name": "Later"}).status_code == 200
    response = client.delete(f"/lists/{inbox['id']}")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


def test_deleting_a_list_deletes_its_todos_only(client: TestClient) -> None:
    doomed = create_list(client)
    in_list = client.post("/todos", json={"title": "a", "list_id": doomed["id"]}).json()
    elsewhere = client.post("/todos", json={"title": "b"}).json()
    assert client.delete(f"/lists/{doomed['id']}").status_code == 204
    assert client.get(f"/lists/{doomed['id']}").status_code == 404
    assert client.get(f"/todos/{in_list['id']}").status_code == 404
    assert client.get(f"/todos/{elsewhere['id']}").status_code == 200


def test_moving_a_todo_keeps_its_id(client: TestClient) -> None:
    target = create_list(client)
    todo = client.post("/todos", json={"title": "move me", "tags": ["a"]}).json()
    moved = client.patch(f"/todos/{todo['id']}", json={"list_id": target["id"]}).json()
    StrictTodoRead.model_validate(moved)
    assert moved["id"] == todo["id"]
    assert moved["list_id"] == target["id"]
    assert moved["tags"] == ["a"]
    in_target = client.get("/todos", params={"list_id": target["id"]}).json()
    assert [t["id"] for t in in_target] == [todo["id"]]


@pytest.mark.parametrize("method", ["post", "patch"])
def test_unknown_list_id_is_422_naming_list_id(client: TestClient, method: str) -> None:
    if method == "post":
        response = client.post("/todos", json={"title": "x", "list_id": 999})
    else:
        todo = client.post("/todos", json={"title": "x"}).json()
        response = client.patch(f"/todos/{todo['id']}", json={"list_id": 999})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "list_id"]


def test_put_without_list_id_returns_to_the_default_list(client: TestClient) -> None:
    [inbox] = client.get("/lists").json()
    other = create_list(client)
    todo = client.post("/todos", json={"title": "x", "list_id": other["id"]}).json()
    replaced = client.put(f"/todos/{todo['id']}", json={"title": "y"}).json()
    assert replaced["list_id"] == inbox["id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": ""}, "name"), ({"name": "x" * 201}, "name"), ({"name": "a", "x": 1}, "x")],
)
def test_invalid_list_is_422(client: TestClient, payload: dict[str, Any], field: str) -> None:
    response = client.post("/lists", json=payload)
    assert response.status_code == 422
    assert ["body", field] in [error["loc"] for error in response.json()["errors"]]
    assert len(client.get("/lists").json()) == 1


@pytest.mark.parametrize("list_id", ["999", "0", str(2**64)])
def test_unknown_list_is_404(client: TestClient, list_id: str) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = client.request(method, f"/lists/{list_id}", json={"name": "x"})
        assert response.status_code == 404, method

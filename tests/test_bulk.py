"""DELETE /todos and PATCH /todos on a filtered set: atomic, counted, filtered."""

from typing import Any

from fastapi.testclient import TestClient


def create(client: TestClient, **fields: Any) -> int:
    todo_id: int = client.post("/todos", json={"title": "t", **fields}).json()["id"]
    return todo_id


def test_delete_without_filters_deletes_all_of_yours(client: TestClient) -> None:
    for _ in range(3):
        create(client)
    response = client.delete("/todos")
    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    assert client.get("/todos").json() == []


def test_clear_completed(client: TestClient) -> None:
    done = [create(client, completed=True) for _ in range(2)]
    kept = create(client)
    assert client.delete("/todos", params={"completed": "true"}).json() == {"deleted": 2}
    remaining = [todo["id"] for todo in client.get("/todos").json()]
    assert remaining == [kept]
    assert all(client.get(f"/todos/{todo_id}").status_code == 404 for todo_id in done)


def test_delete_by_tag_and_search(client: TestClient) -> None:
    create(client, title="buy milk", tags=["shop"])
    keep = create(client, title="buy stamps", tags=["post"])
    assert client.delete("/todos", params={"tag": "SHOP", "q": "buy"}).json() == {"deleted": 1}
    assert [t["id"] for t in client.get("/todos").json()] == [keep]


def test_mark_all_complete(client: TestClient) -> None:
    ids = [create(client) for _ in range(3)]
    response = client.patch("/todos", json={"completed": True})
    assert response.json() == {"updated": 3}
    for todo_id in ids:
        todo = client.get(f"/todos/{todo_id}")
        assert todo.json()["completed"] is True
        assert todo.json()["completed_at"] is not None
        assert todo.headers["etag"] == '"2"'


def test_bulk_patch_applies_to_the_filtered_set_only(client: TestClient) -> None:
    urgent = create(client, priority=3)
    calm = create(client, priority=0)
    response = client.patch("/todos", params={"priority_min": 2}, json={"tags": ["now"]})
    assert response.json() == {"updated": 1}
    assert client.get(f"/todos/{urgent}").json()["tags"] == ["now"]
    assert client.get(f"/todos/{calm}").json()["tags"] == []


def test_bulk_patch_is_atomic(client: TestClient) -> None:
    ids = [create(client) for _ in range(3)]
    response = client.patch("/todos", json={"list_id": 424242})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "list_id"]
    for todo_id in ids:
        assert client.get(f"/todos/{todo_id}").headers["etag"] == '"1"'


def test_invalid_bulk_patch_body_is_422(client: TestClient) -> None:
    create(client)
    response = client.patch("/todos", json={"completed": "yes"})
    assert response.status_code == 422
    assert client.get("/todos").json()[0]["completed"] is False

"""DELETE /todos and PATCH /todos on a filtered set: atomic, counted, filtered."""

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import post_created as post


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


# --- a bulk patch changes each todo as a patch of that todo alone would ---------------------

SEEDS: list[dict[str, Any]] = [
    {},
    {"completed": True, "priority": 2},
    {"due_date": "2026-03-01", "tags": ["Home"]},
    {"due_at": "2026-03-01T10:00:00+02:00", "tags": ["a", "b"], "completed": True, "order": 2.5},
]
words = st.text(alphabet="abcXYZ ", min_size=1, max_size=8).filter(str.strip)
patches = st.fixed_dictionaries(
    {},
    optional={
        "title": words,
        "description": st.none() | words,
        "completed": st.booleans(),
        "priority": st.integers(0, 3),
        "order": st.none() | st.floats(-10, 10, allow_nan=False),
        "tags": st.lists(st.sampled_from(["a", "B", "home", "x"]), unique_by=str.lower, max_size=3),
        "due_date": st.none() | st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)).map(str),
        "due_at": st.none()
        | st.sampled_from(["2026-02-01T08:00:00-05:00", "2026-04-01T23:30:00+09:00"]),
        "move": st.booleans(),
    },
).filter(lambda patch: patch.get("due_date") is None or patch.get("due_at") is None)


def _comparable(todo: dict[str, Any], etag: str, *, keep_list: bool) -> dict[str, Any]:
    """A todo without what must differ between the two copies (ids, times of the request)."""
    times = {todo["created_at"]: "at creation", todo["updated_at"]: "at the change"}
    ignored = {"id", "url", "created_at", "updated_at"} | (set() if keep_list else {"list_id"})
    comparable = {key: value for key, value in todo.items() if key not in ignored}
    comparable["completed_at"] = times.get(todo["completed_at"], todo["completed_at"])
    comparable["etag"] = etag
    return comparable


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(patch=patches)
def test_a_bulk_patch_equals_patching_each_todo_alone(
    client: TestClient, patch: dict[str, Any]
) -> None:
    bulk_list, single_list, target = (post(client, "/lists", name=n)["id"] for n in "BST")
    if patch.pop("move", False):
        patch["list_id"] = target
    copies = {
        list_id: [create(client, list_id=list_id, **seed) for seed in SEEDS]
        for list_id in (bulk_list, single_list)
    }
    response = client.patch("/todos", params={"list_id": bulk_list}, json=patch)
    assert response.status_code == 200
    assert response.json() == {"updated": len(SEEDS)}
    for todo_id in copies[single_list]:
        assert client.patch(f"/todos/{todo_id}", json=patch).status_code == 200

    moved = "list_id" in patch
    for bulk_id, single_id in zip(copies[bulk_list], copies[single_list], strict=True):
        bulk, single = client.get(f"/todos/{bulk_id}"), client.get(f"/todos/{single_id}")
        assert _comparable(bulk.json(), bulk.headers["etag"], keep_list=moved) == _comparable(
            single.json(), single.headers["etag"], keep_list=moved
        )
        tags = [tag["name"] for tag in client.get("/tags").json()]
        for name in bulk.json()["tags"]:
            assert name.casefold() in {tag.casefold() for tag in tags}
    # Each example adds todos to the same database: read back only this example's lists.
    lists_now = [target] if moved else [bulk_list, single_list]
    for sort in ("due", "order", "-priority"):
        ranks = []
        for copy in copies.values():
            ids = [
                todo["id"]
                for list_id in lists_now
                for todo in client.get("/todos", params={"sort": sort, "list_id": list_id}).json()
                if todo["id"] in copy
            ]
            ranks.append([copy.index(todo_id) for todo_id in ids])
        assert ranks[0] == ranks[1], sort
    for tag in ("a", "home"):
        found = {
            todo["id"]
            for list_id in lists_now
            for todo in client.get("/todos", params={"tag": tag, "list_id": list_id}).json()
        }
        assert [i for i, todo_id in enumerate(copies[bulk_list]) if todo_id in found] == [
            i for i, todo_id in enumerate(copies[single_list]) if todo_id in found
        ]


def test_a_bulk_patch_acts_on_the_todos_matched_before_it(client: TestClient) -> None:
    """`?completed=false` with `{"completed": true}`: the todos it completes stop matching."""
    open_ids = [create(client, tags=["x"]) for _ in range(3)]
    done = create(client, completed=True)
    response = client.patch(
        "/todos", params={"completed": "false", "tag": "x"}, json={"completed": True, "tags": []}
    )
    assert response.json() == {"updated": 3}
    assert all(client.get(f"/todos/{todo_id}").json()["completed"] for todo_id in open_ids)
    assert client.get(f"/todos/{done}").headers["etag"] == '"1"'
    assert client.get("/tags").json() == []

"""Two users, every route and method on the other's resources: not found, or empty — never
theirs, never 403. Run twice: through the fast lane, and through FastAPI alone (the same app
on the same database, built without the lane). `test_the_matrix_covers_every_route` keeps the
matrix in step with the OpenAPI document."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL, Account, register_account
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.performance.fast_lane import FastLane

SECRET = "ada-only-zebra"  # a word in Ada's data that must never reach Bob
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
# Routes that act on the caller's own account, not on a resource id: no "other's" to probe.
_OWN_ACCOUNT_ROUTES = {
    ("POST", "/users"),
    ("GET", "/me"),
    ("PATCH", "/me"),
    ("DELETE", "/me"),
    ("POST", "/tokens"),
    ("POST", "/session"),
    ("DELETE", "/session"),
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/ready"),
}


@dataclass
class AdasThings:
    """What Ada owns, by id, for Bob to go looking for."""

    todo_id: int
    list_id: int
    token_id: int
    idempotency_key: str
    cursor: str


@dataclass
class World:
    ada: Account
    bob: Account
    things: AdasThings
    lane: TestClient  # the app as served
    fastapi: TestClient  # the same app without the fast lane


def _app_without_lane(settings: Settings) -> Any:
    app = create_app(settings)
    lane: object = FastLane
    app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not lane]
    return app


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    settings = Settings(database_url=database_url, auth="required")
    with (
        TestClient(
            create_app(settings), raise_server_exceptions=False, base_url=API_BASE_URL
        ) as lane,
        TestClient(
            _app_without_lane(settings), raise_server_exceptions=False, base_url=API_BASE_URL
        ) as fastapi,
    ):
        ada = register_account(lane, "ada")
        bob = register_account(lane, "bob")
        todo_list = lane.post("/lists", json={"name": SECRET}, headers=ada.headers).json()
        key = "ada-key-1"
        todo = lane.post(
            "/todos",
            json={"title": SECRET, "list_id": todo_list["id"], "tags": [SECRET]},
            headers={**ada.headers, "Idempotency-Key": key},
        ).json()
        lane.post("/todos", json={"title": f"{SECRET} two"}, headers=ada.headers)
        page = lane.get("/todos?limit=1", headers=ada.headers)
        [cursor] = parse_qs(urlsplit(page.links["next"]["url"]).query)["cursor"]
        [token] = lane.get("/tokens", headers=ada.headers).json()
        things = AdasThings(todo["id"], todo_list["id"], token["id"], key, cursor)
        yield World(ada, bob, things, lane, fastapi)


def _probes(things: AdasThings) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request options) for every route, aimed at Ada's things."""
    todo, todo_list = f"/todos/{things.todo_id}", f"/lists/{things.list_id}"
    return [
        ("GET", todo, {}),
        ("PUT", todo, {"json": {"title": "mine now"}}),
        ("PATCH", todo, {"json": {"title": "mine now"}, "headers": MERGE_PATCH}),
        ("DELETE", todo, {}),
        ("GET", todo_list, {}),
        ("PUT", todo_list, {"json": {"name": "mine now"}}),
        ("PATCH", todo_list, {"json": {"name": "mine now"}, "headers": MERGE_PATCH}),
        ("DELETE", todo_list, {}),
        ("DELETE", f"/tokens/{things.token_id}", {}),
    ]


def _bob(world: World, via: str) -> TestClient:
    return world.lane if via == "lane" else world.fastapi


@pytest.fixture(params=["lane", "fastapi"])
def via(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_the_matrix_covers_every_route(database_url: str) -> None:
    paths = create_app(Settings(database_url=database_url)).openapi()["paths"]
    documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    probed = {
        ("GET", "/todos/{todo_id}"),
        ("PUT", "/todos/{todo_id}"),
        ("PATCH", "/todos/{todo_id}"),
        ("DELETE", "/todos/{todo_id}"),
        ("GET", "/lists/{list_id}"),
        ("PUT", "/lists/{list_id}"),
        ("PATCH", "/lists/{list_id}"),
        ("DELETE", "/lists/{list_id}"),
        ("DELETE", "/tokens/{token_id}"),
        *COLLECTION_ROUTES,
    }
    assert documented - _OWN_ACCOUNT_ROUTES == probed


COLLECTION_ROUTES = {
    ("GET", "/todos"),
    ("GET", "/todo-count"),
    ("GET", "/events"),  # streams: tests/test_events.py checks that bob hears none of ada's
    ("POST", "/todos"),
    ("DELETE", "/todos"),
    ("PATCH", "/todos"),
    ("GET", "/lists"),
    ("POST", "/lists"),
    ("GET", "/tags"),
    ("GET", "/export"),
    ("GET", "/export.ics"),
    ("POST", "/import"),
    ("GET", "/tokens"),
}


def _adas_data_is_intact(world: World) -> None:
    ada = world.ada.headers
    assert world.lane.get(f"/todos/{world.things.todo_id}", headers=ada).json()["title"] == SECRET
    assert world.lane.get(f"/lists/{world.things.list_id}", headers=ada).json()["name"] == SECRET
    assert len(world.lane.get("/todos", headers=ada).json()) == 2
    assert world.lane.get("/tokens", headers=ada).status_code == 200  # her token still works


def test_every_route_on_the_others_resource_is_404(world: World, via: str) -> None:
    bob = _bob(world, via)
    for method, path, options in _probes(world.things):
        headers = {**options.pop("headers", {}), **world.bob.headers}
        response = bob.request(method, path, headers=headers, **options)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"] == "urn:todo-api:problem:not-found"
    # HEAD runs as GET, and a condition does not turn "not yours" into 304 or 412.
    for path in (f"/todos/{world.things.todo_id}", f"/lists/{world.things.list_id}"):
        assert bob.head(path, headers=world.bob.headers).status_code == 404, path
        for condition in ("If-None-Match", "If-Match"):
            conditional = {**world.bob.headers, condition: "*"}
            assert bob.get(path, headers=conditional).status_code == 404, (path, condition)
    # The fast lane skips a query string on one todo: this one is FastAPI's either way.
    assert (
        bob.get(f"/todos/{world.things.todo_id}?via=fastapi", headers=world.bob.headers).status_code
        == 404
    )
    _adas_data_is_intact(world)


def test_collections_show_nothing_of_the_other(world: World, via: str) -> None:
    bob, headers = _bob(world, via), world.bob.headers
    things = world.things
    for query in ["", f"?q={SECRET}", f"?tag={SECRET}", "?completed=false", "?sort=-updated_at"]:
        response = bob.get(f"/todos{query}", headers=headers)
        assert response.status_code == 200, query
        assert response.json() == [], query
    by_list = bob.get(f"/todos?list_id={things.list_id}", headers=headers)
    assert by_list.status_code == 200
    assert by_list.json() == []
    for query in ["", f"?q={SECRET}", f"?list_id={things.list_id}"]:
        counted = bob.get(f"/todo-count{query}", headers=headers)
        assert counted.status_code == 200, query
        assert counted.json() == {"count": 0}, query
    for path in ["/todos", f"/todos?q={SECRET}", "/tags", "/lists", "/export", "/tokens"]:
        head = bob.head(path, headers=headers)
        assert head.status_code == 200, path
        assert head.content == b"", path
    assert bob.get("/tags", headers=headers).json() == []
    assert bob.get("/lists", headers=headers).json() == []  # his Inbox comes with his first todo
    assert SECRET not in bob.get("/export", headers=headers).text
    assert SECRET not in bob.get("/export.ics", headers=headers).text
    tokens = bob.get("/tokens", headers=headers).json()
    assert things.token_id not in [token["id"] for token in tokens]
    _adas_data_is_intact(world)


def test_bulk_changes_touch_only_the_callers_todos(world: World, via: str) -> None:
    bob, headers = _bob(world, via), world.bob.headers
    patched = bob.patch("/todos", json={"completed": True}, headers={**headers, **MERGE_PATCH})
    assert patched.status_code == 200
    assert patched.json() == {"updated": 0}
    deleted = bob.delete("/todos", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": 0}
    assert bob.delete(f"/todos?q={SECRET}", headers=headers).json() == {"deleted": 0}
    in_her_list = f"/todos?list_id={world.things.list_id}"
    assert bob.delete(in_her_list, headers=headers).json() == {"deleted": 0}
    assert bob.patch(
        in_her_list, json={"completed": True}, headers={**headers, **MERGE_PATCH}
    ).json() == {"updated": 0}
    # Moving his own todos into her list: her list is unknown to him, as one that does not exist.
    bob.post("/todos", json={"title": "his"}, headers=headers)
    moved = bob.patch(
        "/todos", json={"list_id": world.things.list_id}, headers={**headers, **MERGE_PATCH}
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["errors"][0]["loc"] == ["body", "list_id"]
    _adas_data_is_intact(world)


def test_creating_into_the_others_list_is_refused_as_unknown(world: World, via: str) -> None:
    bob = _bob(world, via)
    response = bob.post(
        "/todos", json={"title": "x", "list_id": world.things.list_id}, headers=world.bob.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "list_id"]
    # The same answer as for a list that does not exist at all.
    missing = bob.post("/todos", json={"title": "x", "list_id": 999_999}, headers=world.bob.headers)
    assert missing.json()["errors"][0]["msg"].startswith("there is no list")


def test_the_others_idempotency_key_replays_nothing(world: World, via: str) -> None:
    bob = _bob(world, via)
    headers = {**world.bob.headers, "Idempotency-Key": world.things.idempotency_key}
    response = bob.post("/todos", json={"title": SECRET}, headers=headers)
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers
    assert response.json()["id"] != world.things.todo_id


def test_the_others_cursor_is_refused(world: World, via: str) -> None:
    bob = _bob(world, via)
    response = bob.get(f"/todos?limit=1&cursor={world.things.cursor}", headers=world.bob.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_an_import_lands_in_the_callers_account(world: World, via: str) -> None:
    bob = _bob(world, via)
    document = world.lane.get("/export", headers=world.ada.headers).json()
    imported = bob.post("/import", json=document, headers=world.bob.headers)
    assert imported.status_code == 200
    assert imported.json()["todos"] == 2
    assert len(bob.get("/todos", headers=world.bob.headers).json()) == 2
    _adas_data_is_intact(world)

"""Keyset pagination: every todo exactly once, stable under inserts, cursors bound to queries."""

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import API_BASE_URL, TEMPLATE_AUTH, migrated_copy
from todo_api.app import create_app
from todo_api.config import Settings


def walk(client: TestClient, url: str, between_pages: Any = None) -> list[dict[str, Any]]:
    """Follow `Link: rel=next` from `url` to the end, calling `between_pages` after each page."""
    seen: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        seen.extend(response.json())
        next_url = response.links.get("next", {}).get("url")
        if next_url and between_pages:
            between_pages()
    return seen


def create_many(client: TestClient, count: int, **fields: Any) -> list[int]:
    return [
        client.post("/todos", json={"title": f"t{n}", **fields}).json()["id"] for n in range(count)
    ]


@pytest.mark.slow  # a long property run: an app and a database per example
@given(
    count=st.integers(min_value=0, max_value=30),
    limit=st.integers(min_value=1, max_value=12),
    inserts_between_pages=st.integers(min_value=0, max_value=3),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_walking_pages_returns_every_todo_once(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template: Path,
    count: int,
    limit: int,
    inserts_between_pages: int,
) -> None:
    database_url = migrated_copy(migrated_template, tmp_path_factory.mktemp("walk") / "todo.db")
    with TestClient(
        create_app(Settings(database_url=database_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        ids = create_many(client, count)

        def insert() -> None:
            create_many(client, inserts_between_pages, title="late")

        seen = [todo["id"] for todo in walk(client, f"/todos?limit={limit}", insert)]
        assert len(seen) == len(set(seen)), "a todo appeared twice"
        assert seen == sorted(ids, reverse=True), "every todo that existed, newest first"


def test_link_header_carries_limit_and_filters(client: TestClient) -> None:
    create_many(client, 3, completed=True)
    response = client.get("/todos?limit=2&completed=true")
    next_url = response.links["next"]["url"]
    assert next_url.startswith("http://localhost/todos?")
    assert "limit=2" in next_url and "completed=true" in next_url
    assert len(client.get(next_url).json()) == 1


def test_last_full_page_has_no_next_link(client: TestClient) -> None:
    create_many(client, 2)
    assert "link" not in client.get("/todos?limit=2").headers


def test_default_page_is_fifty(client: TestClient) -> None:
    create_many(client, 51)
    response = client.get("/todos")
    assert len(response.json()) == 50
    assert "next" in response.links


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten"])
def test_limit_out_of_range_is_422(client: TestClient, limit: str) -> None:
    response = client.get(f"/todos?limit={limit}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'[1, "not a date", 3, "x"]').decode(),
        base64.urlsafe_b64encode(b'[9, "2026-01-01T00:00:00+00:00", 3, "x"]').decode(),
        base64.urlsafe_b64encode(orjson.dumps({"a": 1})).decode(),
        "x" * 600,
    ],
)
def test_tampered_cursor_is_422_naming_cursor(client: TestClient, cursor: str) -> None:
    response = client.get("/todos", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_cursor_from_another_query_is_422(client: TestClient) -> None:
    create_many(client, 3)
    next_url = client.get("/todos?limit=1").links["next"]["url"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    response = client.get("/todos", params={"cursor": cursor, "completed": "true"})
    assert response.status_code == 422
    assert "different query" in response.json()["detail"]

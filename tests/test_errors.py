"""Every error, on every route, is an RFC 9457 problem; unexpected errors leak nothing."""

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from todo_api import repository
from todo_api.app import create_app
from todo_api.config import Settings

PROBLEM_KEYS = {"type", "title", "status", "detail"}
JSON = "application/json"
# Bodies JSON cannot hold, each with the reason the problem's detail gives.
UNREADABLE_JSON = {
    "it is not UTF-8": (b'{"title": "caf\xe9"}', JSON),
    "it is nested too deeply": (
        b'{"title": "x", "tags": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        JSON,
    ),
    "it holds a number too long to read": (
        b'{"title": "x", "priority": ' + b"9" * 5000 + b"}",
        JSON,
    ),
}
# The same request through the fast lane and through FastAPI's routing (tests/test_fast_lane.py).
BOTH_PATHS = ["/todos", "/todos?via=fastapi"]


def api_routes() -> list[tuple[str, str]]:
    """(method, path) for every documented route, with `{todo_id}` filled with an unknown id."""
    paths = create_app(Settings()).openapi()["paths"]
    return [
        (
            method.upper(),
            path.replace("{todo_id}", "424242")
            .replace("{list_id}", "424242")
            .replace("{token_id}", "424242"),
        )
        for path, operations in paths.items()
        for method in operations
    ]


def assert_problem_shape(response: Any) -> None:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == response.status_code
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    for error in body.get("errors", []):
        assert set(error) == {"loc", "msg", "type"}
    assert "Traceback" not in response.text


@pytest.mark.parametrize(("method", "path"), api_routes())
def test_every_route_answers_errors_as_problems(client: TestClient, method: str, path: str) -> None:
    """Each route gets bad input of every kind it can; each 4xx must be a problem document."""
    attempts = [
        client.request(
            method, path, content=b"{not json", headers={"content-type": "application/json"}
        ),
        client.request(method, path, json={"title": 5, "unexpected": True}),
        client.request(method, path, params={"limit": "-1", "cursor": "bad", "completed": "maybe"}),
        *(
            client.request(method, path, content=body, headers={"content-type": media_type})
            for body, media_type in [*UNREADABLE_JSON.values(), (b'{"title": "x"}', "text/plain")]
        ),
    ]
    for response in attempts:
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_problem_shape(response)
    assert any(response.status_code >= 400 for response in attempts) or path in {
        "/",
        "/health",
        "/ready",
        "/lists",
        "/tags",
        "/export",
        "/export.ics",
        "/me",  # GET: yours (TODO_AUTH=disabled: the local user's)
        "/tokens",  # GET: your tokens
        "/session",  # DELETE: logging out is fine without a session
        "/events",  # GET: the changes so far (no Accept: text/event-stream), none here
    }


def test_unexpected_error_is_a_generic_500_with_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(repository.todos, "get_todo", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/todos/1", headers={"X-Request-ID": "trace-me-42"})
    assert response.status_code == 500
    assert_problem_shape(response)
    assert "secret internal detail" not in response.text
    assert "trace-me-42" in response.json()["detail"]
    assert response.headers["x-request-id"] == "trace-me-42"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "secret internal detail" in str(record.exc_info[1])


def test_the_error_shape_test_covers_every_route() -> None:
    assert {path for _, path in api_routes()} >= {
        "/",
        "/health",
        "/ready",
        "/todos",
        "/todos/424242",
    }


@pytest.mark.parametrize("path", BOTH_PATHS)
@pytest.mark.parametrize("reason", UNREADABLE_JSON)
def test_bodies_json_cannot_hold_are_malformed_json(
    client: TestClient, path: str, reason: str
) -> None:
    body, media_type = UNREADABLE_JSON[reason]

    response = client.post(path, content=body, headers={"content-type": media_type})

    assert response.status_code == 400
    assert_problem_shape(response)
    assert response.json()["type"] == "urn:todo-api:problem:malformed-json"
    assert response.json()["detail"] == f"The request body is not valid JSON: {reason}."
    assert client.get("/todos").json() == []


@pytest.mark.parametrize("path", BOTH_PATHS)
@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/x-www-form-urlencoded", "text/json", None]
)
def test_json_routes_refuse_other_media_types_with_415(
    client: TestClient, path: str, media_type: str | None
) -> None:
    headers = {"content-type": media_type} if media_type else {}

    response = client.post(path, content=b'{"title": "x"}', headers=headers)

    assert response.status_code == 415
    assert_problem_shape(response)
    assert response.json()["type"] == "urn:todo-api:problem:unsupported-media-type"
    assert client.get("/todos").json() == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_changes_in_another_media_type_are_415(client: TestClient, method: str) -> None:
    todo = client.post("/todos", json={"title": "x"}).json()
    response = client.request(
        method,
        f"/todos/{todo['id']}",
        content=b'{"title": "y"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415
    assert client.get(f"/todos/{todo['id']}").json()["title"] == "x"


@pytest.mark.parametrize(
    "media_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_media_types_are_read(client: TestClient, media_type: str) -> None:
    response = client.post(
        "/todos", content=b'{"title": "x"}', headers={"content-type": media_type}
    )
    assert response.status_code == 201

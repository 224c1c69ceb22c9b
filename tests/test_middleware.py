"""Request ids, the access log line, HEAD requests, and the request body limit."""

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support import TEMPLATE_AUTH, post_created
from todo_api.app import create_app
from todo_api.config import Settings


def test_request_id_is_generated_and_echoed(client: TestClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]
    assert len(first) == 32 and first != second


def test_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "abc-123.def:9"})
    assert response.headers["x-request-id"] == "abc-123.def:9"


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, "line\tbreak", "ümlaut"])
def test_unsafe_request_id_is_replaced(client: TestClient, unsafe: str) -> None:
    response = client.get("/health", headers={b"X-Request-ID": unsafe.encode("utf-8")})
    assert response.headers["x-request-id"] != unsafe
    assert len(response.headers["x-request-id"]) == 32


def test_error_responses_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/todos/999", headers={"X-Request-ID": "r1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "r1"


def test_one_access_line_per_request_with_route_template(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="todo_api.access"):
        client.get("/todos/999", headers={"X-Request-ID": "log-me"})
    [line] = [r for r in caplog.records if r.name == "todo_api.access"]
    assert line.__dict__["method"] == "GET"
    assert line.__dict__["route"] == "/todos/{todo_id}"
    assert line.__dict__["status"] == 404
    assert line.__dict__["duration_ms"] >= 0


def test_access_log_can_be_turned_off(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(database_url=database_url, access_log=False))
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="todo_api.access"):
        client.get("/health")
    assert not [r for r in caplog.records if r.name == "todo_api.access"]


@pytest.fixture
def small_limit_client(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, max_body_bytes=100))
    with TestClient(app, headers=TEMPLATE_AUTH) as client:
        yield client


def test_declared_oversize_body_is_413(small_limit_client: TestClient) -> None:
    response = small_limit_client.post("/todos", json={"title": "x" * 200})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "100 bytes" in response.json()["detail"]
    assert small_limit_client.get("/todos").json() == []


def test_streamed_oversize_body_is_413_while_reading(small_limit_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(50):
            yield b"x" * 10  # no Content-Length: only counting while reading can catch this
        yield b'"}'

    response = small_limit_client.post(
        "/todos", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert small_limit_client.get("/todos").json() == []


def test_body_at_the_limit_is_accepted(small_limit_client: TestClient) -> None:
    body = b'{"title": "' + b"x" * (100 - 13) + b'"}'
    assert len(body) == 100
    response = small_limit_client.post(
        "/todos", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/todos/{id}", "/todos?limit=1", "/todos?limit=1&color=red"])
def test_head_answers_the_get_headers_without_a_body(client: TestClient, path: str) -> None:
    todo = post_created(client, "/todos", title="first")
    post_created(client, "/todos", title="second")
    path = path.format(id=todo["id"])
    get = client.get(path)

    head = client.head(path)

    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "link"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_head_errors_are_the_get_errors_without_a_body(client: TestClient) -> None:
    missing = client.head("/todos/424242")
    post_only = client.head("/import")

    assert missing.status_code == 404
    assert missing.content == b""
    assert missing.headers["content-type"] == "application/problem+json"
    assert post_only.status_code == 405
    assert "POST" in post_only.headers["allow"]


def test_head_is_logged_as_head_with_its_route_template(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="todo_api.access"):
        client.head("/todos/424242")
    [line] = [r for r in caplog.records if r.name == "todo_api.access"]
    assert (line.__dict__["method"], line.__dict__["route"]) == ("HEAD", "/todos/{todo_id}")

"""Request ids, the access log line, HEAD requests, and the request body limit."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL, TEMPLATE_AUTH, post_created
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.logs import ConsoleFormatter
from todo_api.performance.fast_lane import FastLane


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
    with (
        TestClient(app, base_url=API_BASE_URL) as client,
        caplog.at_level(logging.INFO, logger="todo_api.access"),
    ):
        client.get("/health")
    assert not [r for r in caplog.records if r.name == "todo_api.access"]


@pytest.fixture
def small_limit_client(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, max_body_bytes=100))
    with TestClient(app, base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
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


def test_a_line_break_in_the_path_stays_on_the_access_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="todo_api.access"):
        client.get("/nothing%0A12:00:00%20INFO%20request%20status=200")
    [line] = [r for r in caplog.records if r.name == "todo_api.access"]

    text = ConsoleFormatter().format(line)

    assert "\n" not in text
    assert "route=/nothing\\n12:00:00 INFO request status=200 status=404" in text


def _app_client(database_url: str, *, lane: bool = True, **settings: Any) -> TestClient:
    """A client of a new app; without `lane`, FastAPI routes every request (test_fast_lane.py)."""
    app = create_app(Settings(database_url=database_url, **settings))
    if not lane:
        fast_lane: object = FastLane
        app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not fast_lane]
    return TestClient(app, headers=TEMPLATE_AUTH)


# The lane's three requests, and others that only FastAPI routes.
_HOST_CHECKED = [("GET", "/todos"), ("POST", "/todos"), ("GET", "/todos/1"), ("GET", "/lists")]


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "fastapi"])
@pytest.mark.parametrize(("method", "path"), _HOST_CHECKED)
def test_a_loopback_server_refuses_other_hosts(
    database_url: str, method: str, path: str, lane: bool
) -> None:
    """DNS rebinding: a page on evil.example, its name resolved to 127.0.0.1, sends its Host."""
    with _app_client(database_url, lane=lane) as client:
        client.post("http://localhost/todos", json={"title": "private"})

        refused = client.request(method, f"http://evil.example:8000{path}", json={"title": "x"})
        allowed = client.request(method, f"http://localhost:8000{path}", json={"title": "x"})

    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:todo-api:problem:host-not-allowed"
    assert "TODO_ALLOWED_HOSTS" in refused.json()["detail"]
    assert "private" not in refused.text
    assert allowed.status_code in (200, 201)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000"]
)
def test_a_loopback_server_answers_loopback_names(database_url: str, host: str) -> None:
    with _app_client(database_url) as client:
        assert client.get("/todos", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "fastapi"])
@pytest.mark.parametrize("host", ["localhost:1@evil.example", "localhost:80/evil?", "localhost:x"])
def test_a_port_that_is_not_digits_is_refused_never_put_in_urls(
    database_url: str, host: str, lane: bool
) -> None:
    """`Host: localhost:1@evil.example` would make `Location: http://localhost:1@evil.example/…`
    (userinfo, then another host)."""
    with _app_client(database_url, lane=lane) as client:
        created = client.post("/todos", json={"title": "x"}, headers={"Host": host})
    assert created.status_code == 400
    assert created.json()["type"] == "urn:todo-api:problem:host-not-allowed"
    assert "location" not in created.headers


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_probes_answer_any_host(database_url: str, path: str) -> None:
    with _app_client(database_url, allowed_hosts=["todo.example"]) as client:
        assert client.get(f"http://10.1.2.3:8000{path}").status_code == 200


def test_allowed_hosts_replace_the_loopback_names(database_url: str) -> None:
    with _app_client(database_url, allowed_hosts=["todo.example", "Other.Example"]) as client:
        assert client.get("https://todo.example/todos").status_code == 200
        assert client.get("https://other.example:8443/todos").status_code == 200
        assert client.get("http://localhost/todos").status_code == 400
        assert client.get("/todos", headers={"Host": ""}).status_code == 400


@pytest.mark.parametrize(
    "settings", [{"host": "0.0.0.0"}, {"host": "::"}, {"allowed_hosts": ["*"]}]
)
def test_any_host_when_bound_beyond_loopback_or_asked(
    database_url: str, settings: dict[str, Any]
) -> None:
    """The tutorial's `docker run -p 8000:8000` binds 0.0.0.0 and must work with no setting."""
    with _app_client(database_url, **settings) as client:
        created = client.post("http://203.0.113.9:8000/todos", json={"title": "x"})
    assert created.status_code == 201
    assert created.json()["url"].startswith("http://203.0.113.9:8000/todos/")


@pytest.mark.parametrize("lane", [True, False], ids=["fast-lane", "fastapi"])
def test_public_url_builds_every_absolute_url(database_url: str, lane: bool) -> None:
    public = "https://todo.example/api"
    settings = {"public_url": public + "/", "allowed_hosts": ["*"]}
    with _app_client(database_url, lane=lane, **settings) as client:
        created = client.post("http://10.0.0.5:8000/todos", json={"title": "x"})
        client.post("http://10.0.0.5:8000/todos", json={"title": "y"})
        page = client.get("http://10.0.0.5:8000/todos?limit=1")
        root = client.get("http://10.0.0.5:8000/")

    assert created.headers["location"] == created.json()["url"]
    assert created.json()["url"] == f"{public}/todos/{created.json()['id']}"
    assert page.headers["link"].startswith(f"<{public}/todos?")
    assert page.json()[0]["url"].startswith(f"{public}/todos/")
    assert root.json()["links"]["todos"] == f"{public}/todos"

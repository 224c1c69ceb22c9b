"""The Todo-Backend spec (todobackend.com/specs) against /todos, one test per check it makes.

Each spec test is one `specify`/`it` of the official runner (TodoBackend/todo-backend-js-spec,
js/specs.js) and is named after it. `SpecRunner` sends what that runner sends from its page on
another origin: every request carries `Content-Type: application/json` (jQuery's `contentType`
option, also on GET and DELETE), so the browser preflights every one; a request fails unless the
preflight allows it, the answer is 2xx and it carries `Access-Control-Allow-Origin`. Bodies are
parsed from text, as the runner does. The same flow in a real Chromium is in test_browser.py.

The spec empties the list before each group (`beforeEach: DELETE /todos`); here every test starts
from a fresh database instead, so only the spec's own checks of `DELETE /todos` depend on it.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL
from todo_api.app import create_app
from todo_api.config import Settings

RUNNER_ORIGIN = "https://www.todobackend.com"
RUNNER_CONTENT_TYPE = "application/json"  # sent on every request, with or without a body
TESTCLIENT_API_ROOT = "http://localhost/todos"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The runner is a page on another origin: this module's app allows every origin, and
    public pages to call it on this machine (docs/todobackend.md, for the hosted runner). The
    public spec runner cannot log in, so the Todo-Backend mode is TODO_AUTH=disabled."""
    return Settings(
        database_url=database_url,
        cors_origins=["*"],
        cors_allow_private_network=True,
        auth="disabled",
    )


@pytest.fixture
def client_without_cors(database_url: str) -> Iterator[TestClient]:
    """The default: CORS off."""
    with TestClient(
        create_app(Settings(database_url=database_url, auth="disabled")),
        base_url=API_BASE_URL,
    ) as test_client:
        yield test_client


def preflight(client: TestClient, url: str, method: str) -> httpx.Response:
    """The OPTIONS request a browser sends before a cross-origin JSON request."""
    return client.options(
        url,
        headers={
            "Origin": RUNNER_ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


def listed(header: str | None) -> set[str]:
    return {item.strip().lower() for item in (header or "").split(",") if item.strip()}


def assert_preflight_allows(response: httpx.Response, method: str) -> None:
    """What Chromium checks before it sends the real request (Fetch standard, CORS-preflight)."""
    assert 200 <= response.status_code < 300, response.text
    assert response.headers.get("access-control-allow-origin") in ("*", RUNNER_ORIGIN)
    methods = listed(response.headers.get("access-control-allow-methods"))
    assert "*" in methods or method.lower() in methods, methods
    allowed_headers = listed(response.headers.get("access-control-allow-headers"))
    assert "*" in allowed_headers or "content-type" in allowed_headers, allowed_headers


@dataclass
class SpecRunner:
    """The runner's `ajax` helpers (get, postJson, patchJson, delete_) seen through a browser."""

    client: TestClient
    api_root: str = TESTCLIENT_API_ROOT

    def request(self, method: str, url: str, data: Any = None) -> httpx.Response:
        assert_preflight_allows(preflight(self.client, url, method), method)
        response = self.client.request(
            method,
            url,
            content=None if data is None else json.dumps(data),
            headers={"Origin": RUNNER_ORIGIN, "Content-Type": RUNNER_CONTENT_TYPE},
        )
        # jQuery's `fail` fires on anything but 2xx/304; a browser hides an answer without ACAO.
        assert 200 <= response.status_code < 300 or response.status_code == 304, (
            f"{method} {url} failed: {response.status_code} {response.text}"
        )
        assert response.headers.get("access-control-allow-origin") in ("*", RUNNER_ORIGIN)
        return response

    def get(self, url: str) -> Any:
        return json.loads(self.request("GET", url).text)

    def post(self, url: str, data: Any) -> Any:
        return json.loads(self.request("POST", url, data).text)

    def patch(self, url: str, data: Any) -> Any:
        return json.loads(self.request("PATCH", url, data).text)

    def delete(self, url: str) -> httpx.Response:
        return self.request("DELETE", url)

    def get_root(self) -> Any:
        return self.get(self.api_root)

    def post_root(self, data: Any) -> Any:
        return self.post(self.api_root, data)

    def create_fresh_todo_and_get_its_url(self, **params: Any) -> str:
        url: str = self.post_root({"title": "blah", **params})["url"]
        return url


@pytest.fixture
def runner(client: TestClient) -> SpecRunner:
    return SpecRunner(client)


# -- the pre-requisites


def test_the_api_root_responds_to_a_get(runner: SpecRunner) -> None:
    runner.request("GET", runner.api_root)


def test_the_api_root_responds_to_a_post_with_the_todo_which_was_posted_to_it(
    runner: SpecRunner,
) -> None:
    assert runner.post_root({"title": "a todo"})["title"] == "a todo"


def test_the_api_root_responds_successfully_to_a_delete(runner: SpecRunner) -> None:
    runner.post_root({"title": "left over from an earlier run"})
    runner.delete(runner.api_root)


def test_after_a_delete_the_api_root_responds_to_a_get_with_a_json_representation_of_an_empty_array(
    runner: SpecRunner,
) -> None:
    runner.post_root({"title": "left over from an earlier run"})
    runner.delete(runner.api_root)
    assert runner.get_root() == []


# -- storing new todos by posting to the root url


def test_adds_a_new_todo_to_the_list_of_todos_at_the_root_url(runner: SpecRunner) -> None:
    runner.post_root({"title": "walk the dog"})
    todos = runner.get_root()
    assert len(todos) == 1
    assert todos[0]["title"] == "walk the dog"


def test_sets_up_a_new_todo_as_initially_not_completed(runner: SpecRunner) -> None:
    created = runner.post_root({"title": "blah"})
    assert created["completed"] is False
    assert runner.get_root()[0]["completed"] is False


def test_each_new_todo_has_a_url(runner: SpecRunner) -> None:
    created = runner.post_root({"title": "blah"})
    assert isinstance(created["url"], str)
    assert isinstance(runner.get_root()[0]["url"], str)


def test_each_new_todo_has_a_url_which_returns_a_todo(runner: SpecRunner) -> None:
    created = runner.post_root({"title": "my todo"})
    assert runner.get(created["url"])["title"] == "my todo"


# -- working with an existing todo


def test_can_navigate_from_a_list_of_todos_to_an_individual_todo_via_urls(
    runner: SpecRunner,
) -> None:
    runner.post_root({"title": "todo the first"})
    runner.post_root({"title": "todo the second"})
    todos = runner.get_root()
    assert len(todos) == 2
    assert "title" in runner.get(todos[0]["url"])


def test_can_change_the_todos_title_by_patching_to_the_todos_url(runner: SpecRunner) -> None:
    url = runner.create_fresh_todo_and_get_its_url(title="initial title")
    assert runner.patch(url, {"title": "bathe the cat"})["title"] == "bathe the cat"


def test_can_change_the_todos_completedness_by_patching_to_the_todos_url(
    runner: SpecRunner,
) -> None:
    url = runner.create_fresh_todo_and_get_its_url()
    assert runner.patch(url, {"completed": True})["completed"] is True


def test_changes_to_a_todo_are_persisted_and_show_up_when_re_fetching_the_todo(
    runner: SpecRunner,
) -> None:
    url = runner.create_fresh_todo_and_get_its_url()
    patched = runner.patch(url, {"title": "changed title", "completed": True})
    refetched = runner.get(patched["url"])
    todos = runner.get_root()
    assert len(todos) == 1
    for todo in (refetched, todos[0]):
        assert todo["completed"] is True
        assert todo["title"] == "changed title"


def test_can_delete_a_todo_making_a_delete_request_to_the_todos_url(runner: SpecRunner) -> None:
    url = runner.create_fresh_todo_and_get_its_url()
    runner.delete(url)
    assert runner.get_root() == []


# -- tracking todo order (JSON numbers: 523 and 523.0 are the same value to the runner)


def test_can_create_a_todo_with_an_order_field(runner: SpecRunner) -> None:
    assert runner.post_root({"title": "blah", "order": 523})["order"] == 523


def test_can_patch_a_todo_to_change_its_order(runner: SpecRunner) -> None:
    url = runner.create_fresh_todo_and_get_its_url(order=10)
    assert runner.patch(url, {"order": 95})["order"] == 95


def test_remembers_changes_to_a_todos_order(runner: SpecRunner) -> None:
    url = runner.create_fresh_todo_and_get_its_url(order=10)
    patched = runner.patch(url, {"order": 95})
    assert runner.get(patched["url"])["order"] == 95


# -- CORS, which the runner needs because its page is on another origin


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/todos", "GET"),
        ("/todos", "POST"),
        ("/todos", "DELETE"),
        ("/todos/1", "GET"),
        ("/todos/1", "PATCH"),
        ("/todos/1", "DELETE"),
    ],
)
def test_preflight_allows_each_request_the_runner_makes(
    client: TestClient, path: str, method: str
) -> None:
    client.post("/todos", json={"title": "preflighted"})
    response = preflight(client, path, method)
    assert response.status_code == 200
    assert_preflight_allows(response, method)


def test_answers_allow_any_origin_and_expose_location(client: TestClient) -> None:
    response = client.post(
        "/todos", json={"title": "from another origin"}, headers={"Origin": RUNNER_ORIGIN}
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "*"
    assert "location" in listed(response.headers.get("access-control-expose-headers"))


def test_error_answers_allow_any_origin_too(client: TestClient) -> None:
    """A page can read why a request failed, not just that it did."""
    response = client.get("/todos/404", headers={"Origin": RUNNER_ORIGIN})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"


def test_preflight_from_a_public_page_to_a_private_address_is_allowed(client: TestClient) -> None:
    """Chromium's Private Network Access adds this header when a public page (the hosted runner)
    calls a server on localhost; without the matching answer the preflight fails."""
    response = client.options(
        "/todos",
        headers={
            "Origin": RUNNER_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 200
    assert response.headers.get("access-control-allow-private-network") == "true"


def test_private_network_access_only_when_enabled(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, cors_origins=["*"]))
    with TestClient(app, base_url=API_BASE_URL) as client:
        response = client.options(
            "/todos",
            headers={
                "Origin": RUNNER_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Private-Network": "true",
            },
        )
    assert "access-control-allow-private-network" not in response.headers


def test_any_origin_is_never_given_credentials(client: TestClient) -> None:
    """With `*`, a page on any site must not send the user's cookies or HTTP auth."""
    for response in (
        preflight(client, "/todos", "POST"),
        client.get("/todos", headers={"Origin": RUNNER_ORIGIN, "Cookie": "session=1"}),
    ):
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


def test_no_cors_headers_when_cors_is_off(client_without_cors: TestClient) -> None:
    response = preflight(client_without_cors, "/todos", "POST")
    assert not any(name.startswith("access-control-") for name in response.headers)
    response = client_without_cors.get("/todos", headers={"Origin": RUNNER_ORIGIN})
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)

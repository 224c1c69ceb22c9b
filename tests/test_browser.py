"""The Todo-Backend flow in a real Chromium: a page on one origin calls the API on another.

The API runs as a real server process; the page (browser_support.TODO_BACKEND_PAGE) comes from a
static site on another port, so every fetch() is cross-origin and, carrying a JSON content type,
preflighted. The tests wait on the page's own state, never on time, then check what it recorded
and what the server's access log saw.
"""

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_support import chromium, static_site
from support import ServerProcess, todo_api_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

FLOW_TIMEOUT_MS = 30_000
FLOW_STEPS = {
    "delete all before",
    "list after delete all before",
    "create",
    "create with order",
    "create first of two at once",
    "create second of two at once",
    "list",
    "get by url",
    "patch title",
    "patch completed",
    "patch order",
    "get after patches",
    "delete one",
    "list after delete one",
    "delete all",
    "list after delete all",
}

Steps = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    with static_site() as url:
        yield url


def serve_api(tmp_path: Path, cors_origins: str) -> AbstractContextManager[ServerProcess]:
    """A real server on an ephemeral port; `cors_origins` is set even when empty, so a
    TODO_CORS_ORIGINS in the caller's environment cannot change the test."""
    return todo_api_server(tmp_path, cors_origins=cors_origins, log_format="json")


def run_flow(browser: "Browser", page_url: str, api_root: str) -> Steps:
    """Open the page against `api_root` in a fresh context (no cached preflights), wait until
    it has finished, and return its steps by name."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_url}?{api_root}")
        page.wait_for_function(
            "document.body.dataset.state === 'finished'", timeout=FLOW_TIMEOUT_MS
        )
        steps: list[dict[str, Any]] = page.evaluate("window.todoBackendSteps")
    finally:
        context.close()
    return {step["name"]: step for step in steps}


def access_log(server: ServerProcess) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "todo_api.access"]


def test_todo_backend_flow_works_from_another_origin(
    browser: "Browser", page_url: str, tmp_path: Path
) -> None:
    with serve_api(tmp_path, cors_origins="*") as server:
        steps = run_flow(browser, page_url, f"{server.base_url}/todos")
        requests = access_log(server)

    failed = {name: step for name, step in steps.items() if "error" in step}
    assert not failed
    assert set(steps) == FLOW_STEPS

    assert steps["delete all before"]["status"] == 200
    assert steps["list after delete all before"]["body"] == []

    created = steps["create"]
    assert created["status"] == 201
    todo = created["body"]
    assert todo["title"] == "walk the dog"
    assert todo["completed"] is False
    assert isinstance(todo["url"], str)
    assert created["location"] == todo["url"]  # readable: Location is an exposed header
    assert steps["create with order"]["body"]["order"] == 523

    assert len(steps["list"]["body"]) == 4
    assert steps["get by url"]["body"]["title"] == "walk the dog"
    assert steps["patch title"]["body"]["title"] == "bathe the cat"
    assert steps["patch completed"]["body"]["completed"] is True
    assert steps["patch order"]["body"]["order"] == 95
    refetched = steps["get after patches"]["body"]
    assert (refetched["title"], refetched["completed"], refetched["order"]) == (
        "bathe the cat",
        True,
        95,
    )

    assert steps["delete one"]["status"] == 204
    remaining = steps["list after delete one"]["body"]
    assert len(remaining) == 3
    assert todo["url"] not in {item["url"] for item in remaining}
    assert steps["delete all"]["status"] == 200
    assert steps["delete all"]["body"] == {"deleted": 3}
    assert steps["list after delete all"]["body"] == []

    # The browser did preflight: OPTIONS reached both the collection and the todo, and passed.
    preflights = [line for line in requests if line["method"] == "OPTIONS"]
    assert {line["route"] for line in preflights} >= {"/todos", f"/todos/{todo['id']}"}
    assert {line["status"] for line in preflights} == {200}


def test_cross_origin_fetch_fails_without_cors(
    browser: "Browser", page_url: str, tmp_path: Path
) -> None:
    with serve_api(tmp_path, cors_origins="") as server:
        steps = run_flow(browser, page_url, f"{server.base_url}/todos")
        requests = access_log(server)

    # The first request fails as fetch() reports CORS failures: a TypeError, no status.
    assert list(steps) == ["delete all before"]
    assert steps["delete all before"]["error"] == "TypeError"
    # The server was reachable: it answered the preflight, without CORS headers, so the
    # browser never sent the DELETE itself.
    assert [line["method"] for line in requests if line["route"] == "/todos"] == ["OPTIONS"]

"""`GET /` negotiates between the web app and the JSON index; the app's assets are served
fingerprinted, compressed and cached for a year; the page carries its strict policy."""

import gzip
import re

import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.web_assets import CONTENT_SECURITY_POLICY, WebAssets, prefers_html

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FIRST_LOAD_BUDGET_BYTES = 100 * 1024
ASSET_URL = re.compile(r'(?:href|src)="(app/[0-9a-f]{16}/[a-z_-]+\.(?:js|css))"')


def page(client: TestClient, **headers: str) -> str:
    response = client.get("/", headers={"Accept": BROWSER_ACCEPT, **headers})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0.5, application/json", False),
        ("text/*, application/json;q=0.5", True),
        ("text/html;q=0, */*", False),
        ("text/html;q=nonsense, */*;q=0.1", False),
    ],
)
def test_accept_decides_between_the_app_and_the_index(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_api_clients_keep_the_json_index(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"
    assert response.json()["links"]["todos"] == "http://localhost/todos"


def test_a_browser_gets_the_app_with_its_policy(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    text = response.text
    assert 'class="new-todo"' in text
    assert "<script>" not in text and "style=" not in text  # nothing inline for the policy
    # The suite's app requires accounts, as deployed: the page will ask who is there.
    assert '<meta name="todo-api-auth" content="required">' in text
    assert '<meta name="todo-api-registration" content="open">' in text


def test_the_page_revalidates_by_etag(client: TestClient) -> None:
    first = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    again = client.get(
        "/", headers={"Accept": BROWSER_ACCEPT, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_assets_are_fingerprinted_immutable_and_gzipped(client: TestClient) -> None:
    urls = ASSET_URL.findall(page(client))
    assert {url.rsplit("/", 1)[1] for url in urls} == {
        "app.css",
        "app.js",
        "api.js",
        "account.js",
        "dialogs.js",
        "due.js",
        "list_window.js",
        "page.js",
        "query.js",
        "items.js",
        "shown.js",
        "todos.js",
        "reorder.js",
        "editing.js",
        "details.js",
        "lists.js",
        "live.js",
    }
    for url in urls:
        plain = client.get(f"/{url}", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "content-encoding" not in plain.headers
        # httpx would decode gzip itself: read the raw bytes to see what went over the wire
        with client.stream("GET", f"/{url}", headers={"Accept-Encoding": "gzip"}) as zipped:
            assert zipped.headers["content-encoding"] == "gzip"
            raw = b"".join(zipped.iter_raw())
        assert gzip.decompress(raw) == plain.content
        assert len(raw) < len(plain.content)


def test_a_module_imports_only_modules_that_are_served(client: TestClient) -> None:
    served = {url.rsplit("/", 1)[1] for url in ASSET_URL.findall(page(client))}
    web = WebAssets.load(auth="disabled", registration="closed")
    for name, asset in web.assets.items():
        if name.endswith(".js"):
            imported = set(re.findall(rb'(?:from|import) "\./([a-z_-]+\.js)"', asset.body))
            assert {module.decode() for module in imported} <= served, name


def test_another_release_s_asset_is_not_found(client: TestClient) -> None:
    response = client.get("/app/0000000000000000/app.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    version = ASSET_URL.findall(page(client))[0].split("/")[1]
    assert client.get(f"/app/{version}/nothing.js").status_code == 404


def test_the_first_load_stays_within_budget() -> None:
    web = WebAssets.load(auth="disabled", registration="closed")
    assert web.first_load_bytes <= FIRST_LOAD_BUDGET_BYTES


def test_the_page_says_how_accounts_work() -> None:
    web = WebAssets.load(auth="required", registration="open")
    text = web.page.body.decode()
    assert '<meta name="todo-api-auth" content="required">' in text
    assert '<meta name="todo-api-registration" content="open">' in text
    assert "{{" not in text


def test_the_page_and_its_files_need_no_credential(settings: Settings) -> None:
    """A browser that has not signed in yet loads the app, which then asks who is there."""
    with TestClient(create_app(settings), base_url=API_BASE_URL) as anonymous:
        assert anonymous.get("/todos").status_code == 401
        text = page(anonymous)
        for url in ASSET_URL.findall(text):
            assert anonymous.get(f"/{url}").status_code == 200, url

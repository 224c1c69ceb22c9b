"""The OpenAPI document states every error as a Problem, and the suite's contract check bites."""

import re
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from contract import Contract, ContractViolation
from support import API_BASE_URL
from todo_api.app import create_app
from todo_api.config import Settings

PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, by_method in document()["paths"].items()
        for method, operation in by_method.items()
    ]


@pytest.mark.parametrize(("method", "path", "operation"), operations())
def test_every_error_response_is_a_problem(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
    assert "500" in errors
    for status, response in errors.items():
        assert response["content"] == PROBLEM_CONTENT, f"{method} {path} {status}"


def test_fastapis_validation_error_schemas_are_gone() -> None:
    schemas = document()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]


def test_a_created_todo_links_to_the_operations_on_it() -> None:
    paths = document()["paths"]
    links = paths["/todos"]["post"]["responses"]["201"]["links"]
    targets = {link["operationId"] for link in links.values()}
    assert targets == {operation["operationId"] for operation in paths["/todos/{todo_id}"].values()}
    assert {link["parameters"]["todo_id"] for link in links.values()} == {"$response.body#/id"}


def test_the_contract_check_refuses_an_undocumented_key() -> None:
    contract = Contract(document())
    request = httpx.Request("GET", "http://testserver/tags")
    contract.check(httpx.Response(200, json=[{"name": "home", "count": 1}], request=request))
    with pytest.raises(ContractViolation, match="Additional properties"):
        contract.check(
            httpx.Response(200, json=[{"name": "home", "count": 1, "x": 1}], request=request)
        )


def test_the_contract_check_refuses_an_undocumented_status_and_media_type() -> None:
    contract = Contract(document())
    request = httpx.Request("GET", "http://testserver/todos/1")
    with pytest.raises(ContractViolation, match="status not documented"):
        contract.check(httpx.Response(409, json={}, request=request))
    with pytest.raises(ContractViolation, match="'application/json'"):
        contract.check(httpx.Response(404, json={"detail": "x"}, request=request))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_assets(client: TestClient, page: str) -> None:
    """Air-gapped, a CDN URL is a blank page: every script, style and icon must be ours."""
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""", response.text)
    assert urls, response.text
    assert [url for url in urls if "//" in url] == []
    assert "/openapi.json" in urls
    for url in urls:
        if url.startswith("/docs/assets/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert asset.content


def test_docs_assets_have_their_media_types(client: TestClient) -> None:
    html = client.get("/docs").text
    [script] = re.findall(r"""src=["'](/docs/assets/[^"']+\.js)""", html)
    [style] = re.findall(r"""href=["'](/docs/assets/[^"']+\.css)""", html)
    assert client.get(script).headers["content-type"] == "text/javascript; charset=utf-8"
    assert client.get(style).headers["content-type"] == "text/css; charset=utf-8"
    assert client.get(script.rsplit("/", 1)[0] + "/nope.js").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"priority": 3.0},
        {"priority": 3.5},
        {"priority": "3"},
        {"list_id": 1.0},
        {"list_id": 2**53},
        {"title": " \t"},
        {"title": "\x1c"},
        {"tags": ["\u3000"]},
        {"due_date": "0001-12-31"},
        {"due_date": "0002-01-01"},
        {"due_date": "9999-01-01"},
        {"due_at": "9998-12-31T23:59:59-23:59"},
        {"due_date": "2026-12-01", "due_at": "2026-12-01T09:00:00Z"},
        {"due_date": "2026-12-01", "due_at": None},
    ],
)
def test_the_document_and_the_server_agree_on_a_todo(
    client: TestClient, fields: dict[str, Any]
) -> None:
    """Edges where the schema once allowed what the server refused (Schemathesis' ST202)."""
    body = {"title": "t", **fields}
    schema = {"$ref": "#/components/schemas/TodoCreate", **document()}
    valid_by_document = Draft202012Validator(schema).is_valid(body)
    response = client.post("/todos", json=body)
    assert response.status_code == (201 if valid_by_document else 422), response.text


@pytest.mark.parametrize(("q", "status"), [("milk", 200), ("  oat  ", 200), ("!!", 422)])
def test_the_document_says_a_search_needs_a_word(client: TestClient, q: str, status: int) -> None:
    [parameter] = [
        p for p in document()["paths"]["/todos"]["get"]["parameters"] if p["name"] == "q"
    ]
    assert Draft202012Validator(parameter["schema"]).is_valid(q) == (status == 200)
    assert client.get("/todos", params={"q": q}).status_code == status


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_a_single_valued_filter_given_twice_is_422(client: TestClient, method: str) -> None:
    """The document types `completed` as one boolean; FastAPI alone would keep the last value,
    so `DELETE /todos?completed=x&completed=false` would delete."""
    client.post("/todos", json={"title": "kept"})
    response = client.request(
        method,
        "/todos",
        params=[("completed", "maybe"), ("completed", "false")],
        json={"completed": True} if method == "PATCH" else None,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "completed"]
    assert [todo["title"] for todo in client.get("/todos").json()] == ["kept"]
    assert client.get("/todos", params=[("tag", "a"), ("tag", "b")]).status_code == 200


def test_the_document_says_how_to_authenticate() -> None:
    """Swagger's Authorize button: a bearer token, or the session cookie with its CSRF header."""
    full = document()
    schemes = full["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {**schemes["bearerToken"], "type": "http", "scheme": "bearer"}
    assert (schemes["sessionCookie"]["in"], schemes["sessionCookie"]["name"]) == (
        "cookie",
        "todo_session",
    )
    assert (schemes["csrfToken"]["in"], schemes["csrfToken"]["name"]) == (
        "header",
        "X-CSRF-Token",
    )
    paths = full["paths"]
    assert paths["/tokens"]["post"]["security"] == []
    assert paths["/todos"]["get"]["security"] == [{"bearerToken": []}, {"sessionCookie": []}]
    assert paths["/todos"]["post"]["security"] == [
        {"bearerToken": []},
        {"sessionCookie": [], "csrfToken": []},
    ]
    assert full["security"] == paths["/todos"]["post"]["security"]


def test_without_accounts_the_document_asks_for_no_credential() -> None:
    full = create_app(Settings(auth="disabled")).openapi()
    assert "securitySchemes" not in full["components"]
    assert all("security" not in operation for _, _, operation in operations_of(full))


def operations_of(full: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, by_method in full["paths"].items()
        for method, operation in by_method.items()
    ]


@pytest.mark.parametrize(("method", "path", "operation"), operations())
def test_an_operation_needs_a_credential_exactly_when_the_document_says(
    settings: Settings, method: str, path: str, operation: dict[str, Any]
) -> None:
    """Without a credential: 401 where `security` names schemes, never where it is `[]`."""
    with TestClient(create_app(settings), base_url=API_BASE_URL) as anonymous:
        response = anonymous.request(method, re.sub(r"\{[^}]+\}", "1", path), json={})
    if operation["security"]:
        assert response.status_code == 401, response.text
        assert "401" in operation["responses"]
    else:
        assert response.status_code != 401, response.text

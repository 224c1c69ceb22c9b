"""Rate limits: per user, per address when anonymous, tighter for password attempts; 429 with
Retry-After and the IETF RateLimit fields."""

import json

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from support import ACCOUNT_PASSWORD, API_BASE_URL, TEMPLATE_AUTH
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.rate_limit import IMPORT_BYTES_PER_REQUEST


def _client(database_url: str, **settings: str) -> TestClient:
    app = create_app(Settings(database_url=database_url, **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url=API_BASE_URL)


def test_a_user_past_the_limit_gets_429_with_retry_after(database_url: str) -> None:
    with _client(database_url, rate_limit="3/minute") as api:
        answers = [api.get("/todos", headers=TEMPLATE_AUTH) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:todo-api:problem:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert answers[0].headers["ratelimit-policy"] == '"requests";q=3;w=60'
    assert answers[0].headers["ratelimit"].startswith('"requests";r=2;t=')
    assert refused.headers["ratelimit"].startswith('"requests";r=0;t=')


def _import_body(todos: int) -> bytes:
    items = [{"title": f"imported todo number {n:06d}"} for n in range(todos)]
    return json.dumps({"format": "todo-api", "version": 1, "todos": items}).encode()


def test_an_import_counts_one_request_per_16_kib_it_carries(database_url: str) -> None:
    body = _import_body(1000)  # ~40 KiB: 1 + 2 requests
    assert 2 * IMPORT_BYTES_PER_REQUEST <= len(body) < 3 * IMPORT_BYTES_PER_REQUEST
    headers = {**TEMPLATE_AUTH, "content-type": "application/json"}
    with _client(database_url, rate_limit="100/minute") as api:
        imported = api.post("/import", content=body, headers=headers)
        assert imported.status_code == 200
        assert imported.json()["todos"] == 1000
        assert imported.headers["ratelimit"].startswith('"requests";r=97;t=')
        # A chunked body (no Content-Length) weighs the largest body allowed: 1 MiB, 65.
        chunked = api.post("/import", content=iter([body]), headers=headers)
        assert chunked.status_code == 200
        assert chunked.headers["ratelimit"].startswith('"requests";r=32;t=')


def test_an_import_heavier_than_the_limit_takes_the_whole_window(database_url: str) -> None:
    headers = {**TEMPLATE_AUTH, "content-type": "application/json"}
    with _client(database_url, rate_limit="2/minute") as api:
        imported = api.post("/import", content=_import_body(1000), headers=headers)
        after = api.get("/todos", headers=TEMPLATE_AUTH)
    assert imported.status_code == 200  # never refused for its size alone
    assert after.status_code == 429


def test_anonymous_requests_count_per_address(database_url: str) -> None:
    with _client(database_url, rate_limit="2/minute") as api:
        statuses = [api.get("/").status_code for _ in range(3)]
        # A user's own budget is separate from the address's.
        assert api.get("/todos", headers=TEMPLATE_AUTH).status_code == 200
    assert statuses == [200, 200, 429]


def test_probes_are_never_limited(database_url: str) -> None:
    """A kubelet or load balancer polls from one address (a proxy's, say): never a 429."""
    with _client(database_url, rate_limit="1/minute") as api:
        answers = [api.get(path) for path in ["/health", "/ready"] * 3]
        answers.append(api.head("/health"))
        assert api.get("/").status_code == 200  # the address's budget is untouched
    assert [answer.status_code for answer in answers] == [200] * 7
    assert all("ratelimit" not in answer.headers for answer in answers)


def test_password_attempts_have_their_own_tighter_limit(database_url: str) -> None:
    with _client(database_url, password_rate_limit="3/minute") as api:
        wrong = {"username": "tester", "password": "not the password"}
        statuses = [api.post("/tokens", json=wrong).status_code for _ in range(4)]
        assert api.get("/todos", headers=TEMPLATE_AUTH).status_code == 200
    assert statuses == [401, 401, 401, 429]


@pytest.mark.parametrize(
    "credential",
    [
        {"Authorization": "Bearer todo_" + "x" * 43},  # made up: unknown
        {"Authorization": "Bearer nonsense"},
        {"Cookie": "todo_session=made-up"},
        {},  # none at all
    ],
)
def test_refused_credentials_count_per_address_before_any_lookup(
    database_url: str, credential: dict[str, str]
) -> None:
    """A storm of 401s from one address gets 429, and then nothing more is looked up: after a
    storm of refused credentials even a valid token from that address is refused for the
    window (it cannot be told from a made-up one without a query). Requests without any
    credential have a budget of their own, which verified callers do not share. Another
    address is not affected."""
    app = create_app(Settings(database_url=database_url, rate_limit="3/minute"))
    with TestClient(_from_addresses(app), base_url=API_BASE_URL) as api:
        storm = {"X-Test-Address": "192.0.2.1", **credential}
        answers = [api.get("/todos", headers=storm) for _ in range(4)]
        valid_from_there = api.get(
            "/todos", headers={**TEMPLATE_AUTH, "X-Test-Address": "192.0.2.1"}
        )
        elsewhere = {"X-Test-Address": "192.0.2.2"}
        refused_elsewhere = api.get("/todos", headers={**elsewhere, **credential})
        valid_elsewhere = api.get("/todos", headers={**TEMPLATE_AUTH, **elsewhere})
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert answers[0].headers["ratelimit-policy"] == '"requests";q=3;w=60'
    assert answers[0].headers["ratelimit"].startswith('"requests";r=2;t=')
    assert answers[-1].json()["type"] == "urn:todo-api:problem:rate-limited"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].headers["x-content-type-options"] == "nosniff"
    assert valid_from_there.status_code == (429 if credential else 200)
    assert refused_elsewhere.status_code == 401
    assert valid_elsewhere.status_code == 200
    # The user's own budget: the valid request from the first address spent one of it.
    remaining = 2 if credential else 1
    assert valid_elsewhere.headers["ratelimit"].startswith(f'"requests";r={remaining};t=')


def test_a_read_tokens_refused_writes_count_per_address(database_url: str) -> None:
    """A 403 from the edge counts like a 401: only callers that pass count per user."""
    app = create_app(Settings(database_url=database_url, rate_limit="2/minute"))
    with TestClient(app, base_url=API_BASE_URL) as api:
        issued = api.post(
            "/tokens",
            json={"username": "tester", "password": ACCOUNT_PASSWORD, "scopes": ["read"]},
        )
        assert issued.status_code == 201
        reader = {"Authorization": f"Bearer {issued.json()['token']}"}
        refused = [api.post("/todos", json={"title": "x"}, headers=reader) for _ in range(3)]
        assert [answer.status_code for answer in refused] == [403, 403, 429]
        assert api.get("/todos", headers=TEMPLATE_AUTH).status_code == 429  # same address


def _from_addresses(app: ASGIApp) -> ASGIApp:
    """`app`, seeing each request come from the address its X-Test-Address header names."""

    async def addressed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-test-address":
                    scope["client"] = (value.decode(), 50000)
        await app(scope, receive, send)

    return addressed


def test_password_attempts_count_per_username_from_every_address(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, password_rate_limit="3/minute"))
    with TestClient(_from_addresses(app), base_url=API_BASE_URL) as api:

        def log_in(username: str, address: str) -> httpx.Response:
            wrong = {"username": username, "password": "not the password"}
            return api.post("/tokens", json=wrong, headers={"X-Test-Address": address})

        answers = [log_in("TESTER", f"192.0.2.{n}") for n in range(4)]
        # Another username, from a fresh address, has its own budget; the right password is
        # refused too while the window lasts (a guess that lands is not told apart).
        other = log_in("someone-else", "192.0.2.100")
        right = api.post(
            "/tokens",
            json={"username": "tester", "password": ACCOUNT_PASSWORD},
            headers={"X-Test-Address": "192.0.2.101"},
        )
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert answers[-1].json()["type"] == "urn:todo-api:problem:rate-limited"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert other.status_code == 401
    assert right.status_code == 429


def test_password_changes_count_per_account(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, password_rate_limit="2/minute"))
    with TestClient(_from_addresses(app), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as api:
        change = {"current_password": "not the password", "new_password": "x" * 20}
        statuses = [
            api.patch("/me", json=change, headers={"X-Test-Address": f"192.0.2.{n}"}).status_code
            for n in range(3)
        ]
        deletion = api.request(
            "DELETE", "/me", json={"password": "wrong"}, headers={"X-Test-Address": "192.0.2.9"}
        )
    assert statuses == [422, 422, 429]
    assert deletion.status_code == 429


def test_limits_can_be_turned_off(database_url: str) -> None:
    with _client(database_url, rate_limit="off", password_rate_limit="off") as api:
        answer = api.get("/todos", headers=TEMPLATE_AUTH)
    assert answer.status_code == 200
    assert "ratelimit" not in answer.headers


@pytest.mark.parametrize("value", ["often", "10 per", "-1/minute"])
def test_an_unreadable_limit_stops_the_start(value: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(rate_limit=value)

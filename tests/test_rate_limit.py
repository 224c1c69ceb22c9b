"""Rate limits: per user, per address when anonymous, tighter for password attempts; 429 with
Retry-After and the IETF RateLimit fields."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from support import API_BASE_URL, TEMPLATE_AUTH
from todo_api.app import create_app
from todo_api.config import Settings


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


def test_anonymous_requests_count_per_address(database_url: str) -> None:
    with _client(database_url, rate_limit="2/minute") as api:
        statuses = [api.get("/health").status_code for _ in range(3)]
        # A user's own budget is separate from the address's.
        assert api.get("/todos", headers=TEMPLATE_AUTH).status_code == 200
    assert statuses == [200, 200, 429]


def test_password_attempts_have_their_own_tighter_limit(database_url: str) -> None:
    with _client(database_url, password_rate_limit="3/minute") as api:
        wrong = {"username": "tester", "password": "not the password"}
        statuses = [api.post("/tokens", json=wrong).status_code for _ in range(4)]
        assert api.get("/todos", headers=TEMPLATE_AUTH).status_code == 200
    assert statuses == [401, 401, 401, 429]


def test_limits_can_be_turned_off(database_url: str) -> None:
    with _client(database_url, rate_limit="off", password_rate_limit="off") as api:
        answer = api.get("/todos", headers=TEMPLATE_AUTH)
    assert answer.status_code == 200
    assert "ratelimit" not in answer.headers


@pytest.mark.parametrize("value", ["often", "10 per", "-1/minute"])
def test_an_unreadable_limit_stops_the_start(value: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        Settings(rate_limit=value)

"""Accounts end to end: registration, tokens (scopes, expiry, revocation), browser sessions
(cookie flags, CSRF), /me, the CLI, and the disabled mode's warning. Every app runs with
TODO_AUTH=required on its own migrated database."""

import base64
import datetime as dt
import hashlib
import io
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from support import (
    ACCOUNT_PASSWORD,
    API_BASE_URL,
    Account,
    register_account,
    remember_secrets,
    run_in_process,
    todo_api_server,
)
from todo_api import metrics
from todo_api.app import create_app
from todo_api.authentication import warn_when_disabled
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.domain.accounts import Caller, CredentialKind
from todo_api.tables import api_tokens, browser_sessions
from todo_api.token_cache import TOKEN_CACHE_SECONDS, TokenCache

PASSWORD = ACCOUNT_PASSWORD
UNAUTHENTICATED = "urn:todo-api:problem:unauthenticated"


@pytest.fixture
def auth_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, auth="required")


@pytest.fixture
def api(auth_settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(auth_settings), raise_server_exceptions=False, base_url=API_BASE_URL
    ) as test_client:
        yield test_client


@pytest.fixture
def ada(api: TestClient) -> Account:
    return register_account(api, "ada")


def _problem_type(response: httpx.Response) -> str:
    kind: str = response.json()["type"]
    return kind


# --- who may pass ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/todos"), ("GET", "/todos/1"), ("POST", "/todos"), ("GET", "/lists"), ("GET", "/me")],
)
def test_no_credential_is_401_with_a_bearer_challenge(
    api: TestClient, method: str, path: str
) -> None:
    response = api.request(method, path, json={"title": "x"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="todo-api"'
    assert response.headers["content-type"] == "application/problem+json"
    assert _problem_type(response) == UNAUTHENTICATED


@pytest.mark.parametrize("path", ["/", "/health", "/ready", "/openapi.json", "/docs"])
def test_public_routes_need_no_credential(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 200


def test_a_token_reaches_both_the_fast_lane_and_fastapi(api: TestClient, ada: Account) -> None:
    created = api.post("/todos", json={"title": "mine"}, headers=ada.headers)  # fast lane
    assert created.status_code == 201
    todo_id = created.json()["id"]
    assert api.get(f"/todos/{todo_id}", headers=ada.headers).status_code == 200  # fast lane
    # With a query string, the lane leaves a todo to FastAPI (tests/test_fast_lane.py).
    assert api.get(f"/todos/{todo_id}?via=fastapi", headers=ada.headers).status_code == 200
    patched = api.patch(
        f"/todos/{todo_id}",
        json={"completed": True},
        headers={**ada.headers, "content-type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer nonsense", "Basic YWRhOnB3", "Bearer todo_" + "x" * 43],
)
def test_a_malformed_or_unknown_token_is_401(api: TestClient, authorization: str) -> None:
    response = api.get("/todos", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="todo-api"'


@pytest.mark.parametrize(
    "stale",
    [
        "read",  # a valid read-only token: public routes take no credential at all
        "Bearer todo_" + "x" * 43,  # unknown
    ],
)
def test_public_routes_ignore_whatever_credential_comes_along(
    api: TestClient, ada: Account, stale: str
) -> None:
    if stale == "read":
        stale = register_account(api, "reader", scopes=["read"]).headers["Authorization"]
    headers = {"Authorization": stale}
    login = {"username": "ada", "password": PASSWORD}
    assert api.post("/tokens", json=login, headers=headers).status_code == 201
    assert api.post("/session", json=login, headers=headers).status_code == 201
    assert api.delete("/session", headers=headers).status_code == 204
    newcomer = {"username": "grace", "password": PASSWORD}
    assert api.post("/users", json=newcomer, headers=headers).status_code == 201
    assert api.get("/health", headers=headers).status_code == 200


def test_any_token_may_revoke_itself_and_only_itself(api: TestClient, ada: Account) -> None:
    """A leaked read-only token can be killed with nothing but itself; it still cannot revoke
    the owner's other tokens (a change)."""
    reader = register_account(api, "reader", scopes=["read"])
    [writer_token] = api.get("/tokens", headers=reader.headers).json()
    issued = api.post(
        "/tokens", json={"username": "reader", "password": PASSWORD, "scopes": ["read"]}
    ).json()
    read_only = {"Authorization": f"Bearer {issued['token']}"}
    assert api.delete(f"/tokens/{writer_token['id']}", headers=read_only).status_code == 403
    assert api.delete(f"/tokens/{issued['id']}", headers=read_only).status_code == 204
    assert api.get("/todos", headers=read_only).status_code == 401
    assert api.get("/todos", headers=reader.headers).status_code == 200  # the other lives


def test_a_token_is_never_accepted_from_a_cookie(api: TestClient, ada: Account) -> None:
    api.cookies.set("todo_session", ada.token)
    assert api.get("/todos").status_code == 401


# --- users -------------------------------------------------------------------------------------


def test_usernames_are_unique_without_case(api: TestClient, ada: Account) -> None:
    response = api.post("/users", json={"username": "ADA", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json()["type"] == "urn:todo-api:problem:conflict"


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("ab", PASSWORD, "username"),
        ("a" * 65, PASSWORD, "username"),
        ("ada lovelace", PASSWORD, "username"),
        ("ädä", PASSWORD, "username"),
        ("ada", "short", "password"),
        ("ada", "123qweasdzxc", "password"),  # on the common-passwords list
        ("ada", "QWERTY123456", "password"),  # the list is matched without case
        ("adalovelace1", "AdaLovelace1", "password"),  # the username
        ("...", PASSWORD, "username"),  # no letter or digit
        ("-_-", PASSWORD, "username"),
    ],
)
def test_bad_usernames_and_passwords_are_422(
    api: TestClient, username: str, password: str, field: str
) -> None:
    response = api.post("/users", json={"username": username, "password": password})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", field]]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaaaa", "must not repeat a short pattern"),
        ("passwordpassword", "must not repeat a short pattern"),
        ("trustno1trustno1", "must not repeat a short pattern"),
        ("123456789012", "must not be a sequence"),
        ("abcdefghijkl", "must not be a sequence"),
        ("210987654321", "must not be a sequence"),
        ("qwertyuiop[]", "must not be a sequence"),
        ("            ", "must not be only whitespace"),
        ("\t \n          ", "must not be only whitespace"),
        ("password1234", "is too common"),
        ("Password1234", "is too common"),
        ("Password1234!", "is too common"),
        ("2024Sunshine!!", "is too common"),
        ("adalovelace1", "must not contain the username"),  # once said "too common"
        ("my name is AdaLovelace", "must not contain the username"),
    ],
)
def test_guessable_passwords_are_422_with_the_reason(
    api: TestClient, password: str, reason: str
) -> None:
    response = api.post("/users", json={"username": "adalovelace", "password": password})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "password"]
    assert error["msg"].startswith(reason), error["msg"]


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "a.b", "zq8#Lm2!vR4t", "this is twice this is twice"],
)
def test_passwords_that_are_not_guessable_are_taken(api: TestClient, password: str) -> None:
    if len(password) < 12:  # "a.b" is a username here, not a password
        response = api.post("/users", json={"username": password, "password": PASSWORD})
    else:
        remember_secrets(password)
        response = api.post("/users", json={"username": "ada", "password": password})
    assert response.status_code == 201, response.text


def test_closed_registration_is_403(database_url: str) -> None:
    settings = Settings(database_url=database_url, auth="required", registration="closed")
    with TestClient(create_app(settings), base_url=API_BASE_URL) as api:
        response = api.post("/users", json={"username": "ada", "password": PASSWORD})
    assert response.status_code == 403


def test_me_is_the_caller(api: TestClient, ada: Account) -> None:
    me = api.get("/me", headers=ada.headers)
    assert me.status_code == 200
    assert me.json()["username"] == "ada"
    assert set(me.json()) == {"id", "username", "created_at"}


def test_a_password_change_needs_the_current_one_and_can_revoke_the_rest(
    api: TestClient, ada: Account
) -> None:
    other = api.post("/tokens", json={"username": "ada", "password": PASSWORD}).json()["token"]
    new = "an entirely new passphrase"
    remember_secrets(other, new)
    wrong = api.patch(
        "/me", json={"current_password": "not it at all", "new_password": new}, headers=ada.headers
    )
    assert wrong.status_code == 422
    changed = api.patch(
        "/me",
        json={"current_password": PASSWORD, "new_password": new, "revoke_other_credentials": True},
        headers=ada.headers,
    )
    assert changed.status_code == 200
    assert api.get("/todos", headers=ada.headers).status_code == 200  # the one that asked
    assert api.get("/todos", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    old_login = api.post("/tokens", json={"username": "ada", "password": PASSWORD})
    assert old_login.status_code == 401
    assert api.post("/tokens", json={"username": "ada", "password": new}).status_code == 201


def test_a_new_password_must_differ_from_the_current_one(api: TestClient, ada: Account) -> None:
    same = api.patch(
        "/me", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=ada.headers
    )
    assert same.status_code == 422
    [error] = same.json()["errors"]
    assert error["loc"] == ["body", "new_password"]
    assert error["msg"] == "must differ from the current password"


def test_deleting_the_account_needs_the_password_and_takes_everything(
    api: TestClient, ada: Account, database_url: str
) -> None:
    assert api.post("/todos", json={"title": "gone soon"}, headers=ada.headers).status_code == 201
    wrong = api.request("DELETE", "/me", json={"password": "not it at all"}, headers=ada.headers)
    assert wrong.status_code == 422
    deleted = api.request("DELETE", "/me", json={"password": PASSWORD}, headers=ada.headers)
    assert deleted.status_code == 204
    assert api.get("/todos", headers=ada.headers).status_code == 401
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM todos")).scalar_one()
    engine.dispose()
    assert count == 0


@pytest.mark.sqlite_only  # SQLite's inline and writer-thread paths
def test_deleting_an_account_runs_on_the_writer_thread_never_on_the_loop(
    api: TestClient, ada: Account
) -> None:
    """Every row of the account goes: with many todos that takes long, which must not hold the
    event loop (issue 14: the loop never waits)."""

    def batches(path: str) -> float:
        return float(metrics.WRITE_BATCHES.labels(path=path)._value.get())

    thread = batches("thread")
    deleted = api.request("DELETE", "/me", json={"password": PASSWORD}, headers=ada.headers)
    assert deleted.status_code == 204
    # (The edge may note the token's use inline meanwhile: a one-row write of its own.)
    assert batches("thread") - thread == 1


# --- tokens ------------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(
    api: TestClient, ada: Account
) -> None:
    wrong = api.post("/tokens", json={"username": "ada", "password": "not the password"})
    unknown = api.post("/tokens", json={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["type"] == "urn:todo-api:problem:invalid-credentials"


def test_the_secret_is_shown_once_and_listed_never(api: TestClient, ada: Account) -> None:
    listed = api.get("/tokens", headers=ada.headers)
    assert listed.status_code == 200
    [token] = listed.json()
    assert "token" not in token
    assert ada.token.startswith(token["prefix"])
    assert token["scopes"] == ["read", "write"]


def test_a_tokens_use_is_noted(api: TestClient, ada: Account) -> None:
    """The note is written beside the request (it never waits for the write lock)."""
    deadline = time.monotonic() + 5
    while api.get("/tokens", headers=ada.headers).json()[0]["last_used_at"] is None:
        assert time.monotonic() < deadline, "last_used_at never written"
        time.sleep(0.02)  # polling interval; the loop checks the condition


def test_a_read_token_reads_and_gets_403_on_writes(api: TestClient, ada: Account) -> None:
    reader = register_account(api, "reader", scopes=["read"])
    assert api.get("/todos", headers=reader.headers).status_code == 200
    for method, path in [("POST", "/todos"), ("DELETE", "/todos"), ("POST", "/lists")]:
        response = api.request(
            method, path, json={"title": "x", "name": "x"}, headers=reader.headers
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "urn:todo-api:problem:forbidden"


@pytest.mark.parametrize(
    ("scopes", "status"), [(["write"], 422), (["admin"], 422), ([], 422), (["read"], 201)]
)
def test_token_scopes_are_checked(
    api: TestClient, ada: Account, scopes: list[str], status: int
) -> None:
    request = {"username": "ada", "password": PASSWORD, "scopes": scopes}
    assert api.post("/tokens", json=request).status_code == status


def test_token_expiry_is_bounded(api: TestClient, ada: Account) -> None:
    now = dt.datetime.now(dt.UTC)
    for expires_at, status in [
        (now - dt.timedelta(minutes=1), 422),
        (now + dt.timedelta(days=366), 422),
        (now + dt.timedelta(days=2), 201),
    ]:
        request = {"username": "ada", "password": PASSWORD, "expires_at": expires_at.isoformat()}
        assert api.post("/tokens", json=request).status_code == status
    before = dt.datetime.now(dt.UTC)
    default = api.post("/tokens", json={"username": "ada", "password": PASSWORD}).json()
    expires = dt.datetime.fromisoformat(default["expires_at"])
    ninety_days = dt.timedelta(days=90)
    assert before + ninety_days <= expires <= dt.datetime.now(dt.UTC) + ninety_days


def test_an_expired_token_is_401(api: TestClient, ada: Account, database_url: str) -> None:
    token = api.post("/tokens", json={"username": "ada", "password": PASSWORD}).json()
    engine = create_engine(database_url)
    with engine.begin() as connection:  # as if its time had come
        connection.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.id == token["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    engine.dispose()
    response = api.get("/todos", headers={"Authorization": f"Bearer {token['token']}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="todo-api"'


def test_a_revoked_token_stops_at_once(api: TestClient, ada: Account) -> None:
    assert api.get("/todos", headers=ada.headers).status_code == 200  # now in the cache
    [token] = api.get("/tokens", headers=ada.headers).json()
    assert api.delete(f"/tokens/{token['id']}", headers=ada.headers).status_code == 204
    assert api.get("/todos", headers=ada.headers).status_code == 401
    assert api.get("/todos/1", headers=ada.headers).status_code == 401  # the fast lane too


def test_a_cached_token_expires_5_seconds_after_its_read_began() -> None:
    """The bound on other processes is ≤ 5 s after the revocation commits: the cache entry
    counts from before the verifying read, not from its end (which may be later)."""
    cache = TokenCache()
    caller = Caller(user_id=2, kind=CredentialKind.TOKEN, credential_id=7)
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    cache.put("read long ago", caller, far, verified_at=time.monotonic() - TOKEN_CACHE_SECONDS)
    cache.put("read just now", caller, far, verified_at=time.monotonic())
    assert cache.get("read long ago") is None
    assert cache.get("read just now") == caller


@pytest.mark.slow
def test_a_revocation_reaches_another_process_within_5_seconds(
    tmp_path: Path, migrated_template: Path
) -> None:
    """Two server processes on one database: revoked on one, the other refuses it in ≤ 5 s."""
    from support import migrated_copy

    migrated_copy(migrated_template, tmp_path / "todo.db")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'todo.db'}", auth="required")
    with (
        TestClient(create_app(settings), base_url=API_BASE_URL) as here,
        todo_api_server(tmp_path, auth="required", access_log="false") as there,
    ):
        ada = register_account(here, "ada")
        [token] = here.get("/tokens", headers=ada.headers).json()
        assert httpx.get(f"{there.base_url}/todos", headers=ada.headers).status_code == 200
        assert here.delete(f"/tokens/{token['id']}", headers=ada.headers).status_code == 204
        revoked_at = time.monotonic()
        while httpx.get(f"{there.base_url}/todos", headers=ada.headers).status_code == 200:
            assert time.monotonic() - revoked_at < 5.5, "still accepted after 5 s"
            time.sleep(0.1)  # polling interval; the loop checks the condition


# --- browser sessions --------------------------------------------------------------------------


def _log_in(api: TestClient) -> str:
    response = api.post("/session", json={"username": "ada", "password": PASSWORD})
    assert response.status_code == 201
    csrf: str = response.json()["csrf_token"]
    return csrf


def test_the_session_cookie_is_httponly_and_lax(api: TestClient, ada: Account) -> None:
    response = api.post("/session", json={"username": "ada", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("todo_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here
    assert "Max-Age=604800" in cookie


def test_the_session_cookie_is_secure_over_https(
    auth_settings: Settings, database_url: str
) -> None:
    app = create_app(auth_settings)
    with TestClient(app, base_url="https://localhost") as api:
        register_account(api, "ada")
        response = api.post("/session", json={"username": "ada", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]


def test_cookie_changes_need_the_csrf_token(api: TestClient, ada: Account) -> None:
    csrf = _log_in(api)
    assert api.get("/todos").status_code == 200
    refused = api.post("/todos", json={"title": "forged"})
    assert refused.status_code == 403
    wrong = api.post("/todos", json={"title": "forged"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    allowed = api.post("/todos", json={"title": "mine"}, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 201


def test_logging_out_ends_the_session(api: TestClient, ada: Account) -> None:
    _log_in(api)
    session = api.cookies["todo_session"]
    assert api.delete("/session").status_code == 204
    api.cookies.set("todo_session", session)  # a copy kept by an attacker
    assert api.get("/todos").status_code == 401


@pytest.mark.parametrize(
    ("column", "age"),
    [
        (
            "last_seen_at",
            dt.timedelta(minutes=720, seconds=1),
        ),  # idle past TODO_SESSION_IDLE_MINUTES
        ("expires_at", dt.timedelta(seconds=1)),  # past its absolute end (TODO_SESSION_MAX_HOURS)
    ],
)
def test_a_session_ends_when_idle_or_at_its_absolute_limit(
    api: TestClient, ada: Account, database_url: str, column: str, age: dt.timedelta
) -> None:
    _log_in(api)
    assert api.get("/todos").status_code == 200
    engine = create_engine(database_url)
    with engine.begin() as connection:  # as if that much time had passed
        connection.execute(
            sa.update(browser_sessions).values({column: dt.datetime.now(dt.UTC) - age})
        )
    engine.dispose()
    response = api.get("/todos")
    assert response.status_code == 401, response.text


def test_a_session_login_with_a_wrong_password_is_401(api: TestClient, ada: Account) -> None:
    response = api.post("/session", json={"username": "ada", "password": "not the password"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


# --- the command line --------------------------------------------------------------------------


def test_the_cli_creates_users_and_tokens_that_the_api_accepts(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    auth_settings: Settings,
) -> None:
    env = {"TODO_DATABASE_URL": database_url}
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    created = run_in_process(
        capsys, monkeypatch, "user", "create", "ada", "--password-stdin", env=env
    )
    assert created.returncode == 0, created.stderr
    issued = run_in_process(
        capsys, monkeypatch, "token", "create", "ada", "--scope", "read", env=env
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("todo_")
    with TestClient(create_app(auth_settings), base_url=API_BASE_URL) as api:
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get("/todos", headers=headers).status_code == 200
        assert api.post("/todos", json={"title": "x"}, headers=headers).status_code == 403
    listed = run_in_process(capsys, monkeypatch, "user", "list", env=env)
    assert "ada" in listed.stdout


def test_the_cli_refuses_a_weak_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    result = run_in_process(
        capsys,
        monkeypatch,
        "user",
        "create",
        "ada",
        "--password-stdin",
        env={"TODO_DATABASE_URL": database_url},
    )
    assert result.returncode == 1
    assert "at least 12 characters" in result.stderr


# --- the disabled mode -------------------------------------------------------------------------


def test_disabled_auth_warns_and_louder_off_loopback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="todo_api"):
        warn_when_disabled(Settings(auth="disabled", host="127.0.0.1"))
        warn_when_disabled(Settings(auth="disabled", host="127.0.0.2"))  # loopback too
        warn_when_disabled(Settings(auth="disabled", host="[::1]"))
        warn_when_disabled(Settings(auth="disabled", host="0.0.0.0"))
        warn_when_disabled(Settings(auth="required", host="0.0.0.0"))
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.WARNING, logging.WARNING, logging.ERROR]
    assert "ANYONE WHO CAN REACH THIS PORT" in caplog.records[-1].getMessage()


# --- upgrading a database from before accounts -------------------------------------------------


def test_an_upgraded_database_keeps_its_todos_for_the_adopting_account(
    empty_database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pre-accounts database (revision 0004) with data: after the upgrade the data waits with
    the local user, and `user adopt-local` hands it to a named account that can log in."""
    from alembic import command

    from todo_api.migrate import alembic_config

    engine = create_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0004")
    engine.dispose()
    anonymous = Settings(database_url=empty_database_url, auth="disabled")
    with TestClient(create_app(anonymous), base_url=API_BASE_URL) as before:
        assert before.post("/todos", json={"title": "from before"}).status_code == 201
    settings = Settings(database_url=empty_database_url, auth="required")
    with TestClient(create_app(settings), base_url=API_BASE_URL) as api:  # migrates to head
        refused = api.post("/tokens", json={"username": "local", "password": PASSWORD})
        assert refused.status_code == 401  # the local user has no password
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    adopted = run_in_process(
        capsys,
        monkeypatch,
        "user",
        "adopt-local",
        "Ada",
        "--password-stdin",
        env={"TODO_DATABASE_URL": empty_database_url},
    )
    assert adopted.returncode == 0, adopted.stderr
    with TestClient(create_app(settings), base_url=API_BASE_URL) as api:
        issued = api.post("/tokens", json={"username": "ada", "password": PASSWORD})
        assert issued.status_code == 201
        headers = {"Authorization": f"Bearer {issued.json()['token']}"}
        assert [todo["title"] for todo in api.get("/todos", headers=headers).json()] == [
            "from before"
        ]
        taken = api.post("/users", json={"username": "LOCAL", "password": PASSWORD})
        assert taken.status_code == 201  # "local" is free again once adopted


# --- security headers --------------------------------------------------------------------------


def test_every_answer_has_nosniff_and_no_referrer(api: TestClient, ada: Account) -> None:
    for response in [api.get("/health"), api.get("/todos"), api.get("/todos", headers=ada.headers)]:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_authenticated_answers_are_not_stored(api: TestClient, ada: Account) -> None:
    assert api.get("/todos", headers=ada.headers).headers["cache-control"] == "no-store"
    assert "cache-control" not in api.get("/health").headers


def test_answers_that_carry_a_secret_are_not_stored(api: TestClient) -> None:
    """RFC 6749 §5.1: a token (or a session and its CSRF token) in an answer: no-store, even
    though the request carried no credential; so for the other account routes."""
    login = {"username": "ada", "password": PASSWORD}
    answers = [
        api.post("/users", json=login),
        api.post("/tokens", json=login),
        api.post("/session", json=login),
        api.post("/tokens", json={"username": "ada", "password": "not the password"}),
        api.delete("/session"),
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 201, 401, 204]
    assert [answer.headers.get("cache-control") for answer in answers] == ["no-store"] * 5


def test_a_cors_preflight_has_the_security_headers_and_exposes_the_auth_ones(
    database_url: str,
) -> None:
    settings = Settings(database_url=database_url, cors_origins=["https://app.example"])
    with TestClient(create_app(settings), base_url=API_BASE_URL) as api:
        preflight = api.options(
            "/todos",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        refused = api.get("/todos", headers={"Origin": "https://app.example"})
    assert preflight.status_code == 200
    assert preflight.headers["x-content-type-options"] == "nosniff"
    assert preflight.headers["referrer-policy"] == "no-referrer"
    assert refused.status_code == 401
    exposed = {
        name.strip().lower() for name in refused.headers["access-control-expose-headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy", "retry-after", "www-authenticate"} <= exposed


def test_html_gets_a_strict_policy_and_no_framing(api: TestClient) -> None:
    docs = api.get("/docs")
    policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert docs.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" not in api.get("/health").headers
    [script_sources] = [part for part in policy.split("; ") if part.startswith("script-src ")]
    assert "'unsafe-inline'" not in script_sources
    # Each inline script of the page, and only those, is allowed by its hash.
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.S)
    assert inline
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_sources
    assert script_sources.count("'sha256-") == len(inline)

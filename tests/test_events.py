"""GET /events against real servers, on SQLite and PostgreSQL: a change arrives within a
second, from another process too; Last-Event-ID resumes without a gap, or with a `reset` once
what came after it was pruned; heartbeats; the bound on streams; another user's changes never
arrive; a stream ends when its credential does (signed out, token revoked, password changed,
user deleted) and when its server stops."""

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx2 as httpx
import pytest

from postgres_support import POSTGRES_SECRET_KEY
from support import Account, ServerProcess, register_account, todo_api_replicas
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.domain import clock
from todo_api.repository.change_retention import prune_changes
from todo_api.routes.events import RECHECK_SECONDS
from todo_api.token_cache import TOKEN_CACHE_SECONDS

pytestmark = pytest.mark.slow

LIVE_WITHIN_SECONDS = 1.0
STREAM_TIMEOUT = httpx.Timeout(10, read=5)
LIVE = {"Accept": "text/event-stream"}
# What a poll of the changes table and an answer's way back may add to a documented bound.
SLACK_SECONDS = 1.0
GRACEFUL_TIMEOUT_SECONDS: int = Settings.model_fields["graceful_timeout"].default


def serve(
    database_url: str, count: int = 1, auth: str = "disabled"
) -> AbstractContextManager[list[ServerProcess]]:
    """`count` servers on the test's database, each with a quick heartbeat and at most two
    streams per user."""
    return todo_api_replicas(
        database_url,
        count,
        auth=auth,
        events_heartbeat_seconds="0.3",
        events_max_streams="2",
        secret_key=POSTGRES_SECRET_KEY,  # the same for all, as replicas need
    )


@pytest.fixture
def server(database_url: str) -> Iterator[ServerProcess]:
    with serve(database_url) as (running,):
        yield running


def next_event(lines: Iterator[str]) -> dict[str, Any]:
    """The next `change` event's fields (its id and data), skipping comments and retry."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields.get("event") == "change":
                return {"id": fields["id"], "data": json.loads(fields["data"])}
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError("the stream ended")


def lines_until_the_end(lines: Iterator[str], within: float) -> list[str]:
    """Every line until the server ends the stream; fails if it is still open after `within`
    seconds (the heartbeat, every 0.3 s, brings the loop back to the deadline)."""
    deadline = time.monotonic() + within
    seen: list[str] = []
    for line in lines:
        seen.append(line)
        assert time.monotonic() < deadline, f"still open after {within} s: {seen}"
    return seen


def create(server: ServerProcess, title: str, **headers: str) -> dict[str, Any]:
    response = httpx.post(f"{server.base_url}/todos", json={"title": title}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_change_arrives_within_a_second(server: ServerProcess) -> None:
    with (
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers=LIVE) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        todo = create(server, "live")
        sent = time.monotonic()
        event = next_event(lines)
        assert time.monotonic() - sent < LIVE_WITHIN_SECONDS
        assert event["data"]["kind"] == "todo"
        assert event["data"]["id"] == todo["id"]
        assert event["data"]["action"] == "created"
        assert event["id"] == str(event["data"]["seq"])
        patched = client.patch(f"/todos/{todo['id']}", json={"completed": True})
        assert patched.status_code == 200
        assert next_event(lines)["data"]["action"] == "updated"
        assert client.delete(f"/todos/{todo['id']}").status_code == 204
        assert next_event(lines)["data"]["action"] == "deleted"
        assert client.delete("/todos").status_code == 200  # nothing left: no event
        listed = client.post("/lists", json={"name": "Errands"})
        assert listed.status_code == 201
        assert next_event(lines)["data"] | {"seq": 0, "at": ""} == {
            "seq": 0,
            "at": "",
            "kind": "list",
            "id": listed.json()["id"],
            "action": "created",
        }


def test_last_event_id_resumes_without_a_gap(server: ServerProcess) -> None:
    titles = ["one", "two", "three"]
    ids = [create(server, title)["id"] for title in titles]
    with (
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers={**LIVE, "Last-Event-ID": "0"}) as stream,
    ):
        lines = stream.iter_lines()
        events = [next_event(lines) for _ in titles]
    assert [event["data"]["id"] for event in events] == ids
    after_first = events[0]["id"]
    with (
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers={**LIVE, "Last-Event-ID": after_first}) as stream,
    ):
        lines = stream.iter_lines()
        assert [next_event(lines)["data"]["id"] for _ in titles[1:]] == ids[1:]
        refused = client.get("/events", headers={"Last-Event-ID": "last"})
        assert refused.status_code == 422
        # No event has a larger id (PostgreSQL's column is 32 bits): refused, not a 500.
        too_large = client.get("/events", headers={"Last-Event-ID": "2147483648"})
        assert too_large.status_code == 422
        assert client.get("/events", headers={"Last-Event-ID": "2147483647"}).status_code == 200
        # Without Accept: text/event-stream, a poll: the changes so far, then the end.
        polled = client.get("/events", headers={"Last-Event-ID": after_first})
        assert polled.status_code == 200
        lines = iter(polled.text.splitlines())
        assert [next_event(lines)["data"]["id"] for _ in titles[1:]] == ids[1:]
        # Nothing after the last: where the stream stands, and the end.
        assert client.get("/events").text == f"retry: 1000\nid: {events[-1]['id']}\n\n"


def test_heartbeats_and_the_bound_on_streams(server: ServerProcess) -> None:
    with (
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers=LIVE) as first,
        client.stream("GET", "/events", headers=LIVE) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        lines = first.iter_lines()
        assert ": heartbeat" in [next(lines) for _ in range(4)]  # after the retry and the id
        third = client.get("/events", headers=LIVE)
        assert third.status_code == 429
        assert third.json()["type"] == "urn:todo-api:problem:rate-limited"
        assert third.headers["retry-after"] == "5"
        exposition = client.get("/metrics").text.splitlines()
        assert "todo_events_streams_open 2.0" in exposition
        # A poll ends at once, and is what a client refused a stream falls back to: not capped.
        assert client.get("/events").status_code == 200


def test_a_change_made_through_another_process_arrives(database_url: str) -> None:
    """Two servers on one database, as two replicas (or workers): each polls the table."""
    with (
        serve(database_url, 2) as (server, other),
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers=LIVE) as stream,
    ):
        lines = stream.iter_lines()
        next(lines)
        todo = create(other, "from the other replica")
        sent = time.monotonic()
        event = next_event(lines)
        assert time.monotonic() - sent < LIVE_WITHIN_SECONDS
        assert event["data"]["id"] == todo["id"]


def test_another_user_s_changes_never_arrive(database_url: str) -> None:
    with serve(database_url, auth="required") as (server,):
        tokens: dict[str, dict[str, str]] = {}
        for name in ("ada", "bob"):
            password = f"a long passphrase, number {len(tokens)}"
            user = {"username": name, "password": password}
            assert httpx.post(f"{server.base_url}/users", json=user).status_code == 201
            token = httpx.post(f"{server.base_url}/tokens", json=user)
            assert token.status_code == 201
            tokens[name] = {"Authorization": f"Bearer {token.json()['token']}"}
        with (
            httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
            client.stream("GET", "/events", headers={**LIVE, **tokens["bob"]}) as stream,
        ):
            lines = stream.iter_lines()
            hers = create(server, "ada's secret", **tokens["ada"])
            mine = create(server, "bob's own", **tokens["bob"])
            heard = [next_event(lines)["data"]]
            while heard[-1]["kind"] != "todo":  # his Inbox comes first, with his first todo
                heard.append(next_event(lines)["data"])
            # Ada's todo, made before bob's, never came.
            assert heard[-1]["id"] == mine["id"] != hers["id"]
            assert all(event["id"] != hers["id"] or event["kind"] != "todo" for event in heard)


def test_resuming_from_a_pruned_id_is_a_reset(server: ServerProcess, database_url: str) -> None:
    """Changes older than TODO_EVENTS_RETENTION_HOURS are pruned; a client that comes back
    from before them hears `reset` (read everything again), then the changes that follow."""
    first = create(server, "first")
    create(server, "second")  # pruned with the first: after the first, it would be missed
    create(server, "third")  # the newest row is always kept
    with httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client:
        polled = client.get("/events", headers={"Last-Event-ID": "0"})
        first_seq = next_event(iter(polled.text.splitlines()))["id"]
        engine = create_engine(database_url)
        try:
            with engine.begin() as connection:  # all but the newest, as if they were old
                assert prune_changes(connection, clock.now() + dt.timedelta(hours=1), 100) == 2
        finally:
            engine.dispose()
        with client.stream(
            "GET", "/events", headers={**LIVE, "Last-Event-ID": first_seq}
        ) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            newest = next(lines).removeprefix("id: ")
            assert int(newest) > int(first_seq)
            assert [next(lines) for _ in range(5)] == [
                "",
                f"id: {newest}",
                "event: reset",
                f'data: {{"seq": {newest}}}',
                "",
            ]
            patched = client.patch(f"/todos/{first['id']}", json={"completed": True})
            assert patched.status_code == 200
            event = next_event(lines)
            assert (event["data"]["id"], event["data"]["action"]) == (first["id"], "updated")
            assert int(event["id"]) > int(newest)


def signed_in(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    """POST /session: the client keeps the cookie; the CSRF header its changes need."""
    opened = client.post("/session", json={"username": username, "password": password})
    assert opened.status_code == 201, opened.text
    return {"X-CSRF-Token": opened.json()["csrf_token"]}


def test_a_stream_ends_when_its_session_does(database_url: str) -> None:
    """Signed out (DELETE /session): the open stream hears nothing more, and ends."""
    with (
        serve(database_url, auth="required") as (server,),
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as browser,
    ):
        ada = register_account(browser, "ada")
        csrf = signed_in(browser, ada.username, ada.password)
        session = browser.cookies["todo_session"]
        with browser.stream("GET", "/events", headers=LIVE) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            assert browser.delete("/session", headers=csrf).status_code == 204
            browser.cookies.set("todo_session", session)  # as a stale copy of it would
            assert browser.get("/todos").status_code == 401
            create(server, "made after signing out", **ada.headers)
            assert "event: change" not in lines_until_the_end(lines, RECHECK_SECONDS + 2)


def test_a_stream_ends_when_its_token_is_revoked(database_url: str) -> None:
    """In the process that revoked it: at once, with nothing more heard. In another process
    (a worker, a replica): within the token cache's bound and the stream's next check."""
    with (
        serve(database_url, 2, auth="required") as (server, other),
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
    ):
        ada = register_account(client, "ada")
        login = {"username": ada.username, "password": ada.password}
        for revoking_server, bound in (
            (server, RECHECK_SECONDS + SLACK_SECONDS),
            (other, TOKEN_CACHE_SECONDS + RECHECK_SECONDS + SLACK_SECONDS),
        ):
            issued = client.post("/tokens", json=login)
            assert issued.status_code == 201
            streamed = {"Authorization": f"Bearer {issued.json()['token']}"}
            with client.stream("GET", "/events", headers={**LIVE, **streamed}) as stream:
                assert stream.status_code == 200
                lines = stream.iter_lines()
                assert next(lines) == "retry: 1000"
                revoked = httpx.delete(
                    f"{revoking_server.base_url}/tokens/{issued.json()['id']}",
                    headers=ada.headers,
                )
                assert revoked.status_code == 204
                create(server, "made after the revocation", **ada.headers)
                heard = lines_until_the_end(lines, bound)
                if revoking_server is server:
                    assert "event: change" not in heard


def change_password(server: ServerProcess, account: Account) -> int:
    changed = httpx.patch(
        f"{server.base_url}/me",
        headers=account.headers,
        json={
            "current_password": account.password,
            "new_password": "another long passphrase",
            "revoke_other_credentials": True,
        },
    )
    return changed.status_code


def delete_user(server: ServerProcess, account: Account) -> int:
    deleted = httpx.request(
        "DELETE",
        f"{server.base_url}/me",
        headers=account.headers,
        json={"password": account.password},
    )
    return deleted.status_code


@pytest.mark.parametrize(
    ("end_credentials", "status"), [(change_password, 200), (delete_user, 204)]
)
def test_a_stream_ends_when_the_password_changes_or_the_user_goes(
    database_url: str, end_credentials: Callable[[ServerProcess, Account], int], status: int
) -> None:
    """A password changed with `revoke_other_credentials`, or the user deleted: the sessions
    end, and so do their streams."""
    with (
        serve(database_url, auth="required") as (server,),
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as browser,
    ):
        ada = register_account(browser, "ada")
        signed_in(browser, ada.username, ada.password)
        with browser.stream("GET", "/events", headers=LIVE) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            assert end_credentials(server, ada) == status
            assert browser.get("/todos").status_code == 401
            lines_until_the_end(lines, RECHECK_SECONDS + SLACK_SECONDS)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_open_streams_end_at_once_when_the_server_stops(database_url: str, workers: str) -> None:
    """SIGTERM with a stream open: the stream ends with a `retry` hint (reconnect, to another
    replica) and the process exits 0 well within the graceful timeout, with nothing logged as
    an error, where before it waited the whole timeout and cancelled the stream. The same with
    several workers: the supervisor passes SIGTERM on, and each worker drains."""
    settings = {"auth": "disabled", "secret_key": POSTGRES_SECRET_KEY, "workers": workers}
    with todo_api_replicas(database_url, 1, **settings) as (server,):
        with (
            httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
            client.stream("GET", "/events", headers=LIVE) as stream,
        ):
            lines = stream.iter_lines()
            assert next(lines) == "retry: 1000"
            stopping = time.monotonic()
            server.process.terminate()
            heard = lines_until_the_end(lines, SLACK_SECONDS)
        assert [line for line in heard if line.startswith("retry: ")] != []
        assert server.process.wait(timeout=GRACEFUL_TIMEOUT_SECONDS) == 0
        assert time.monotonic() - stopping < GRACEFUL_TIMEOUT_SECONDS / 2
        output = server.output()
        assert "ERROR" not in output
        assert "Traceback" not in output

"""GET /events against real servers: a change arrives within a second, from another process
too; Last-Event-ID resumes without a gap; heartbeats; the bound on streams; another user's
changes never arrive."""

import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from support import ServerProcess, todo_api_server

pytestmark = pytest.mark.slow

LIVE_WITHIN_SECONDS = 1.0
STREAM_TIMEOUT = httpx.Timeout(10, read=5)
LIVE = {"Accept": "text/event-stream"}


def serve(directory: Path, auth: str = "disabled") -> AbstractContextManager[ServerProcess]:
    """A server with a quick heartbeat and at most two streams per user."""
    return todo_api_server(
        directory, auth=auth, events_heartbeat_seconds="0.3", events_max_streams="2"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with serve(tmp_path) as running:
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
        # Without Accept: text/event-stream, a poll: the changes so far, then the end.
        polled = client.get("/events", headers={"Last-Event-ID": after_first})
        assert polled.status_code == 200
        lines = iter(polled.text.splitlines())
        assert [next_event(lines)["data"]["id"] for _ in titles[1:]] == ids[1:]
        assert client.get("/events").text == "retry: 1000\n\n"  # nothing after the last


def test_heartbeats_and_the_bound_on_streams(server: ServerProcess) -> None:
    with (
        httpx.Client(base_url=server.base_url, timeout=STREAM_TIMEOUT) as client,
        client.stream("GET", "/events", headers=LIVE) as first,
        client.stream("GET", "/events", headers=LIVE) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        lines = first.iter_lines()
        assert ": heartbeat" in (next(lines), next(lines), next(lines))
        third = client.get("/events")
        assert third.status_code == 429
        assert third.json()["type"] == "urn:todo-api:problem:rate-limited"
        assert third.headers["retry-after"] == "5"
        exposition = client.get("/metrics").text.splitlines()
        assert "todo_events_streams_open 2.0" in exposition


def test_a_change_made_through_another_process_arrives(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Two servers on one database, as two replicas (or workers): each polls the table."""
    with (
        serve(tmp_path) as other,
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


def test_another_user_s_changes_never_arrive(tmp_path: Path) -> None:
    with serve(tmp_path, auth="required") as server:
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

"""Several `todo-api serve` processes on one PostgreSQL database: what each promises alone holds
for all of them together (docs/deploy.md, "Replicas").

Real processes, each on a port of its own, sharing TODO_SECRET_KEY; requests sent "at once" are
released together by a barrier, one thread per replica.
"""

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from postgres_support import POSTGRES_SECRET_KEY, PostgresDatabases, ThrowawayCluster
from support import (
    TEMPLATE_AUTH,
    ServerProcess,
    free_port,
    missing_part,
    register_account,
    todo_api_replicas,
)
from todo_api.db import create_engine
from todo_api.migrate import head_revision
from todo_api.token_cache import TOKEN_CACHE_SECONDS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPLICAS = 3
ROUNDS = 20
REQUEST_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05  # polling interval while a condition is awaited, never a wait of its own


@pytest.fixture
def database_url(postgres: PostgresDatabases) -> Iterator[str]:
    """A migrated database of this test (holding the template account and its token)."""
    url = postgres.create(migrated=True)
    yield url
    postgres.release(url, migrated=True)


@pytest.fixture
def replicas(database_url: str) -> Iterator[list[httpx.Client]]:
    """Three replicas on the test's database, as clients sending the template account's token."""
    with todo_api_replicas(
        database_url, REPLICAS, secret_key=POSTGRES_SECRET_KEY, auth="required"
    ) as servers:
        clients = [client_of(server) for server in servers]
        try:
            yield clients
        finally:
            for client in clients:
                client.close()


def client_of(server: ServerProcess, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={**TEMPLATE_AUTH, **headers},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run every call on a thread of its own, all released together; their results in order."""
    start = threading.Barrier(len(calls))

    def released(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def stored_ids(database_url: str) -> list[int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT id FROM todos")).scalars())
    finally:
        engine.dispose()


def test_creates_spread_over_the_replicas_are_all_stored_with_unique_ids(
    replicas: list[httpx.Client], database_url: str
) -> None:
    writers_per_replica, creates_each = 4, 10

    def create_many(client: httpx.Client, writer: int) -> list[int]:
        ids = []
        for number in range(creates_each):
            response = client.post("/todos", json={"title": f"writer {writer} #{number}"})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    calls = [
        partial(create_many, client, writer)
        for client in replicas
        for writer in range(writers_per_replica)
    ]
    acknowledged = [todo_id for ids in at_once(calls) for todo_id in ids]
    assert len(acknowledged) == REPLICAS * writers_per_replica * creates_each
    assert len(set(acknowledged)) == len(acknowledged)
    assert sorted(stored_ids(database_url)) == sorted(acknowledged)


def test_the_same_if_match_sent_to_every_replica_succeeds_once_every_round(
    replicas: list[httpx.Client],
) -> None:
    first = replicas[0]
    for round_ in range(ROUNDS):
        todo = first.post("/todos", json={"title": f"round {round_}"}).json()
        etag = first.get(f"/todos/{todo['id']}").headers["etag"]
        responses = at_once(
            [
                partial(
                    client.patch,
                    f"/todos/{todo['id']}",
                    json={"completed": True},
                    headers={"If-Match": etag},
                )
                for client in replicas
            ]
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 412, 412], (round_, [r.text for r in responses])
        changed = first.get(f"/todos/{todo['id']}")
        assert changed.json()["completed"] is True
        [accepted] = [r for r in responses if r.status_code == 200]
        assert changed.headers["etag"] == accepted.headers["etag"] != etag  # changed once


def test_the_same_idempotency_key_sent_to_every_replica_creates_one_todo(
    replicas: list[httpx.Client], database_url: str
) -> None:
    rounds = 10
    for round_ in range(rounds):
        key = f"to-every-replica-{round_}"
        responses = at_once(
            [
                partial(
                    client.post, "/todos", json={"title": key}, headers={"Idempotency-Key": key}
                )
                for client in replicas
            ]
        )
        assert [response.status_code for response in responses] == [201] * REPLICAS
        assert len({response.content for response in responses}) == 1
        replayed = sorted(r.headers.get("idempotent-replayed", "") for r in responses)
        assert replayed == ["", "true", "true"]
    assert len(stored_ids(database_url)) == rounds


def test_replicas_booting_together_on_an_empty_database_all_come_up_migrated_once(
    postgres: PostgresDatabases,
) -> None:
    url = postgres.create(migrated=False)
    try:
        with todo_api_replicas(
            url, REPLICAS, secret_key=POSTGRES_SECRET_KEY, auth="disabled"
        ) as servers:
            for server in servers:
                with httpx.Client(base_url=server.base_url) as client:
                    assert client.get("/ready").status_code == 200
                    assert client.post("/todos", json={"title": "up"}).status_code == 201
            engine = create_engine(url)
            try:
                with engine.connect() as connection:
                    versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                    assert versions.scalars().all() == [head_revision()]
                    # The implicit user is made by the first migration: once, so migrated once.
                    users = connection.exec_driver_sql("SELECT count(*) FROM users").scalar()
                    assert users == 1
                    todos = connection.exec_driver_sql("SELECT count(*) FROM todos").scalar()
                    assert todos == REPLICAS
            finally:
                engine.dispose()
    finally:
        postgres.release(url, migrated=False)


def test_a_token_revoked_on_one_replica_is_refused_by_the_others_within_the_bound(
    replicas: list[httpx.Client],
) -> None:
    revoker, *others = replicas
    account = register_account(revoker, "revoked-elsewhere")
    auth = {"Authorization": f"Bearer {account.token}"}
    [token] = revoker.get("/tokens", headers=auth).json()
    for client in others:  # each other replica now holds the token in its cache
        assert client.get("/todos", headers=auth).status_code == 200

    revoked = revoker.delete(f"/tokens/{token['id']}", headers=auth)
    assert revoked.status_code == 204
    committed = time.monotonic()  # the commit happened before this answer arrived
    assert revoker.get("/todos", headers=auth).status_code == 401  # at once where revoked

    refused_after: dict[int, float] = {}
    while len(refused_after) < len(others):
        for number, client in enumerate(others):
            if number in refused_after:
                continue
            sent = time.monotonic()
            status = client.get("/todos", headers=auth).status_code
            if status == 401:
                refused_after[number] = sent - committed
            else:
                assert status == 200
                # Accepted: only while the bound may not have passed when the request left.
                assert sent - committed < TOKEN_CACHE_SECONDS, f"accepted {sent - committed:.2f}s"
        time.sleep(POLL_SECONDS)
    assert max(refused_after.values()) < TOKEN_CACHE_SECONDS + 1.0, refused_after


def test_a_cursor_made_by_one_replica_pages_on_another(replicas: list[httpx.Client]) -> None:
    first = replicas[0]
    created = [
        first.post("/todos", json={"title": f"page {number}"}).json()["id"] for number in range(7)
    ]
    listed: list[int] = []
    response = first.get("/todos", params={"limit": 2})
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        listed += [todo["id"] for todo in response.json()]
        pages += 1
        following = response.links.get("next")
        if following is None:
            break
        next_url = httpx.URL(following["url"])
        # The next page from the next replica: the cursor is signed with the shared key.
        client = replicas[pages % REPLICAS]
        response = client.get(next_url.path, params=next_url.params)
    assert pages == 4
    assert sorted(listed) == sorted(created)
    assert listed == [todo["id"] for todo in first.get("/todos").json()]


OUTAGE_ANSWER_SECONDS = 1.0  # the bound on an answer while the database is down
RECOVERY_DEADLINE_SECONDS = 30.0  # a deadline for a condition awaited by polling


class WriteLoad:
    """Writers POSTing todos to every replica until stopped; every answer is kept."""

    def __init__(self, clients: list[httpx.Client], writers_per_client: int) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.acknowledged: list[int] = []
        self.answers: list[tuple[int, float, str]] = []  # status, seconds, problem type
        self.failures: list[str] = []  # no answer at all: a hang or a dropped connection
        self._threads = [
            threading.Thread(target=self._write, args=(client, f"{number}-{writer}"))
            for number, client in enumerate(clients)
            for writer in range(writers_per_client)
        ]

    def __enter__(self) -> "WriteLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exception: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _write(self, client: httpx.Client, writer: str) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            started = time.perf_counter()
            try:
                response = client.post("/todos", json={"title": f"load {writer} #{number}"})
            except httpx.TransportError as error:
                with self._lock:
                    self.failures.append(f"{type(error).__name__}: {error}")
                continue
            seconds = time.perf_counter() - started
            problem = ""
            if response.status_code == 503:
                problem = response.json()["type"]
            with self._lock:
                self.answers.append((response.status_code, seconds, problem))
                if response.status_code == 201:
                    self.acknowledged.append(response.json()["id"])

    def count(self, status: int) -> int:
        with self._lock:
            return sum(1 for answer in self.answers if answer[0] == status)


def await_condition(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not in {RECOVERY_DEADLINE_SECONDS}s: {what}"
        time.sleep(POLL_SECONDS)


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    """The test's own PostgreSQL server, to stop and start (never the machine's)."""
    try:
        cluster = ThrowawayCluster(free_port())
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        missing_part(f"cannot make a PostgreSQL cluster of the test's own: {error}")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def test_a_database_outage_under_write_load_is_a_fast_503_then_recovered(
    cluster: ThrowawayCluster,
) -> None:
    with todo_api_replicas(
        cluster.url, REPLICAS, secret_key=POSTGRES_SECRET_KEY, auth="disabled"
    ) as servers:
        clients = [
            httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_SECONDS)
            for server in servers
        ]
        with WriteLoad(clients, writers_per_client=2) as load:
            await_condition(lambda: load.count(201) >= 50, "writes before the outage")
            cluster.stop()
            refused_before = load.count(503)
            await_condition(lambda: load.count(503) >= refused_before + 30, "503s in the outage")
            for client in clients:
                ready = client.get("/ready")
                assert ready.status_code == 503
                assert ready.headers["content-type"] == "application/problem+json"
                assert client.get("/health").status_code == 200
            acknowledged_in_outage = load.count(201)
            cluster.start()
            await_condition(
                lambda: load.count(201) >= acknowledged_in_outage + 50, "writes after the outage"
            )
            for client in clients:  # every replica, not only some, took writes again
                assert client.post("/todos", json={"title": "after"}).status_code == 201
                assert client.get("/ready").status_code == 200
        for client in clients:
            client.close()

    assert load.failures == []
    assert {status for status, _seconds, _problem in load.answers} == {201, 503}
    refusals = [(seconds, problem) for status, seconds, problem in load.answers if status == 503]
    assert {problem for _seconds, problem in refusals} == {
        "urn:todo-api:problem:database-unavailable"
    }
    slowest = max(seconds for seconds, _problem in refusals)
    assert slowest <= OUTAGE_ANSWER_SECONDS, f"slowest 503 of {len(refusals)}: {slowest:.3f}s"
    # No write acknowledged with 2xx is lost: all of them are in the database.
    # (A write whose commit the outage cut off may be stored though answered 503: a client
    # retries it with an Idempotency-Key.)
    missing = set(load.acknowledged) - set(stored_ids(cluster.url))
    assert not missing, f"{len(missing)} of {len(load.acknowledged)} acknowledged writes lost"

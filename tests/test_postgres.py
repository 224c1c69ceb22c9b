"""PostgreSQL's own behaviour: waits stay off the event loop, bounded, and migrations run once.

The API suite runs on PostgreSQL too (conftest's `[postgresql]` half); this file tests what only
a database server has: row locks held by another session, statement and pool timeouts, a
connection the server dropped, several processes migrating one database at once.
"""

import asyncio
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from postgres_support import POSTGRES_SECRET_KEY, PostgresDatabases
from support import (
    API_BASE_URL,
    TEMPLATE_AUTH,
    free_port,
    post_created,
    register_account,
    run_in_process,
    todo_api_command,
)
from todo_api.app import create_app, create_served_app
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.db_postgres import APPLICATION_NAME, PoolLimits, PostgresDatabase, engine_url
from todo_api.domain import clock
from todo_api.errors import DefaultListMadeConcurrently
from todo_api.migrate import head_revision, is_at_head
from todo_api.repository import changes, lists, users
from todo_api.repository.search_index import Method, plan_search
from todo_api.repository.todos import (
    TodoCriteria,
    count_todos,
    filter_parameters,
    list_todos,
    matching_ids,
)
from todo_api.tables import LOCAL_USER_ID

pytestmark = pytest.mark.postgres

# What the issue asks of /health and of reads of other rows while a row is locked.
READ_BOUND_SECONDS = 0.1
HOLD_SECONDS = 3.0
DEADLINE_SECONDS = 10.0  # for a condition awaited by polling, never a wait of its own


@pytest.fixture
def postgres_url(postgres: PostgresDatabases, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TODO_SECRET_KEY", POSTGRES_SECRET_KEY)
    url = postgres.create(migrated=True)
    yield url
    postgres.release(url, migrated=True)


def libpq_url(url: str) -> str:
    """The URL as psycopg takes it (without SQLAlchemy's driver name)."""
    return engine_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def row_locked(url: str, todo_id: int) -> Iterator[None]:
    """Hold a row lock on the todo from another session (an UPDATE not yet committed)."""
    with psycopg.connect(libpq_url(url)) as holder:
        holder.execute("UPDATE todos SET title = 'held' WHERE id = %s", (todo_id,))
        yield
        holder.rollback()


def await_condition(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.01)


def waiting_on_a_lock(url: str) -> bool:
    """Whether a session of the app waits for a lock (the blocked write is in place)."""
    with psycopg.connect(libpq_url(url)) as observer:
        row = observer.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND wait_event_type = 'Lock'",
            (APPLICATION_NAME,),
        ).fetchone()
    return row is not None and row[0] > 0


@pytest.mark.slow  # ~4 s, and timed: like its SQLite twin in test_lock_waits.py
def test_a_row_lock_delays_only_the_requests_for_that_row(postgres_url: str) -> None:
    settings = Settings(rate_limit="off", database_url=postgres_url)
    # As served (gc_freeze.py): without it a full garbage collection of the test process's
    # objects (the whole session's) stops every thread, the loop's too, for ~0.1 s.
    app = create_served_app(settings)
    with TestClient(app, base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        locked = post_created(client, "/todos", title="locked")
        other = post_created(client, "/todos", title="other")
        blocked: dict[str, int] = {}

        def patch_locked_row() -> None:
            response = client.patch(f"/todos/{locked['id']}", json={"completed": True})
            blocked["status"] = response.status_code

        with row_locked(postgres_url, locked["id"]):
            writer = threading.Thread(target=patch_locked_row)
            writer.start()
            await_condition(lambda: waiting_on_a_lock(postgres_url))
            slowest, reads = 0.0, 0
            deadline = time.monotonic() + HOLD_SECONDS
            while time.monotonic() < deadline:
                for path in ("/health", f"/todos/{other['id']}", "/todos"):
                    started = time.perf_counter()
                    assert client.get(path).status_code == 200
                    slowest = max(slowest, time.perf_counter() - started)
                    reads += 1
            assert "status" not in blocked  # still waiting for the row
        writer.join(timeout=DEADLINE_SECONDS)
        assert blocked == {"status": 200}
        assert slowest < READ_BOUND_SECONDS, f"slowest of {reads} reads: {slowest:.3f} s"


def event_ids(body: str) -> list[int]:
    """The `id`s of the change events in a GET /events answer, in order (not the stream's
    opening `id`, which names where it starts)."""
    ids = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "change":
            ids.append(int(fields["id"]))
    return ids


def test_a_user_s_writes_do_not_queue_and_the_feed_waits_for_the_earlier_seq(
    postgres_url: str,
) -> None:
    """A write of the user's has taken its `seq` and not committed: another write of theirs
    goes through at once, but GET /events waits for the first one, then gives both in order."""
    settings = Settings(rate_limit="off", database_url=postgres_url, db_statement_timeout=5)
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        before = post_created(client, "/todos", title="before")
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as writer:
                owner_id, last = writer.execute(
                    sa.text(
                        "SELECT owner_id, (SELECT max(seq) FROM changes) FROM todos WHERE id = :id"
                    ),
                    {"id": before["id"]},
                ).one()
                writer.rollback()
                writer.begin()  # as the service's units: `record` runs a driver statement only
                changes.record(writer, owner_id, "todo", before["id"], "updated")  # not committed
                assert post_created(client, "/todos", title="not queued")["title"] == "not queued"
                answer: dict[str, Any] = {}

                def read_feed() -> None:
                    response = client.get("/events", headers={"Last-Event-ID": str(last)})
                    answer["status"], answer["ids"] = response.status_code, event_ids(response.text)

                reader = threading.Thread(target=read_feed)
                reader.start()
                await_condition(lambda: waiting_on_a_lock(postgres_url))
                assert answer == {}  # it waits: it would otherwise miss the uncommitted seq
                writer.commit()
                reader.join(timeout=DEADLINE_SECONDS)
        finally:
            engine.dispose()
    assert answer["status"] == 200
    assert answer["ids"] == [last + 1, last + 2]  # the held write's seq first, then the other


def test_a_search_in_a_short_read_is_planned_for_its_values(postgres_url: str) -> None:
    """Short reads run in autocommit, where SET LOCAL would do nothing: the search opens the
    transaction its custom plans need, and the read ends it (nothing left on the connection)."""

    def searching(connection: sa.Connection) -> str:
        plan_search(connection, LOCAL_USER_ID, "milk")
        return str(connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

    def plan_cache_mode(connection: sa.Connection) -> str:
        return str(connection.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

    async def reads() -> tuple[str, str]:
        database = PostgresDatabase(postgres_url, PoolLimits(size=1))
        try:
            return await database.read(searching), await database.read(plan_cache_mode)
        finally:
            database.close()

    assert asyncio.run(reads()) == ("force_custom_plan", "auto")


def test_a_statement_past_the_timeout_is_a_503_and_changes_nothing(postgres_url: str) -> None:
    settings = Settings(rate_limit="off", database_url=postgres_url, db_statement_timeout=0.3)
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        todo = post_created(client, "/todos", title="locked")
        with row_locked(postgres_url, todo["id"]):
            response = client.patch(f"/todos/{todo['id']}", json={"title": "changed"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "urn:todo-api:problem:database-unavailable"
        assert client.get(f"/todos/{todo['id']}").json()["title"] == "locked"
        assert client.patch(f"/todos/{todo['id']}", json={"title": "now"}).status_code == 200


def test_a_request_waits_for_a_connection_at_most_the_pool_timeout(postgres_url: str) -> None:
    settings = Settings(
        rate_limit="off", database_url=postgres_url, db_pool_size=1, db_pool_timeout=0.2
    )
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as client:
        todo = post_created(client, "/todos", title="locked")
        blocked: dict[str, int] = {}

        def patch_locked_row() -> None:  # holds the pool's only connection while it waits
            response = client.patch(f"/todos/{todo['id']}", json={"completed": True})
            blocked["status"] = response.status_code

        with row_locked(postgres_url, todo["id"]):
            writer = threading.Thread(target=patch_locked_row)
            writer.start()
            await_condition(lambda: waiting_on_a_lock(postgres_url))
            started = time.perf_counter()
            response = client.get("/todos")
            waited = time.perf_counter() - started
            assert response.status_code == 503
            assert response.json()["type"] == "urn:todo-api:problem:database-unavailable"
            assert client.get("/health").status_code == 200
        writer.join(timeout=DEADLINE_SECONDS)
        assert blocked == {"status": 200}
        assert waited < 1.0
        assert client.get("/todos").status_code == 200


def test_connections_the_server_dropped_are_replaced_without_an_error(postgres_url: str) -> None:
    """What a server restart does to the pool: every connection is gone; requests go on."""
    with TestClient(
        create_app(Settings(rate_limit="off", database_url=postgres_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        todo = post_created(client, "/todos", title="survives")
        database = engine_url(postgres_url).database
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                (database, APPLICATION_NAME),
            ).fetchone()
        assert ended is not None and ended[0] >= 1
        assert client.get(f"/todos/{todo['id']}").status_code == 200
        assert post_created(client, "/todos", title="after")["title"] == "after"


def test_processes_starting_together_migrate_once(postgres: PostgresDatabases) -> None:
    """`todo-api migrate` three times at once on an empty database: all succeed, one migrates
    (the others wait on the advisory lock, then find the work done)."""
    url = postgres.create(migrated=False)
    environment = {**os.environ, "TODO_DATABASE_URL": url}
    try:
        processes = [
            subprocess.Popen(
                todo_api_command("migrate"),
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(3)
        ]
        outputs = [process.communicate(timeout=60)[0].decode() for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], outputs
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                assert is_at_head(connection)
                versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                assert versions.scalars().all() == [head_revision()]
                assert connection.exec_driver_sql("SELECT count(*) FROM users").scalar() == 1
        finally:
            engine.dispose()
    finally:
        postgres.release(url, migrated=False)


def test_the_search_uses_the_gin_index(postgres_url: str) -> None:
    engine = create_engine(postgres_url)

    @sa.event.listens_for(engine, "before_cursor_execute", retval=True)
    def _explained(*arguments: Any) -> tuple[str, Any]:
        _connection, _cursor, statement, parameters, _context, _many = arguments
        return (f"EXPLAIN {statement}" if statement.startswith("SELECT") else statement), parameters

    criteria = TodoCriteria(q="crème brûl")
    try:
        with engine.connect() as connection:
            # Enough todos of one owner that walking them costs more than the index.
            connection.exec_driver_sql(
                "INSERT INTO todos (owner_id, list_id, title, completed, created_at, updated_at,"
                " priority, tags, version, order_key, due_key)"
                " SELECT 1, 1, 'todo ' || n, false, now(), now(), 0, '[]', 1, 1e300, now()"
                " FROM generate_series(1, 20000) AS n"
            )
            connection.exec_driver_sql("ANALYZE todos")
            plan = connection.execute(
                matching_ids(criteria), filter_parameters(criteria, LOCAL_USER_ID, clock.now())
            ).scalars()
            assert any("todos_fts_owned_gin" in str(line) for line in plan)
    finally:
        engine.dispose()


def test_the_owned_lexemes_never_reach_another_owner(postgres_url: str) -> None:
    """Owner 4's `2buy` is lexeme `4_2buy`: owner 42's `buy:*` (`42_buy:*`) is not its prefix."""
    engine = create_engine(postgres_url)
    matches = (
        "SELECT todo_owned_search_vector(%(owner)s, %(title)s, NULL)"
        " @@ todo_owned_search_query(%(caller)s, %(query)s)"
    )
    cases = [
        (4, "2buy it", 42, "'buy':*", False),
        (42, "buy it", 4, "'2buy':*", False),
        (42, "Crème brûlée", 42, "'creme' & 'brul':*", True),
        (42, "it's foo_bar", 42, "'it' & 'foo' <-> 'bar':*", True),
        (7, "buy it", 7, "'buy':*", True),
        (7, "buy it", 77, "'buy':*", False),
    ]
    try:
        with engine.connect() as connection:
            for owner, title, caller, query, expected in cases:
                values = {"owner": owner, "title": title, "caller": caller, "query": query}
                assert connection.exec_driver_sql(matches, values).scalar() is expected, values
    finally:
        engine.dispose()


def test_a_dense_search_walks_the_sort_index_and_a_sparse_one_gathers(postgres_url: str) -> None:
    """PostgreSQL's estimate of the caller's matches picks the plan (search_index.plan_search).

    150 words beside `todo`: PostgreSQL estimates a prefix from its most common lexemes only
    when ANALYZE kept at least 100 of them (else it guesses 2% of the rows)."""
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                "INSERT INTO todos (owner_id, list_id, title, completed, created_at, updated_at,"
                " priority, tags, version, order_key, due_key)"
                " SELECT 1, 1, 'todo w' || mod(n, 150) || ' ' || n, false, now(), now(), 0,"
                " '[]', 1, 1e300, now() FROM generate_series(1, 20000) AS n"
            )
            connection.exec_driver_sql("ANALYZE todos")
            dense = plan_search(connection, LOCAL_USER_ID, "todo")
            sparse = plan_search(connection, LOCAL_USER_ID, "todo 1234")
            page = list_todos(connection, LOCAL_USER_ID, TodoCriteria(q="todo"), limit=3)
            count = count_todos(connection, LOCAL_USER_ID, TodoCriteria(q="todo"), clock.now())
            found = list_todos(connection, LOCAL_USER_ID, TodoCriteria(q="todo 1234"), limit=20)
    finally:
        engine.dispose()
    assert dense is not None and dense.method is Method.WALK
    assert sparse is not None and sparse.method is Method.MATCHING
    assert [todo.title.split()[-1] for todo in page] == ["20000", "19999", "19998"]
    assert count == 20000
    numbers = sorted(int(todo.title.split()[-1]) for todo in found)
    assert numbers == [1234, *range(12340, 12350)]


def concurrently(count: int, request: Any) -> list[Any]:
    """`request()` from `count` threads released at once; their results."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = request()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS)
    return results


def test_the_same_if_match_sent_at_once_succeeds_once(postgres_url: str) -> None:
    with TestClient(
        create_app(Settings(rate_limit="off", database_url=postgres_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        for round_ in range(5):
            todo = post_created(client, "/todos", title=f"round {round_}")
            etag = client.get(f"/todos/{todo['id']}").headers["etag"]
            responses = concurrently(
                4,
                lambda todo=todo, etag=etag: client.patch(
                    f"/todos/{todo['id']}", json={"completed": True}, headers={"If-Match": etag}
                ),
            )
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [200, 412, 412, 412], [r.text for r in responses]
            assert client.get(f"/todos/{todo['id']}").json()["completed"] is True


def test_the_same_idempotency_key_sent_at_once_creates_once(postgres_url: str) -> None:
    with TestClient(
        create_app(Settings(rate_limit="off", database_url=postgres_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        for round_ in range(5):
            key = f"at-once-{round_}"
            responses = concurrently(
                3,
                lambda key=key: client.post(
                    "/todos", json={"title": key}, headers={"Idempotency-Key": key}
                ),
            )
            assert [response.status_code for response in responses] == [201] * 3
            assert len({response.content for response in responses}) == 1
            replayed = sorted(r.headers.get("idempotent-replayed", "") for r in responses)
            assert replayed == ["", "true", "true"]
        titles = sorted(todo["title"] for todo in client.get("/todos").json())
        assert titles == [f"at-once-{round_}" for round_ in range(5)]


def test_a_new_users_first_writes_at_once_share_the_default_list_the_first_made(
    postgres_url: str,
) -> None:
    """The loser of the race for a new user's default list (its snapshot taken before the
    winner committed) is run again, not answered 500: the rolling-upgrade test's two threads
    per new account met it. Played in order on two engines; the API then uses that one list."""
    engine = create_engine(postgres_url)
    now = clock.now()
    try:
        with engine.begin() as connection:
            owner = users.create_user(connection, "first-writes", "not a real hash", now).id
        with engine.connect() as loser:
            loser.exec_driver_sql("SELECT 1")  # REPEATABLE READ: the snapshot is taken here
            with engine.begin() as winner:
                made = lists.default_list_id(winner, owner, now)
            with pytest.raises(DefaultListMadeConcurrently) as raised:
                lists.default_list_id(loser, owner, now)
            assert raised.value.retry_in_new_transaction
            loser.rollback()
            with loser.begin():  # the unit run again: a new snapshot
                assert lists.default_list_id(loser, owner, now) == made
        with engine.connect() as connection:
            defaults = connection.execute(
                sa.text("SELECT count(*) FROM lists WHERE owner_id = :o AND is_default"),
                {"o": owner},
            )
            assert defaults.scalar() == 1
    finally:
        engine.dispose()


def test_a_new_users_first_creates_sent_at_once_all_succeed(postgres_url: str) -> None:
    with TestClient(
        create_app(Settings(rate_limit="off", database_url=postgres_url)),
        base_url=API_BASE_URL,
    ) as client:
        for round_ in range(3):
            account = register_account(client, f"at-once-{round_}")
            responses = concurrently(
                4,
                lambda account=account: client.post(
                    "/todos", json={"title": "first"}, headers=account.headers
                ),
            )
            assert [response.status_code for response in responses] == [201] * 4
            assert len({response.json()["list_id"] for response in responses}) == 1


def test_an_unreachable_server_stops_migrate_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://todo:s3cret@127.0.0.1:{free_port()}/todo"  # nothing listens there
    result = run_in_process(capsys, monkeypatch, "migrate", env={"TODO_DATABASE_URL": url})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("todo-api: cannot use postgresql+psycopg://todo:***@127.0.0.1:")
    assert "s3cret" not in result.stderr

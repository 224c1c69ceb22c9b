"""The full-text index catches up on demand (migration 0004) and never disagrees with the todos."""

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import post_created
from todo_api.db import create_engine
from todo_api.migrate import alembic_config
from todo_api.repository import todos as repository
from todo_api.schemas import TodoCreate
from todo_api.tables import LOCAL_USER_ID

# The search tests run on both databases; the ones about SQLite's queue of todos waiting for the
# FTS5 index (and FTS5's own integrity check) are marked sqlite_only.
SQLITE_QUEUE = pytest.mark.sqlite_only

WORDS = ("apple", "banana", "cherry")


def _search(client: TestClient, word: str) -> set[int]:
    response = client.get("/todos", params={"q": word, "limit": 200})
    assert response.status_code == 200, response.text
    return {todo["id"] for todo in response.json()}


def _sqlite_count(database_url: str, sql: str) -> int:
    with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
        count: int = connection.execute(sql).fetchone()[0]
    return count


def _index_problems(database_url: str) -> str | None:
    """FTS5's own check that the index holds exactly the todos' current text (once caught up)."""
    path = database_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    try:
        connection.execute("INSERT INTO todos_fts(todos_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as error:
        return str(error)
    finally:
        connection.close()
    return None


_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(WORDS)),
        st.tuples(st.just("retitle"), st.integers(0, 5), st.sampled_from(WORDS)),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(st.just("search"), st.sampled_from(WORDS)),
    ),
    max_size=14,
)


@given(operations=_OPERATIONS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_search_finds_exactly_the_current_titles(
    client: TestClient, database_url: str, operations: list[tuple[Any, ...]]
) -> None:
    assert client.delete("/todos").status_code == 200
    titles: dict[int, str] = {}
    for operation in operations:
        kind, *args = operation
        ids = sorted(titles)
        if kind == "create":
            titles[post_created(client, "/todos", title=f"buy {args[0]}")["id"]] = args[0]
        elif kind == "retitle" and ids:
            todo_id = ids[args[0] % len(ids)]
            answer = client.patch(f"/todos/{todo_id}", json={"title": f"eat {args[1]}"})
            assert answer.status_code == 200
            titles[todo_id] = args[1]
        elif kind == "delete" and ids:
            todo_id = ids[args[0] % len(ids)]
            assert client.delete(f"/todos/{todo_id}").status_code == 204
            del titles[todo_id]
        elif kind == "search":
            word = args[0]
            assert _search(client, word) == {i for i, title in titles.items() if title == word}
    _search(client, WORDS[0])  # the index has caught up: it must hold exactly the titles
    if database_url.startswith("sqlite"):
        assert _index_problems(database_url) is None


def test_bulk_changes_by_search_see_todos_not_yet_indexed(client: TestClient) -> None:
    apple = post_created(client, "/todos", title="apple pie")
    post_created(client, "/todos", title="banana bread")

    patched = client.patch(
        "/todos?q=apple", json={"completed": True}, headers={"Content-Type": "application/json"}
    )
    assert patched.json() == {"updated": 1}
    assert client.delete("/todos?q=pie").json() == {"deleted": 1}
    assert client.get(f"/todos/{apple['id']}").status_code == 404


def test_imported_todos_are_searchable(client: TestClient, other_client: TestClient) -> None:
    post_created(client, "/todos", title="cherry jam")
    document = client.get("/export").json()

    assert other_client.post("/import", json=document).status_code == 200

    assert len(_search(other_client, "cherry")) == 1


@SQLITE_QUEUE
def test_downgrade_indexes_the_waiting_todos(database_url: str, client: TestClient) -> None:
    todo = post_created(client, "/todos", title="apple tart")
    engine = create_engine(database_url)

    command.downgrade(alembic_config(engine), "0003")

    path = Path(database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT rowid FROM todos_fts WHERE todos_fts MATCH 'apple'"
        ).fetchall()
    assert found == [(todo["id"],)]
    assert _index_problems(database_url) is None
    command.upgrade(alembic_config(engine), "head")
    engine.dispose()
    assert _search(client, "tart") == {todo["id"]}


@SQLITE_QUEUE
def test_every_1024th_todo_indexes_the_queue_so_it_stays_short(
    database_url: str, client: TestClient
) -> None:
    fields = TodoCreate(title="plum cake").model_dump()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for _ in range(1100):
            repository.create_todo(connection, LOCAL_USER_ID, fields, dt.datetime.now(dt.UTC))
    engine.dispose()

    # No search has run: todos 1-1024 were indexed by the 1024th insert, the rest wait.
    assert _sqlite_count(database_url, "SELECT count(*) FROM todos_fts_pending") == 1100 - 1024
    indexed = "SELECT count(*) FROM todos_fts WHERE todos_fts MATCH 'plum'"
    assert _sqlite_count(database_url, indexed) == 1024
    assert len(_search(client, "plum")) == 200  # one full page: all 1,100 are found
    assert _sqlite_count(database_url, indexed) == 1100
    assert _index_problems(database_url) is None

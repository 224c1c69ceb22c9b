"""Waiting for SQLite's write lock never freezes the process: the event loop keeps answering.

Another process (a second worker, another replica, `todo-api import`) may hold the write lock.
Writes then wait on the writer thread; health checks and reads answer meanwhile, and a write that
waits longer than the lock timeout gets a 503 problem with Retry-After, never a 500.
"""

import asyncio
import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from support import API_BASE_URL, TEMPLATE_AUTH, post_created, todo_api_server
from todo_api import db
from todo_api.db import SqliteDatabase
from todo_api.errors import DatabaseBusy
from todo_api.repository import todos as todos_repository
from todo_api.tables import LOCAL_USER_ID

pytestmark = (
    pytest.mark.sqlite_only
)  # SQLite's write lock (PostgreSQL's row locks: test_postgres.py)

# What the issue asks of a read while another process holds the lock.
READ_BOUND_SECONDS = 0.1
# How long the test keeps reading while the lock is held and a write waits for it.
HOLD_SECONDS = 1.5


@contextlib.contextmanager
def write_lock_held(database_file: Path) -> Iterator[None]:
    """Hold the database's write lock from a connection of this (another) process."""
    holder = sqlite3.connect(database_file, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.mark.slow
@pytest.mark.chaos
def test_reads_and_health_answer_while_a_write_waits_for_another_process(
    tmp_path: Path,
) -> None:
    with todo_api_server(tmp_path) as server, httpx.Client(base_url=server.base_url) as client:
        todo = post_created(client, "/todos", title="read me")
        waiting_write: dict[str, int] = {}

        def write() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as writer:
                response = writer.post("/todos", json={"title": "waits for the lock"})
                waiting_write["status"] = response.status_code

        with write_lock_held(tmp_path / "todo.db"):
            writer = threading.Thread(target=write)
            writer.start()
            slowest = 0.0
            deadline = time.monotonic() + HOLD_SECONDS
            reads = 0
            while time.monotonic() < deadline:
                for path in ("/health", f"/todos/{todo['id']}", "/todos"):
                    started = time.perf_counter()
                    assert client.get(path).status_code == 200
                    slowest = max(slowest, time.perf_counter() - started)
                    reads += 1
            assert "status" not in waiting_write  # still waiting for the lock we hold
        writer.join(timeout=30)
        assert waiting_write == {"status": 201}
        assert slowest < READ_BOUND_SECONDS, f"slowest of {reads} reads: {slowest:.3f} s"
        titles = [item["title"] for item in client.get("/todos").json()]
        assert sorted(titles) == ["read me", "waits for the lock"]


def test_a_write_that_outwaits_the_lock_timeout_is_a_503_with_retry_after(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from todo_api.app import create_app
    from todo_api.config import Settings

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    with TestClient(
        create_app(Settings(database_url=database_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        with write_lock_held(tmp_path / "todo.db"):
            response = client.post("/todos", json={"title": "no room"})
            assert client.get("/todos").json() == []
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == "urn:todo-api:problem:database-busy"
        # Nothing half-done: the lock is free again and the same write now succeeds.
        assert client.post("/todos", json={"title": "room now"}).status_code == 201
        assert [todo["title"] for todo in client.get("/todos").json()] == ["room now"]


@pytest.mark.anyio
async def test_the_event_loop_runs_while_the_writer_waits(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: a waiting write leaves the loop free; the write fails alone as DatabaseBusy."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 500)
    database = SqliteDatabase(database_url)  # tmp_path / "todo.db", at head
    now = dt.datetime.now(dt.UTC)

    def create(connection: sa.Connection) -> int:
        return todos_repository.create_todo(connection, LOCAL_USER_ID, {"title": "x"}, now).id

    try:
        with write_lock_held(tmp_path / "todo.db"):
            write = asyncio.ensure_future(database.write(create))
            ticks = 0
            while not write.done():
                await asyncio.sleep(0)  # a loop turn: counts that the loop is never held
                ticks += 1
            with pytest.raises(DatabaseBusy):
                await write
        assert ticks > 100
        assert await database.write(create) == 1
    finally:
        database.close()


BULK_TODOS = 100_000


@pytest.mark.slow
@pytest.mark.chaos
def test_a_bulk_patch_of_100k_todos_holds_no_other_process_longer_than_itself(
    tmp_path: Path,
) -> None:
    """One process patches 100k todos while another serves writes: none fails or waits longer."""
    document = {
        "format": "todo-api",
        "version": 1,
        "todos": [{"title": f"todo {n}"} for n in range(BULK_TODOS)],
    }
    with (
        todo_api_server(tmp_path, max_body_bytes=str(16 * 1024 * 1024)) as bulk_server,
        todo_api_server(tmp_path) as other_server,
        httpx.Client(base_url=bulk_server.base_url, timeout=120) as bulk_client,
        httpx.Client(base_url=other_server.base_url, timeout=60) as other_client,
    ):
        imported = bulk_client.post("/import", json=document)
        assert imported.status_code == 200, imported.text
        outcome: dict[str, Any] = {}

        def bulk_patch() -> None:
            started = time.perf_counter()
            response = bulk_client.patch("/todos", json={"completed": True})
            outcome["seconds"] = time.perf_counter() - started
            outcome["response"] = response

        bulk = threading.Thread(target=bulk_patch)
        bulk.start()
        statuses, slowest = [], 0.0
        while bulk.is_alive():
            started = time.perf_counter()
            statuses.append(other_client.post("/todos", json={"title": "meanwhile"}).status_code)
            slowest = max(slowest, time.perf_counter() - started)
        bulk.join()
        assert set(statuses) == {201}
        # The patch takes the todos committed before it: all imported, some of the others.
        updated = outcome["response"].json()["updated"]
        assert BULK_TODOS <= updated <= BULK_TODOS + len(statuses)
        # A write that arrives just before the bulk change takes the lock waits for all of it.
        assert slowest <= outcome["seconds"] + 0.5, (slowest, outcome["seconds"])

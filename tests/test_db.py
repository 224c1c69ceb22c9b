"""The SQLite data layer: pragmas, durability across restarts, atomic writes, concurrent writers."""

import datetime as dt
import multiprocessing
import stat
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from support import ACCOUNT_PASSWORD, API_BASE_URL, TEMPLATE_AUTH
from todo_api import repository
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import SqliteDatabase, create_engine
from todo_api.migrate import upgrade_to_head
from todo_api.repository.todos import TodoCriteria
from todo_api.tables import LOCAL_USER_ID

pytestmark = (
    pytest.mark.sqlite_only
)  # SQLite's connection pragmas, file location and reads on the loop

WRITES_PER_PROCESS = 150


def test_connections_use_wal_foreign_keys_and_busy_timeout(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000
    engine.dispose()


def test_todos_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as first:
        created = first.post("/todos", json={"title": "remember me"}).json()
    with TestClient(create_app(settings), base_url=API_BASE_URL, headers=TEMPLATE_AUTH) as second:
        assert second.get(f"/todos/{created['id']}").json() == created


@pytest.mark.anyio
async def test_a_failed_write_leaves_nothing_behind(database_url: str) -> None:
    database = SqliteDatabase(database_url)
    upgrade_to_head(database.engine)
    now = dt.datetime.now(dt.UTC)

    def create_two_then_fail(connection: sa.Connection) -> None:
        repository.todos.create_todo(connection, LOCAL_USER_ID, {"title": "a"}, now)
        repository.todos.create_todo(connection, LOCAL_USER_ID, {"title": "b"}, now)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await database.write(create_two_then_fail)
    rows = await database.read(
        lambda connection: repository.todos.list_todos(
            connection, LOCAL_USER_ID, TodoCriteria(), limit=10
        )
    )
    database.close()
    assert rows == []


def _write_many(database_url: str, writer: int) -> None:
    import asyncio

    database = SqliteDatabase(database_url)
    now = dt.datetime.now(dt.UTC)

    async def writes() -> None:
        for n in range(WRITES_PER_PROCESS):
            fields = {"title": f"w{writer}-{n}"}
            await database.write(
                partial(
                    repository.todos.create_todo, owner_id=LOCAL_USER_ID, fields=fields, now=now
                )
            )

    asyncio.run(writes())
    database.close()


@pytest.mark.slow
def test_two_processes_write_concurrently_without_lock_errors(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(database_url, n)) for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]  # a lock error would exit 1
    with engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM todos").scalar()
    engine.dispose()
    assert count == 2 * WRITES_PER_PROCESS


def test_database_directory_is_created(tmp_path: Path) -> None:
    database = SqliteDatabase(f"sqlite:///{tmp_path / 'a' / 'b' / 'todo.db'}")
    upgrade_to_head(database.engine)
    database.close()
    assert (tmp_path / "a" / "b" / "todo.db").exists()


def test_a_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    """They hold password and token hashes: 0600, not the umask's usual 0644 (SQLite gives
    -wal and -shm the database file's mode)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'todo.db'}", rate_limit="off")
    with TestClient(create_app(settings), base_url=API_BASE_URL) as api:
        created = api.post("/users", json={"username": "ada", "password": ACCOUNT_PASSWORD})
        assert created.status_code == 201
        modes = {
            name: stat.S_IMODE((tmp_path / name).stat().st_mode)
            for name in ("todo.db", "todo.db-wal", "todo.db-shm")
        }
    assert modes == {"todo.db": 0o600, "todo.db-wal": 0o600, "todo.db-shm": 0o600}

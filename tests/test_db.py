"""The SQLite data layer: pragmas, migrations, durability across restarts, concurrent writers."""

import ast
import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from todo_api import repository
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import Database, create_engine
from todo_api.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    is_at_head,
    is_modelled,
    upgrade_to_head,
)
from todo_api.repository.todos import TodoCriteria
from todo_api.tables import LOCAL_USER_ID, metadata

WRITES_PER_PROCESS = 150


def test_connections_use_wal_foreign_keys_and_busy_timeout(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()


def test_migrations_build_the_schema_from_an_empty_database(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert not is_at_head(connection)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert is_at_head(connection)
        tables = set(sa.inspect(connection).get_table_names())
        assert set(metadata.tables) <= tables
        local_user = connection.exec_driver_sql("SELECT id FROM users").scalar()
        assert local_user == LOCAL_USER_ID
    engine.dispose()


def test_migrations_downgrade_and_upgrade_again(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as connection:
        assert "todos" not in sa.inspect(connection).get_table_names()
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert is_at_head(connection)
    engine.dispose()


def test_migrated_schema_matches_the_tables_module(database_url: str) -> None:
    """A change to tables.py without a migration fails here (autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(database_url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": is_modelled})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_migrations_import_nothing_from_the_running_code() -> None:
    """A migration is frozen history: were it to import todo_api (or load a module by name), a
    later change to the running code would silently change what an old revision builds."""
    allowed = {"datetime", "sqlalchemy", "alembic"}
    versions = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert versions
    for path in versions:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert imported <= allowed, f"{path.name} imports {sorted(imported - allowed)}"


def test_ready_is_503_when_migrations_are_missing(client: TestClient, database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'elsewhere'")
    engine.dispose()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_todos_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        created = first.post("/todos", json={"title": "remember me"}).json()
    with TestClient(create_app(settings)) as second:
        assert second.get(f"/todos/{created['id']}").json() == created


@pytest.mark.anyio
async def test_a_failed_write_leaves_nothing_behind(database_url: str) -> None:
    database = Database(database_url)
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

    database = Database(database_url)
    now = dt.datetime.now(dt.UTC)

    async def writes() -> None:
        for n in range(WRITES_PER_PROCESS):
            await database.write(
                lambda connection, n=n: repository.todos.create_todo(
                    connection, LOCAL_USER_ID, {"title": f"w{writer}-{n}"}, now
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
    database = Database(f"sqlite:///{tmp_path / 'a' / 'b' / 'todo.db'}")
    upgrade_to_head(database.engine)
    database.close()
    assert (tmp_path / "a" / "b" / "todo.db").exists()


def test_upgrade_keeps_existing_todos_in_the_new_default_list(database_url: str) -> None:
    """Data written by the first schema survives the lists/tags migration, searchable."""
    engine = create_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            'INSERT INTO todos (owner_id, title, description, completed, "order", created_at,'
            " updated_at) VALUES (1, 'old milk', 'from 0001', 0, 3.0,"
            " '2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')"
        )
    engine.dispose()
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        [todo] = client.get("/todos").json()
        [inbox] = client.get("/lists").json()
        assert todo["list_id"] == inbox["id"]
        assert (todo["title"], todo["order"], todo["tags"], todo["priority"]) == (
            "old milk",
            3.0,
            [],
            0,
        )
        assert todo["created_at"] == "2026-01-01T10:00:00Z"
        assert [t["id"] for t in client.get("/todos", params={"q": "milk"}).json()] == [todo["id"]]
        assert [t["id"] for t in client.get("/todos", params={"sort": "order"}).json()] == [
            todo["id"]
        ]
        client.post("/todos", json={"title": "new milk", "order": 3.0})
    # The migration's frozen sort keys are the ones the running code writes.
    engine = create_engine(database_url)
    with engine.connect() as connection:
        keys = connection.exec_driver_sql("SELECT DISTINCT order_key, due_key FROM todos").all()
    engine.dispose()
    assert len(keys) == 1


@pytest.mark.anyio
async def test_units_committed_together_still_fail_alone(database_url: str) -> None:
    """Writes submitted in the same turn share a commit; one failing unit takes only itself."""
    import asyncio

    database = Database(database_url)
    statements: list[str] = []

    @sa.event.listens_for(database.engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    upgrade_to_head(database.engine)
    statements.clear()
    now = dt.datetime.now(dt.UTC)

    def create(title: str) -> Any:
        def unit(connection: sa.Connection) -> str:
            todo = repository.todos.create_todo(connection, LOCAL_USER_ID, {"title": title}, now)
            if title == "bad":
                raise RuntimeError("refused")
            return todo.title

        return unit

    results = await asyncio.gather(
        *(database.write(create(title)) for title in ("a", "bad", "c")), return_exceptions=True
    )
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], RuntimeError)
    assert statements.count("COMMIT") == 1, statements
    titles = await database.read(
        lambda connection: [
            todo.title
            for todo in repository.todos.list_todos(
                connection, LOCAL_USER_ID, TodoCriteria(), sort_name="created_at", limit=10
            )
        ]
    )
    database.close()
    assert titles == ["a", "c"]

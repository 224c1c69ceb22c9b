"""The migrations: from an empty database, down and up again, data kept, in step with tables.py."""

import ast

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from support import API_BASE_URL
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    has_every_migration,
    head_revision,
    is_at_head,
    is_modelled,
    newer_revisions,
    upgrade_to_head,
)
from todo_api.tables import LOCAL_USER_ID, metadata


def test_migrations_build_the_schema_from_an_empty_database(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
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


def test_migrations_downgrade_and_upgrade_again(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    upgrade_to_head(engine)
    command.downgrade(alembic_config(engine), "base")
    with engine.connect() as connection:
        assert "todos" not in sa.inspect(connection).get_table_names()
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert is_at_head(connection)
    engine.dispose()


def test_migrated_schema_matches_the_tables_module(empty_database_url: str) -> None:
    """A change to tables.py without a migration fails here (autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(empty_database_url)
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


def set_revision(database_url: str, revision: str) -> None:
    """Say the database is at `revision`, as if another release had migrated it."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_ready_is_503_when_migrations_are_missing(client: TestClient, database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision() or "")
    assert head is not None and isinstance(head.down_revision, str)
    set_revision(database_url, head.down_revision)  # one migration behind
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "Database migrations are not applied."


NEWER_REVISION = "9999_of_a_newer_release"


def test_a_database_past_this_release_is_served_as_it_is(
    client: TestClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Mid rolling upgrade (or after a rollback) the database holds a newer release's expand
    migrations: this release stays ready, and starting it neither fails nor migrates."""
    set_revision(database_url, NEWER_REVISION)
    assert client.get("/ready").status_code == 200
    engine = create_engine(database_url)
    try:
        upgrade_to_head(engine)  # what every start does: Alembic would not know the revision
        with engine.connect() as connection:
            assert not is_at_head(connection)
            assert has_every_migration(connection)
            assert newer_revisions(connection) == {NEWER_REVISION}
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert versions.scalars().all() == [NEWER_REVISION]
    finally:
        engine.dispose()
    [record] = [r for r in caplog.records if r.name == "todo_api.migrate"]
    assert record.getMessage() == "database is past this release's migrations: served as it is"


def test_a_database_never_migrated_has_not_every_migration(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            assert newer_revisions(connection) == set()
            assert not has_every_migration(connection)
    finally:
        engine.dispose()


def test_upgrade_keeps_existing_todos_in_the_new_default_list(empty_database_url: str) -> None:
    """Data written by the first schema survives the lists/tags migration, searchable."""
    engine = create_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            'INSERT INTO todos (owner_id, title, description, completed, "order", created_at,'
            " updated_at) VALUES (1, 'old milk', 'from 0001', false, 3.0,"
            " '2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')"
        )
    engine.dispose()
    with TestClient(
        create_app(Settings(database_url=empty_database_url, auth="disabled")),
        base_url=API_BASE_URL,
    ) as client:
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
    engine = create_engine(empty_database_url)
    with engine.connect() as connection:
        keys = connection.exec_driver_sql("SELECT DISTINCT order_key, due_key FROM todos").all()
    engine.dispose()
    assert len(keys) == 1


@pytest.mark.sqlite_only  # PostgreSQL: tests/test_postgres.py (the advisory lock)
def test_starting_on_a_database_at_head_takes_no_write_lock(database_url: str) -> None:
    """Every start (each of several workers) checks the revision: with nothing to migrate,
    that is a read, so it does not wait behind a writer that holds the lock."""
    writer, starter = create_engine(database_url), create_engine(database_url)
    try:
        with writer.connect() as holding:
            holding.exec_driver_sql("BEGIN IMMEDIATE")
            with starter.connect() as connection:
                connection.exec_driver_sql("PRAGMA busy_timeout=0")  # a lock wait fails at once
            upgrade_to_head(starter)
            holding.exec_driver_sql("ROLLBACK")
    finally:
        writer.dispose()
        starter.dispose()

"""Ids a client has seen are never given to another row (migration 0010): a stale ETag or URL
of a deleted todo or list never reaches a new one, and the migration that made it so on SQLite
keeps every row, reference and search result of a database before it."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from support import ACCOUNT_PASSWORD, API_BASE_URL, post_created, register_account
from todo_api.app import create_app
from todo_api.config import Settings
from todo_api.db import create_engine
from todo_api.migrate import alembic_config, upgrade_to_head
from todo_api.tables import LOCAL_USER_ID, metadata

BEFORE_IDS_KEPT = "0009"
IDS_KEPT = "0010"
TODOS = 1030  # past 1024: the full-text index holds some, its pending queue the others


def test_a_deleted_newest_todos_id_is_never_given_again(client: TestClient) -> None:
    older = post_created(client, "/todos", title="older")
    deleted = post_created(client, "/todos", title="the newest, seen then deleted")
    etag = client.get(f"/todos/{deleted['id']}").headers["etag"]
    assert client.delete(f"/todos/{deleted['id']}").status_code == 204

    new = post_created(client, "/todos", title="a different todo")

    assert new["id"] > deleted["id"] > older["id"]
    stale_url = f"/todos/{deleted['id']}"
    assert client.get(stale_url, headers={"If-None-Match": etag}).status_code == 404
    stale = client.patch(stale_url, json={"title": "lost update"}, headers={"If-Match": etag})
    assert stale.status_code == 404
    assert client.get(f"/todos/{new['id']}").json()["title"] == "a different todo"


def test_a_deleted_newest_lists_id_is_never_given_again(client: TestClient) -> None:
    deleted = post_created(client, "/lists", name="seen then deleted")
    etag = client.get(f"/lists/{deleted['id']}").headers["etag"]
    assert client.delete(f"/lists/{deleted['id']}").status_code == 204

    new = post_created(client, "/lists", name="a different list")

    assert new["id"] > deleted["id"]
    stale_url = f"/lists/{deleted['id']}"
    assert client.get(stale_url, headers={"If-None-Match": etag}).status_code == 404
    stale = client.patch(stale_url, json={"name": "lost update"}, headers={"If-Match": etag})
    assert stale.status_code == 404
    assert client.get(f"/lists/{new['id']}").json()["name"] == "a different list"


def test_a_deleted_accounts_id_never_reaches_the_next_account(database_url: str) -> None:
    """Another worker may hold the deleted account's token in its cache for a few seconds: the
    account registered next must not have the id that token acts as (tables.user_id_floor)."""
    settings = Settings(database_url=database_url, auth="required")
    with (
        TestClient(create_app(settings), base_url=API_BASE_URL) as worker,
        TestClient(create_app(settings), base_url=API_BASE_URL) as other_worker,
    ):
        ada = register_account(worker, "ada")
        ada_id = worker.get("/me", headers=ada.headers).json()["id"]
        assert other_worker.get("/todos", headers=ada.headers).status_code == 200  # cached there
        deleted = worker.request(
            "DELETE", "/me", json={"password": ACCOUNT_PASSWORD}, headers=ada.headers
        )
        assert deleted.status_code == 204

        bob = register_account(worker, "bob")
        assert worker.get("/me", headers=bob.headers).json()["id"] > ada_id
        created = worker.post("/todos", json={"title": "bob's own"}, headers=bob.headers)
        assert created.status_code == 201

        seen_with_adas_token = other_worker.get("/todos", headers=ada.headers)
        assert "bob's own" not in seen_with_adas_token.text
        # Still in that worker's cache, the token reaches no account: 401, not a 500.
        assert other_worker.get("/me", headers=ada.headers).status_code == 401


@pytest.mark.sqlite_only
def test_the_tables_whose_ids_clients_see_are_autoincrement(database_url: str) -> None:
    """tables.py and the migrated schema agree (autogenerate does not compare this)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        declared = {
            name
            for name, table in metadata.tables.items()
            if table.dialect_options["sqlite"]["autoincrement"]
        }
        migrated = {
            name
            for name, sql in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
            if "AUTOINCREMENT" in sql
        }
    engine.dispose()
    assert declared == migrated == {"lists", "todos"}


_MOMENT = dt.datetime(2026, 1, 1, 10, 0)
_NO_DUE = dt.datetime(9999, 12, 31)


def _fill_a_0009_database(connection: sa.Connection) -> dict[str, int]:
    """Lists, todos with tags in them (the newest todo and list deleted, as the feed says),
    an idempotency key; returns the ids the checks need."""
    inbox = connection.execute(
        sa.text("SELECT id FROM lists WHERE is_default AND owner_id = :owner"),
        {"owner": LOCAL_USER_ID},
    ).scalar_one()
    insert_list = sa.text(
        'INSERT INTO lists (owner_id, name, "order", is_default, version, created_at, updated_at)'
        " VALUES (:owner, :name, NULL, false, 1, :at, :at)"
    )
    list_id = "SELECT max(id) FROM lists"
    connection.execute(insert_list, {"owner": LOCAL_USER_ID, "name": "Work", "at": _MOMENT})
    work = connection.exec_driver_sql(list_id).scalar_one()
    connection.execute(insert_list, {"owner": LOCAL_USER_ID, "name": "Gone", "at": _MOMENT})
    gone_list = connection.exec_driver_sql(list_id).scalar_one()
    connection.execute(
        sa.text(
            "INSERT INTO todos (owner_id, title, description, completed, created_at, updated_at,"
            " list_id, priority, tags, version, order_key, due_key) VALUES (:owner, :title,"
            " :description, :completed, :at, :at, :list_id, 0, :tags, 1, 1e300, :due)"
        ),
        [
            {
                "owner": LOCAL_USER_ID,
                "title": f"todo {n} {'apple' if n % 3 == 0 else 'pear'}",
                "description": "ripe" if n % 5 == 0 else None,
                "completed": n % 2 == 0,
                "at": _MOMENT + dt.timedelta(seconds=n),
                "list_id": work if n % 4 == 0 else inbox,
                "tags": '["Red"]' if n % 7 == 0 else "[]",
                "due": _NO_DUE,
            }
            for n in range(1, TODOS + 1)
        ],
    )
    red = [row[0] for row in connection.exec_driver_sql("SELECT id FROM todos WHERE tags != '[]'")]
    connection.execute(
        sa.text(
            "INSERT INTO todo_tags (todo_id, tag_key, owner_id, name)"
            " VALUES (:id, 'red', :o, 'Red')"
        ),
        [{"id": todo_id, "o": LOCAL_USER_ID} for todo_id in red],
    )
    newest = connection.exec_driver_sql("SELECT max(id) FROM todos").scalar_one()
    connection.exec_driver_sql(f"DELETE FROM todos WHERE id = {newest}")  # noqa: S608
    connection.exec_driver_sql(f"DELETE FROM lists WHERE id = {gone_list}")  # noqa: S608
    connection.execute(
        sa.text(
            "INSERT INTO changes (owner_id, kind, entity_id, action, changed_at)"
            " VALUES (:owner, :kind, :id, 'deleted', :at)"
        ),
        [
            {"owner": LOCAL_USER_ID, "kind": "todo", "id": newest, "at": _MOMENT},
            {"owner": LOCAL_USER_ID, "kind": "list", "id": gone_list, "at": _MOMENT},
        ],
    )
    connection.execute(
        sa.text(
            "INSERT INTO idempotency_keys (owner_id, key, fingerprint, status, headers, body,"
            " created_at, expires_at) VALUES (:owner, 'k1', :f, 201, '[]', :body, :at, :at)"
        ),
        {"owner": LOCAL_USER_ID, "f": "0" * 64, "body": b'{"id": 1}', "at": _MOMENT},
    )
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ANALYZE")  # as an operator might have: statistics are kept
    return {"work": work, "deleted_todo": newest, "deleted_list": gone_list}


def _every_row(connection: sa.Connection) -> dict[str, Sequence[sa.Row[Any]]]:
    return {
        name: connection.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
        for name, table in metadata.tables.items()
        if sa.inspect(connection).has_table(name)  # the tables of the revision it is at
    }


def _sqlite_search_state(connection: sa.Connection) -> dict[str, Any]:
    """The full-text index, its queue, and every trigger and index, as SQLite holds them."""
    if connection.dialect.name != "sqlite":
        return {}
    query = connection.exec_driver_sql
    return {
        "apple": query("SELECT rowid FROM todos_fts WHERE todos_fts MATCH 'apple'").all(),
        "pending": query("SELECT todo_id FROM todos_fts_pending ORDER BY 1").all(),
        "schema": query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            " WHERE type IN ('trigger', 'index') ORDER BY name"
        ).all(),
        "statistics": query("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY 1, 2").all(),
    }


@pytest.mark.sqlite_only
def test_a_table_pointing_at_todos_that_0010_does_not_know_stops_it(
    empty_database_url: str,
) -> None:
    """Dropping the old todos table would cascade-delete such a table's rows: the upgrade fails
    instead, and changes nothing."""
    engine = create_engine(empty_database_url)
    command.upgrade(alembic_config(engine), BEFORE_IDS_KEPT)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE reminders (todo_id INTEGER REFERENCES todos (id) ON DELETE CASCADE)"
        )
    with pytest.raises(RuntimeError, match=r"rows of \['reminders'\]"):
        upgrade_to_head(engine)
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    engine.dispose()
    assert version == BEFORE_IDS_KEPT


def test_migrating_a_0009_database_keeps_every_row_reference_and_search_result(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    command.upgrade(alembic_config(engine), BEFORE_IDS_KEPT)
    with engine.begin() as connection:
        ids = _fill_a_0009_database(connection)
    with engine.connect() as connection:
        rows_before, search_before = _every_row(connection), _sqlite_search_state(connection)
    assert len(search_before.get("apple", [1])) > 0  # the index was not empty

    command.upgrade(alembic_config(engine), IDS_KEPT)

    with engine.connect() as connection:
        assert _every_row(connection) == rows_before
        assert _sqlite_search_state(connection) == search_before
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert connection.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]
            connection.exec_driver_sql(
                "INSERT INTO todos_fts(todos_fts, rank) VALUES ('integrity-check', 0)"
            )
    engine.dispose()
    todos_before = rows_before["todos"]
    apples = {row.id for row in todos_before if "apple" in row.title}
    reds = {row.id for row in todos_before if row.tags != "[]"}
    in_work = {row.id for row in todos_before if row.list_id == ids["work"]}
    with TestClient(
        create_app(Settings(database_url=empty_database_url, auth="disabled", rate_limit="off")),
        base_url=API_BASE_URL,
    ) as client:

        def found(**params: Any) -> set[int]:
            """The ids of every page of GET /todos with these filters."""
            ids_found: set[int] = set()
            response = client.get("/todos", params={**params, "limit": 200})
            while True:
                assert response.status_code == 200, response.text
                ids_found |= {todo["id"] for todo in response.json()}
                next_url = response.links.get("next", {}).get("url")
                if next_url is None:
                    return ids_found
                response = client.get(next_url)

        assert found(q="apple") == apples
        assert found(q="appl") == apples  # a prefix, through the index's terms
        assert found(tag="red") == reds
        assert found(list_id=ids["work"]) == in_work
        new_todo = post_created(client, "/todos", title="apple, new")
        new_list = post_created(client, "/lists", name="new")
        assert found(q="apple") == apples | {new_todo["id"]}
    assert new_todo["id"] > ids["deleted_todo"]
    assert new_list["id"] > ids["deleted_list"]

"""`todo-api copy-data`: a deployment moved SQLite → PostgreSQL → SQLite answers the same."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postgres_support import POSTGRES_SECRET_KEY, PostgresDatabases
from support import API_BASE_URL, TEMPLATE_AUTH, migrated_copy, post_created, run_in_process
from todo_api.app import create_app
from todo_api.config import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres: PostgresDatabases, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TODO_SECRET_KEY", POSTGRES_SECRET_KEY)
    url = postgres.create(migrated=False)  # copy-data migrates it
    yield url
    postgres.release(url, migrated=False)


def served(database_url: str) -> TestClient:
    return TestClient(
        create_app(Settings(database_url=database_url, rate_limit="off")),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    )


def everything(client: TestClient) -> dict[str, Any]:
    """What the API says of the whole deployment, ETags included."""
    todos = client.get("/todos", params={"limit": 200, "sort": "created_at"})
    return {
        "todos": todos.json(),
        "etags": [client.get(f"/todos/{todo['id']}").headers["etag"] for todo in todos.json()],
        "lists": client.get("/lists").json(),
        "tags": client.get("/tags").json(),
        "search": client.get("/todos", params={"q": "crème"}).json(),
    }


def fill(client: TestClient) -> None:
    work = post_created(client, "/lists", name="Work")
    for n in range(30):
        post_created(client, "/todos", title=f"todo {n}", tags=["a", f"t{n % 3}"], order=n)
    post_created(
        client,
        "/todos",
        title="Crème brûlée",
        list_id=work["id"],
        due_at="2026-12-24T18:00:00+01:00",
        priority=2,
    )
    post_created(client, "/todos", title="dated", due_date="2026-12-31", description="all day")
    assert client.patch("/todos/3", json={"completed": True}).status_code == 200
    assert client.patch("/todos/4", json={"title": "renamed"}).status_code == 200
    assert client.delete("/todos/5").status_code == 204
    keyed = client.post("/todos", json={"title": "keyed"}, headers={"Idempotency-Key": "k1"})
    assert keyed.status_code == 201


def test_a_copy_there_and_back_answers_the_same(
    pg_url: str,
    tmp_path: Path,
    migrated_template: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = migrated_copy(migrated_template, tmp_path / "source.db")
    with served(source) as client:
        fill(client)
        before = everything(client)

    result = run_in_process(capsys, monkeypatch, "copy-data", "--from", source, "--to", pg_url)
    assert result.returncode == 0, result.stderr
    assert "todos: 32 rows" in result.stderr
    with served(pg_url) as client:
        assert everything(client) == before
        replay = client.post("/todos", json={"title": "keyed"}, headers={"Idempotency-Key": "k1"})
        assert replay.headers["idempotent-replayed"] == "true"
        new = post_created(client, "/todos", title="after the copy")
        assert new["id"] > max(todo["id"] for todo in before["todos"])
        after_new = everything(client)

    back = f"sqlite:///{tmp_path / 'back.db'}"
    result = run_in_process(capsys, monkeypatch, "copy-data", "--from", pg_url, "--to", back)
    assert result.returncode == 0, result.stderr
    with served(back) as client:
        assert everything(client) == after_new


def test_a_target_with_data_is_refused_and_unchanged(
    postgres: PostgresDatabases,
    tmp_path: Path,
    migrated_template: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_SECRET_KEY", POSTGRES_SECRET_KEY)
    source = migrated_copy(migrated_template, tmp_path / "source.db")
    with served(source) as client:
        post_created(client, "/todos", title="from the source")
    target = postgres.create(migrated=True)  # holds the template account
    try:
        with served(target) as client:
            post_created(client, "/todos", title="already there")
        result = run_in_process(capsys, monkeypatch, "copy-data", "--from", source, "--to", target)
        assert result.returncode == 1
        assert "the target database is not empty" in result.stderr
        with served(target) as client:
            assert [todo["title"] for todo in client.get("/todos").json()] == ["already there"]
    finally:
        postgres.release(target, migrated=True)


def test_ids_handed_out_before_a_copy_are_not_handed_out_after_it(
    pg_url: str,
    tmp_path: Path,
    migrated_template: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The id of a deleted newest todo or list was seen by clients: the copy's sequences start
    after it, both ways, not after the largest id copied."""
    source = migrated_copy(migrated_template, tmp_path / "source.db")
    with served(source) as client:
        post_created(client, "/todos", title="kept")
        deleted_todo = post_created(client, "/todos", title="seen, then deleted")["id"]
        deleted_list = post_created(client, "/lists", name="seen, then deleted")["id"]
        assert client.delete(f"/todos/{deleted_todo}").status_code == 204
        assert client.delete(f"/lists/{deleted_list}").status_code == 204

    result = run_in_process(capsys, monkeypatch, "copy-data", "--from", source, "--to", pg_url)
    assert result.returncode == 0, result.stderr
    with served(pg_url) as client:
        assert post_created(client, "/todos", title="on PostgreSQL")["id"] > deleted_todo
        assert post_created(client, "/lists", name="on PostgreSQL")["id"] > deleted_list
        deleted_todo = post_created(client, "/todos", title="seen, then deleted")["id"]
        deleted_list = post_created(client, "/lists", name="seen, then deleted")["id"]
        assert client.delete(f"/todos/{deleted_todo}").status_code == 204
        assert client.delete(f"/lists/{deleted_list}").status_code == 204

    back = f"sqlite:///{tmp_path / 'back.db'}"
    result = run_in_process(capsys, monkeypatch, "copy-data", "--from", pg_url, "--to", back)
    assert result.returncode == 0, result.stderr
    with served(back) as client:
        assert post_created(client, "/todos", title="on SQLite again")["id"] > deleted_todo
        assert post_created(client, "/lists", name="on SQLite again")["id"] > deleted_list

"""`todo-api backup` and `todo-api restore`: a consistent copy while serving, a checked restore."""

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support import API_BASE_URL, TEMPLATE_AUTH, post_created, run_in_process
from todo_api.app import create_app
from todo_api.config import Settings

pytestmark = pytest.mark.sqlite_only  # SQLite's online backup and restore of the file


def exported(database_url: str) -> list[str]:
    with TestClient(
        create_app(Settings(database_url=database_url)),
        base_url=API_BASE_URL,
        headers=TEMPLATE_AUTH,
    ) as client:
        return [todo["title"] for todo in client.get("/export").json()["todos"]]


def test_a_backup_taken_while_serving_restores_the_same_data(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for title in ("one", "two", "three"):
        post_created(client, "/todos", title=title)
    backup_file = tmp_path / "backups" / "todo.db"
    backup_file.parent.mkdir()
    taken = run_in_process(
        capsys, monkeypatch, "backup", str(backup_file), env={"TODO_DATABASE_URL": database_url}
    )
    assert (taken.returncode, taken.stderr) == (0, f"backed up to {backup_file}\n")
    post_created(client, "/todos", title="after the backup")
    assert sorted(p.name for p in backup_file.parent.iterdir()) == ["todo.db"]  # nothing beside
    restored_url = f"sqlite:///{tmp_path / 'restored' / 'todo.db'}"
    restored = run_in_process(
        capsys, monkeypatch, "restore", str(backup_file), env={"TODO_DATABASE_URL": restored_url}
    )
    assert restored.returncode == 0, restored.stderr
    assert exported(restored_url) == ["one", "two", "three"]


def test_restore_refuses_to_replace_a_database_without_force(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"TODO_DATABASE_URL": database_url}
    backup_file = tmp_path / "empty.db"
    assert run_in_process(capsys, monkeypatch, "backup", str(backup_file), env=env).returncode == 0
    post_created(client, "/todos", title="kept")
    refused = run_in_process(capsys, monkeypatch, "restore", str(backup_file), env=env)
    assert refused.returncode == 1
    assert "add --force" in refused.stderr
    assert exported(database_url) == ["kept"]
    forced = run_in_process(capsys, monkeypatch, "restore", "--force", str(backup_file), env=env)
    assert forced.returncode == 0, forced.stderr
    assert exported(database_url) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not a database at all", "is not a usable SQLite database"),
        ("another sqlite database", "is an SQLite database, but not todo-api's"),
        ("a damaged todo-api database", "is not a usable SQLite database"),
    ],
)
def test_restore_checks_the_backup_first_and_changes_nothing(
    client: TestClient,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    message: str,
) -> None:
    env = {"TODO_DATABASE_URL": database_url}
    post_created(client, "/todos", title="kept")
    bad = tmp_path / "bad.db"
    if content == "not a database at all":
        bad.write_text("hello")
    elif content == "another sqlite database":
        with sqlite3.connect(bad) as other:
            other.execute("CREATE TABLE notes (body TEXT)")
        other.close()
    else:
        assert run_in_process(capsys, monkeypatch, "backup", str(bad), env=env).returncode == 0
        data = bytearray(bad.read_bytes())
        data[:16] = b"\0" * 16  # the header: SQLite no longer recognises the file
        bad.write_bytes(bytes(data))
    result = run_in_process(capsys, monkeypatch, "restore", "--force", str(bad), env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert exported(database_url) == ["kept"]


def test_restore_of_a_missing_file_is_an_error(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"TODO_DATABASE_URL": database_url}
    result = run_in_process(capsys, monkeypatch, "restore", "/nonexistent/backup.db", env=env)
    assert (result.returncode, result.stderr) == (
        1,
        "todo-api: there is no backup at /nonexistent/backup.db\n",
    )

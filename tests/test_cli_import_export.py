"""`todo-api export` and `todo-api import` against database files.

The pipeline through stdout and stdin runs real processes (marked slow); the other checks call
the command's `main` in this process, which runs the same code without starting interpreters.
"""

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from support import (
    API_BASE_URL,
    CommandResult,
    migrated_copy,
    register_account,
    run_in_process,
    todo_api_command,
)
from todo_api.app import create_app
from todo_api.config import Settings


class Command(Protocol):
    def __call__(self, database: Path, *args: str) -> CommandResult: ...


@pytest.fixture
def todo_api(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Command:
    """`todo-api ARGS` on `database`, called in this process (support.run_in_process)."""

    def command(database: Path, *args: str) -> CommandResult:
        env = {"TODO_DATABASE_URL": f"sqlite:///{database}"}
        return run_in_process(capsys, monkeypatch, *args, env=env)

    return command


def run(
    database: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        todo_api_command(*args),
        input=stdin,
        capture_output=True,
        env={**os.environ, "TODO_DATABASE_URL": f"sqlite:///{database}"},
        timeout=60,
        check=False,
    )


def client_of(database: Path) -> TestClient:
    # The CLI works on the local user's data; without credentials the API shows the same.
    return TestClient(
        create_app(Settings(database_url=f"sqlite:///{database}", auth="disabled")),
        base_url=API_BASE_URL,
    )


def seeded(template: Path, database: Path) -> Path:
    """`database`, a copy of the migrated template, with two lists and 30 varied todos."""
    migrated_copy(template, database)
    with client_of(database) as client:
        work = client.post("/lists", json={"name": "Work", "order": 1}).json()
        for n in range(30):
            fields: dict[str, Any] = {"title": f"todo {n}", "tags": ["Bulk", f"t{n % 3}"]}
            if n % 2:
                fields |= {"list_id": work["id"], "due_at": "2026-12-01T09:30:00-04:00"}
            elif n % 5 == 0:
                fields |= {"completed": True, "priority": 2, "due_date": "2026-01-31"}
            assert client.post("/todos", json=fields).status_code == 201
    return database


@pytest.fixture
def source(migrated_template: Path, tmp_path: Path) -> Path:
    return seeded(migrated_template, tmp_path / "a.db")


def exported(database: Path) -> dict[str, Any]:
    with client_of(database) as client:
        body: dict[str, Any] = client.get("/export").json()
    return {**body, "exported_at": None}


def todo_count(database: Path) -> int:
    with client_of(database) as client:
        return len(client.get("/todos", params={"limit": 200}).json())


@pytest.mark.parametrize("command", ["export", "import"])
def test_help(todo_api: Command, tmp_path: Path, command: str) -> None:
    result = todo_api(tmp_path / "todo.db", command, "--help")
    assert result.returncode == 0
    assert f"todo-api {command}" in result.stdout
    assert "--format" in result.stdout


def test_json_round_trip_between_two_databases(
    todo_api: Command, source: Path, tmp_path: Path
) -> None:
    target, file = tmp_path / "b.db", tmp_path / "export.json"

    export = todo_api(source, "export", str(file))
    assert export.returncode == 0, export.stderr
    imported = todo_api(target, "import", str(file))  # a fresh database: migrated first

    assert imported.returncode == 0, imported.stderr
    assert "30 todo(s)" in imported.stdout
    assert exported(target) == exported(source)


@pytest.mark.slow  # two processes: the document goes through a real pipe
def test_standard_streams_and_calendar_format(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "b.db"

    export = run(source, "export", "--format", "ics", "-")
    assert export.returncode == 0, export.stderr
    assert export.stdout.startswith(b"BEGIN:VCALENDAR")
    assert export.stdout.count(b"BEGIN:VTODO") == 30
    imported = run(target, "import", "--format", "ics", "-", stdin=export.stdout)
    assert imported.returncode == 0, imported.stderr
    assert todo_count(target) == 30


def test_format_follows_the_extension(todo_api: Command, source: Path, tmp_path: Path) -> None:
    assert todo_api(source, "export", str(tmp_path / "todos.ics")).returncode == 0
    assert (tmp_path / "todos.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    assert todo_api(source, "export", "-q", str(tmp_path / "todos.json")).returncode == 0
    assert (tmp_path / "todos.json").read_bytes().startswith(b"{")


def test_an_invalid_file_exits_1_and_writes_nothing(
    todo_api: Command, source: Path, migrated_template: Path, tmp_path: Path
) -> None:
    file = tmp_path / "export.json"
    assert todo_api(source, "export", str(file)).returncode == 0
    text = file.read_text()
    file.write_text(text.replace('"title": "todo 17"', '"title": ""', 1))
    target = seeded(migrated_template, tmp_path / "b.db")
    before = exported(target)

    result = todo_api(target, "import", str(file))

    assert result.returncode == 1
    assert "nothing was imported" in result.stderr
    assert "todos.17.title" in result.stderr
    assert exported(target) == before


def test_an_invalid_file_does_not_create_the_database(todo_api: Command, tmp_path: Path) -> None:
    file = tmp_path / "todos.ics"
    file.write_text("not a calendar")
    result = todo_api(tmp_path / "new.db", "import", str(file))
    assert result.returncode == 1
    assert "not an iCalendar calendar" in result.stderr
    assert not (tmp_path / "new.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.json"], "cannot read"),
        (["import", "--format", "xml", "x.json"], "invalid choice: 'xml'"),
        (["import"], "the following arguments are required: FILE"),
    ],
)
def test_usage_errors_exit_2(
    todo_api: Command, tmp_path: Path, args: list[str], message: str
) -> None:
    result = todo_api(tmp_path / "todo.db", *[str(tmp_path / a) if "." in a else a for a in args])
    assert result.returncode == 2
    assert message in result.stderr


def test_export_and_import_work_on_the_account_user_names(
    todo_api: Command, source: Path, tmp_path: Path
) -> None:
    """--user NAME picks whose data: another account's todos are neither exported nor touched."""
    with TestClient(
        create_app(Settings(database_url=f"sqlite:///{source}")), base_url=API_BASE_URL
    ) as api:
        ada = register_account(api, "ada")
        assert (
            api.post("/todos", json={"title": "ada's only"}, headers=ada.headers).status_code == 201
        )
    file = tmp_path / "ada.json"

    export = todo_api(source, "export", "--user", "ADA", str(file))
    assert export.returncode == 0, export.stderr
    assert "the lists and todos of ada" in export.stderr
    titles = [todo["title"] for todo in json.loads(file.read_text())["todos"]]
    assert titles == ["ada's only"]

    imported = todo_api(source, "import", "--user", "ada", str(file))
    assert imported.returncode == 0, imported.stderr
    assert todo_count(source) == 30  # the local user's todos: unchanged
    with TestClient(
        create_app(Settings(database_url=f"sqlite:///{source}")), base_url=API_BASE_URL
    ) as api:
        mine = api.get("/todos", headers=ada.headers).json()
    assert [todo["title"] for todo in mine] == ["ada's only", "ada's only"]


def test_an_unknown_user_exits_2_and_changes_nothing(
    todo_api: Command, source: Path, tmp_path: Path
) -> None:
    file = tmp_path / "export.json"
    assert todo_api(source, "export", str(file)).returncode == 0
    for command in ("export", "import"):
        result = todo_api(source, command, "--user", "nobody", str(file))
        assert result.returncode == 2
        assert "there is no a user 'nobody'" not in result.stderr
        assert "there is no user 'nobody'" in result.stderr
    assert todo_count(source) == 30

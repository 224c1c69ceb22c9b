"""Faults of the database file get a clear answer, and nothing acknowledged is lost to them.

Each test runs the real server (or the real CLI) on a real file: a file that is not a database,
a read-only file, the file deleted under a running server, a full disk (a small tmpfs); the
deleted file also in-process, on each path a write takes (inline, and the writer thread).
"""

import contextlib
import datetime as dt
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from support import missing_part, post_created, todo_api_command, todo_api_server
from todo_api.db import SqliteDatabase
from todo_api.errors import DatabaseFileReplaced
from todo_api.repository import todos as todos_repository
from todo_api.tables import LOCAL_USER_ID

PROBLEM = "application/problem+json"


def run_cli(
    *args: str, database: Path, user: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = todo_api_command(*args)
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    env = {**os.environ, "TODO_DATABASE_URL": f"sqlite:///{database}", "TODO_PORT": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow  # runs the command as a process (serve must not start)
def test_a_file_that_is_not_a_database_stops_serve_with_one_line(tmp_path: Path) -> None:
    database = tmp_path / "todo.db"
    database.write_text("these are my notes, not a database\n" * 100)
    for command in ("serve", "migrate"):
        result = run_cli(command, database=database)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            f"todo-api: {database} is not a usable SQLite database (file is not a database); "
            "restore it from a backup or point TODO_DATABASE_URL at another file"
        ]
    assert database.read_text().startswith("these are my notes")  # left as it was


@pytest.mark.slow  # runs the command as a process (serve must not start)
def test_a_read_only_database_file_stops_serve_with_one_line() -> None:
    if os.getuid() != 0 or shutil.which("runuser") is None:
        missing_part("needs root and runuser to run the server as another user")
    nobody = pwd.getpwnam("nobody")
    # Outside pytest's own folders, which only root may enter. The directory is writable by
    # everyone: only the file is read-only.
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o777)
        database = Path(folder) / "todo.db"
        assert run_cli("migrate", database=database).returncode == 0
        database.chmod(0o444)
        result = run_cli("serve", database=database, user="nobody")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"todo-api: {database} is read-only for uid {nobody.pw_uid}; todo-api must write to it "
        "(and to its -wal and -shm files): fix the file's permissions or the volume's mount "
        "options"
    ]


@pytest.mark.anyio
@pytest.mark.sqlite_only  # the file's faults
async def test_a_write_after_the_file_was_deleted_is_refused_and_creates_no_new_file(
    tmp_path: Path, database_url: str
) -> None:
    """In-process: the check comes before a connection is opened, on the loop or the writer
    thread, since opening the path would create a new, empty database there."""
    database = SqliteDatabase(database_url)  # tmp_path / "todo.db", at head
    try:
        assert await database.write(create_todo) == 1
        for name in ("todo.db", "todo.db-wal", "todo.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        with pytest.raises(DatabaseFileReplaced, match="was deleted"):
            await database.write(create_todo)
        # Long work goes to the writer thread, which opens its first connection only now.
        with pytest.raises(DatabaseFileReplaced, match="was deleted"):
            await database.write(create_todo, long=True)
        assert not (tmp_path / "todo.db").exists()
    finally:
        database.close()


@pytest.mark.anyio
@pytest.mark.sqlite_only  # the file's faults
async def test_a_write_after_the_write_ahead_log_was_deleted_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    """Acknowledged commits live in `-wal` until a checkpoint: with the log deleted, SQLite
    would go on appending to the unlinked one, and every write since the last checkpoint would
    vanish at the next start (as the whole file's deletion would)."""
    database = SqliteDatabase(database_url)
    try:
        for _write in range(3):
            assert await database.write(create_todo) > 0
        assert (tmp_path / "todo.db-wal").exists()
        (tmp_path / "todo.db-wal").unlink()
        with pytest.raises(DatabaseFileReplaced, match=r"write-ahead log \(-wal\) was deleted"):
            await database.write(create_todo)
        reason = await database.not_ready_because(lambda _connection: True)
        assert reason == "The database's write-ahead log (-wal) was deleted; nothing was changed."
        # A read the lost log breaks says so too (not a 500 for a missing table).
        with pytest.raises(DatabaseFileReplaced, match="write-ahead log"):
            await database.read(lambda connection: connection.exec_driver_sql("SELECT * FROM nope"))
    finally:
        database.close()


def create_todo(connection: sa.Connection) -> int:
    now = dt.datetime.now(dt.UTC)
    return todos_repository.create_todo(connection, LOCAL_USER_ID, {"title": "x"}, now).id


@pytest.mark.slow
@pytest.mark.chaos
def test_a_database_deleted_under_the_server_refuses_writes_and_is_not_ready(
    tmp_path: Path,
) -> None:
    with todo_api_server(tmp_path) as server, httpx.Client(base_url=server.base_url) as client:
        post_created(client, "/todos", title="before")
        assert client.get("/ready").status_code == 200
        for name in ("todo.db", "todo.db-wal", "todo.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)

        refused = client.post("/todos", json={"title": "into the void"})
        assert refused.status_code == 503
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["type"] == "urn:todo-api:problem:database-file-replaced"
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["detail"] == "The database file was deleted; nothing was changed."
        assert client.get("/health").status_code == 200
        assert "the database file" in server.output()
        assert "was deleted while the service ran" in server.output()


@contextlib.contextmanager
def small_file_system(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` for the duration."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        missing_part(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(path: Path) -> None:
    """Write to `path` until the file system has no space left."""
    with path.open("wb", buffering=0) as filler:
        for chunk in (65536, 1):  # then the last bytes a 64 KiB write could not take
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * chunk)


@pytest.mark.slow
@pytest.mark.chaos
def test_a_full_disk_is_a_507_problem_and_the_service_recovers(tmp_path: Path) -> None:
    with (
        small_file_system(tmp_path / "disk", "4m") as disk,
        todo_api_server(disk) as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        kept = post_created(client, "/todos", title="written before the disk filled")
        fill(disk / "filler")
        assert client.get("/ready").status_code == 503
        statuses = []
        # A few writes may still fit in pages SQLite holds already; the disk runs out within a
        # bounded number of them.
        for n in range(2000):
            response = client.post("/todos", json={"title": f"todo {n} " + "x" * 400})
            statuses.append(response.status_code)
            if response.status_code != 201:
                break
        assert statuses[-1] == 507, statuses[-5:]
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:todo-api:problem:storage-full"
        assert "Traceback" not in server.output()
        acknowledged = statuses.count(201)

        (disk / "filler").unlink()
        assert client.get("/ready").status_code == 200
        post_created(client, "/todos", title="after space returned")
        titles = [todo["title"] for todo in client.get("/todos", params={"limit": 200}).json()]
        assert kept["title"] in titles
        assert "after space returned" in titles
        assert len(titles) == acknowledged + 2

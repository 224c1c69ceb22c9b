"""Backups of the SQLite database: SQLite's online backup API, both ways.

`backup` copies a consistent state of the file while the server runs (the copy reads in one
transaction; writers go on). `restore` first checks the copy (PRAGMA integrity_check, and that
it is a todo-api database), then copies it into place in one transaction. Restore while the
service is stopped: a running server would keep answering from what it has read, and
db_faults.DatabaseFile only notices a file *replaced* under it, not one rewritten in place.
"""

import sqlite3
from contextlib import closing
from pathlib import Path

from todo_api.db_faults import DatabaseUnusable, create_private_file, sqlite_path

PAGES_PER_STEP = 1024  # copied per step, so a backup never holds the read lock for long
MIGRATIONS_TABLE = "alembic_version"  # every todo-api database has it


class BackupError(DatabaseUnusable):
    """A backup or restore that cannot be done, and why (the command prints it in one line)."""


def backup(database_url: str, target: Path) -> None:
    """Copy the database to `target`, written beside it and renamed once complete and checked."""
    source = _database_file(database_url)
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up")
    partial = target.with_name(f"{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        create_private_file(partial)  # a backup holds the password and token hashes too
        with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(partial)) as copy:
            origin.backup(copy, pages=PAGES_PER_STEP)
            # One self-contained file (no -wal beside it) to copy, store and restore.
            copy.execute("PRAGMA journal_mode=DELETE")
        verify(partial)
        partial.replace(target)
    except OSError as error:
        raise BackupError(f"cannot write {target}: {error.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def restore(database_url: str, source: Path, *, force: bool) -> None:
    """Replace the database's content with the backup at `source`, once it is verified."""
    if not source.is_file():
        raise BackupError(f"there is no backup at {source}")
    verify(source)
    target = _database_file(database_url)
    if target.exists() and target.stat().st_size > 0 and not force:
        raise BackupError(
            f"{target} exists; restoring replaces everything in it: add --force to do so "
            "(with the service stopped)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    create_private_file(target)
    with closing(_read_only(source)) as origin, closing(sqlite3.connect(target)) as database:
        # Into the open database, in one transaction: its WAL and readers stay consistent.
        origin.backup(database, pages=PAGES_PER_STEP)


def verify(path: Path) -> None:
    """Raise BackupError unless `path` is an intact todo-api database."""
    try:
        with closing(_read_only(path)) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            migrated = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (MIGRATIONS_TABLE,),
            ).fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a usable SQLite database: {error}") from None
    if problems != ["ok"]:
        raise BackupError(f"{path} fails the integrity check: {'; '.join(problems[:3])}")
    if migrated is None:
        raise BackupError(f"{path} is an SQLite database, but not todo-api's")


def _database_file(database_url: str) -> Path:
    path = sqlite_path(database_url)
    if path is None:
        if not database_url.startswith("sqlite"):
            raise BackupError(
                "backup and restore are SQLite's; for PostgreSQL use pg_dump and pg_restore "
                "(docs/postgresql.md)"
            )
        raise BackupError("an in-memory database has nothing to back up or restore")
    return path


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

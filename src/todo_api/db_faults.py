"""What can go wrong with the SQLite file, detected and named so that each gets a clear answer.

- At start-up: a file that is not a database, is read-only, or cannot be opened stops `serve`
  and `migrate` with one line saying so (`check_usable`), never a traceback; so does a
  PostgreSQL server that cannot be reached.
- While serving: a lock held too long by another process (503, retry), a full disk (507), and
  the file deleted or replaced under the running process (503 until restart: SQLite would go on
  writing into the unlinked file, and those writes would vanish at the next start).
"""

import contextlib
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from todo_api.db_postgres import is_postgres_url, unreachable_because
from todo_api.errors import DatabaseBusy, DatabaseFileReplaced, StorageFull
from todo_api.logs import LOGGER_NAME

# Below this much free space beside the database, /ready says the disk is full: a write needs
# room for its pages in the WAL, and a checkpoint room to copy them.
MIN_FREE_BYTES = 1024 * 1024

error_logger = logging.getLogger(f"{LOGGER_NAME}.error")


class DatabaseUnusable(Exception):
    """The database cannot be used at all; the message says why in one line for an operator."""


def translated(error: Exception) -> Exception:
    """The AppError a driver failure means for a client, or the error itself when unexpected."""
    message = str(getattr(error, "orig", None) or error)
    if "database is locked" in message or "database is busy" in message:
        return DatabaseBusy()
    if "database or disk is full" in message:
        return StorageFull()
    return error


def check_usable(database_url: str) -> None:
    """Open the database and take its write lock once; DatabaseUnusable says what is wrong.

    (PostgreSQL: connect once.)
    """
    if is_postgres_url(database_url):
        if reason := unreachable_because(database_url):
            raise DatabaseUnusable(reason)
        return
    path = sqlite_path(database_url)
    if path is None:
        return
    if path.is_dir():
        raise DatabaseUnusable(f"{path} is a directory, not a database file")
    try:
        connection = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise DatabaseUnusable(f"cannot open {path}: {error}") from None
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]  # reads the header
        # A write that changes nothing: in WAL mode only a real write finds a read-only file.
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(f"PRAGMA user_version = {int(version)}")
        connection.execute("ROLLBACK")
    except sqlite3.Error as error:
        raise DatabaseUnusable(_start_up_message(path, str(error))) from None
    finally:
        connection.close()


def _start_up_message(path: Path, message: str) -> str:
    if "not a database" in message or "malformed" in message:
        return (
            f"{path} is not a usable SQLite database ({message}); restore it from a backup or "
            "point TODO_DATABASE_URL at another file"
        )
    if "readonly" in message or "read-only" in message:
        return (
            f"{path} is read-only for uid {os.getuid()}; todo-api must write to it (and to its "
            "-wal and -shm files): fix the file's permissions or the volume's mount options"
        )
    if "locked" in message:
        return f"{path} is locked by another process that did not let go; is one stuck?"
    return f"cannot use {path}: {message}"


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists, before SQLite creates it with the
    umask's mode (0644, usually): the database holds password and token hashes, readable by
    the service's user only. SQLite gives its -wal and -shm files the database file's mode.
    An existing file keeps its mode (docs/security.md)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlite_path(database_url: str) -> Path | None:
    """The file behind an SQLite URL, or None for an in-memory database or another database."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    path = url.database
    return Path(path) if path and path != ":memory:" else None


WAL = "-wal"


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


class DatabaseFile:
    """The file the process opened, and its write-ahead log, so that either one deleted or
    replaced is noticed.

    The log matters as much as the file: acknowledged commits live in `-wal` until a checkpoint
    copies them over, so a deleted `-wal` takes them along (and SQLite goes on appending to the
    unlinked one). While this process holds its connections open, SQLite never removes the log
    itself (only the last connection to close does), so its identity is stable until shutdown;
    it is noted the first time it is seen, as it appears with the first read or write."""

    def __init__(self, database_url: str) -> None:
        self.path = sqlite_path(database_url)
        self.log_path = None if self.path is None else self.path.with_name(self.path.name + WAL)
        self._identity: tuple[int, int] | None = None
        self._log_identity: tuple[int, int] | None = None
        self._reported = False

    def remember(self) -> None:
        """Note which file is open now (call once it exists: after the first connection)."""
        if self.path is not None:
            self._identity = _identity(self.path)

    def check(self) -> None:
        """Raise DatabaseFileReplaced when the path no longer names the file that is open, or
        the log seen before is gone or another file."""
        if self.path is None or self._identity is None:
            return
        identity = _identity(self.path)
        if identity is None:
            self._replaced("The database file was", "deleted")
        elif identity != self._identity:
            self._replaced("The database file was", "replaced by another file")
        assert self.log_path is not None
        log = _identity(self.log_path)
        if self._log_identity is None:
            self._log_identity = log
        elif log is None:
            self._replaced("The database's write-ahead log (-wal) was", "deleted")
        elif log != self._log_identity:
            self._replaced("The database's write-ahead log (-wal) was", "replaced by another file")

    def free_bytes(self) -> int | None:
        """Free space on the database's file system (None for an in-memory database)."""
        return None if self.path is None else shutil.disk_usage(self.path.parent).free

    def _replaced(self, subject: str, what: str) -> None:
        if not self._reported:
            self._reported = True
            error_logger.critical(
                "%s %s while the service ran (the database file: %s); writes are refused and "
                "/ready answers 503 until the service restarts with the right file",
                subject,
                what,
                self.path,
            )
        raise DatabaseFileReplaced(f"{subject} {what}; nothing was changed.")

"""The service's secret key (TODO_SECRET_KEY): configured, or made once and kept beside the
database, so that cursors stay valid across restarts.

Several replicas (or hosts) must share one key — set TODO_SECRET_KEY or TODO_SECRET_KEY_FILE —
or a cursor made by one is refused by the others. Workers of one server share the generated
file. Config refuses short and placeholder keys (config.py).
"""

import os
import secrets
from pathlib import Path

from todo_api.config import Settings
from todo_api.db_faults import sqlite_path

KEY_FILE_NAME = "secret_key"
_GENERATED_KEY_BYTES = 48


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    if not settings.database_url.startswith("sqlite"):
        # A server database (PostgreSQL) has no directory of ours to keep a key in, and its
        # replicas must share one: the operator sets it.
        raise RuntimeError(
            "set TODO_SECRET_KEY or TODO_SECRET_KEY_FILE: with a server database every replica "
            "must sign cursors with the same key"
        )
    path = sqlite_path(settings.database_url)
    if path is None:  # an in-memory database: a key for this process only
        return secrets.token_bytes(_GENERATED_KEY_BYTES)
    return _kept_key(path.parent / KEY_FILE_NAME)


def _kept_key(path: Path) -> bytes:
    """The key in `path`, written first if there is none. O_EXCL: of several workers starting
    together exactly one writes it; the others read what it wrote."""
    generated = secrets.token_urlsafe(_GENERATED_KEY_BYTES).encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(generated)
    return generated


def _read_when_written(path: Path) -> bytes:
    # The writer creates the file empty, then fills it; an empty read means "not yet".
    for _ in range(1000):
        key = path.read_bytes().strip()
        if key:
            return key
        os.sched_yield()
    raise RuntimeError(f"{path} stays empty; delete it to have a new key generated")

"""SQL for the full-text index's queue (SQLite): new todos wait in it until a search needs them.

Migration 0004 made inserts queue a todo's id in `todos_fts_pending` instead of indexing it at
once (its docstring has the measurements). The running code owns its own copy of the statement
that empties the queue into `todos_fts`: a migration is frozen history, never imported.
"""

from sqlalchemy.engine import Connection

# The same statement migration 0004's catch-up trigger runs every 1024th insert.
_INDEX_PENDING = """INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos
        WHERE id IN (SELECT todo_id FROM todos_fts_pending)"""
_CLEAR_PENDING = "DELETE FROM todos_fts_pending"
_ANY_PENDING = "SELECT EXISTS (SELECT 1 FROM todos_fts_pending)"


def search_index_is_behind(connection: Connection) -> bool:
    """Whether todos wait to be indexed (SQLite): a plain read, so a search can skip the lock."""
    if connection.dialect.name != "sqlite":
        return False
    driver = connection.connection.driver_connection
    assert driver is not None
    return bool(driver.execute(_ANY_PENDING).fetchone()[0])


def index_pending_search(connection: Connection) -> None:
    """Add the todos queued since the index last caught up to the full-text index (SQLite).

    Run this in the write transaction before a query that filters on `q`, so the search sees
    every todo committed before it.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(_INDEX_PENDING)
    driver.execute(_CLEAR_PENDING)

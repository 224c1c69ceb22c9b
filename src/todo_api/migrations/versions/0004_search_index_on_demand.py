"""Index new todos for search when a search needs them, not on every insert.

The FTS5 insert trigger was the largest single cost of `POST /todos` (~40-70 µs of SQLite
work per todo). A new todo's id now goes into `todos_fts_pending` instead (~20 µs), and the
running code (repository/search_index.py) moves the pending todos into `todos_fts` in the write
transaction before any query that searches: search results stay exact.

Indexing in bulk is also far cheaper: ~1.5 µs a todo from the queue against 17-35 µs at
insert (FTS5 merges a whole statement's terms at once). So that the queue, and the first
search's wait, stay small, every 1024th todo inserted indexes the queue (~1.5 ms).

Updates and deletes of todos already in the index keep it current as before; a pending todo
is not in the index, so for it they only touch the queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Triggers are dropped with the table when a later migration rebuilds `todos` in batch mode:
# such a migration must recreate these (and bench/scale.py recreates the insert one).
INDEX_PENDING = """INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos
        WHERE id IN (SELECT todo_id FROM todos_fts_pending)"""
# Ids are handed out in order: every 1024th todo indexes the queue and itself instead of
# queueing itself. The two conditions exclude each other, so the triggers' order (which
# SQLite leaves unspecified) does not matter.
INSERT_TRIGGER = """CREATE TRIGGER todos_fts_insert AFTER INSERT ON todos
    WHEN new.id % 1024 != 0 BEGIN
        INSERT INTO todos_fts_pending(todo_id) VALUES (new.id);
    END"""
_CATCH_UP_TRIGGER = f"""CREATE TRIGGER todos_fts_catch_up AFTER INSERT ON todos
    WHEN new.id % 1024 = 0 BEGIN
        {INDEX_PENDING};
        INSERT INTO todos_fts(rowid, title, description)
        VALUES (new.id, new.title, coalesce(new.description, ''));
        DELETE FROM todos_fts_pending;
    END"""  # noqa: S608 (a constant formatted in)
SQLITE_SEARCH_ON_DEMAND = [
    "CREATE TABLE todos_fts_pending (todo_id INTEGER NOT NULL PRIMARY KEY)",
    "DROP TRIGGER todos_fts_insert",
    "DROP TRIGGER todos_fts_delete",
    "DROP TRIGGER todos_fts_update",
    INSERT_TRIGGER,
    _CATCH_UP_TRIGGER,
    # A pending todo is not in the index yet: only its queue entry goes.
    """CREATE TRIGGER todos_fts_delete AFTER DELETE ON todos BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, title, description)
        SELECT 'delete', old.id, old.title, coalesce(old.description, '')
        WHERE NOT EXISTS (SELECT 1 FROM todos_fts_pending WHERE todo_id = old.id);
        DELETE FROM todos_fts_pending WHERE todo_id = old.id;
    END""",
    """CREATE TRIGGER todos_fts_update AFTER UPDATE OF title, description ON todos
    WHEN NOT EXISTS (SELECT 1 FROM todos_fts_pending WHERE todo_id = old.id) BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, coalesce(old.description, ''));
        INSERT INTO todos_fts(rowid, title, description)
        VALUES (new.id, new.title, coalesce(new.description, ''));
    END""",
]

# Back to migration 0002's triggers, which index every change at once (copied: migrations import
# nothing, not even each other).
_AT_ONCE_TRIGGERS = [
    """CREATE TRIGGER todos_fts_insert AFTER INSERT ON todos BEGIN
        INSERT INTO todos_fts(rowid, title, description)
        VALUES (new.id, new.title, coalesce(new.description, ''));
    END""",
    """CREATE TRIGGER todos_fts_delete AFTER DELETE ON todos BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, coalesce(old.description, ''));
    END""",
    """CREATE TRIGGER todos_fts_update AFTER UPDATE OF title, description ON todos BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, title, description)
        VALUES ('delete', old.id, old.title, coalesce(old.description, ''));
        INSERT INTO todos_fts(rowid, title, description)
        VALUES (new.id, new.title, coalesce(new.description, ''));
    END""",
]
SQLITE_SEARCH_AT_ONCE = [
    INDEX_PENDING,
    "DROP TRIGGER todos_fts_catch_up",
    "DROP TRIGGER todos_fts_insert",
    "DROP TRIGGER todos_fts_delete",
    "DROP TRIGGER todos_fts_update",
    "DROP TABLE todos_fts_pending",
    *_AT_ONCE_TRIGGERS,
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_ON_DEMAND:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_AT_ONCE:
            op.execute(statement)

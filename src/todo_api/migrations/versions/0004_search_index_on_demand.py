"""Index new todos for search when a search needs them, not on every insert.

The FTS5 insert trigger was the largest single cost of `POST /todos` (~40-70 µs of SQLite
work per todo). A new todo's id now goes into `todos_fts_pending` instead (~20 µs), and
`repository.todos.index_pending_search` moves the pending todos into `todos_fts` in the write
transaction before any query that searches: search results stay exact.

Updates and deletes of todos already in the index keep it current as before; a pending todo
is not in the index, so for it they only touch the queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import importlib

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Triggers are dropped with the table when a later migration rebuilds `todos` in batch mode:
# such a migration must recreate these (and bench/scale.py recreates the insert one).
INSERT_TRIGGER = """CREATE TRIGGER todos_fts_insert AFTER INSERT ON todos BEGIN
        INSERT INTO todos_fts_pending(todo_id) VALUES (new.id);
    END"""
SQLITE_SEARCH_ON_DEMAND = [
    "CREATE TABLE todos_fts_pending (todo_id INTEGER NOT NULL PRIMARY KEY)",
    "DROP TRIGGER todos_fts_insert",
    "DROP TRIGGER todos_fts_delete",
    "DROP TRIGGER todos_fts_update",
    INSERT_TRIGGER,
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

# Back to migration 0002's triggers, which index every change at once.
_AT_ONCE_TRIGGERS = [
    statement
    for statement in importlib.import_module(
        "todo_api.migrations.versions.0002_lists_tags_due_versions"
    ).SQLITE_FTS
    if statement.startswith("CREATE TRIGGER")
]
SQLITE_SEARCH_AT_ONCE = [
    """INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos
        WHERE id IN (SELECT todo_id FROM todos_fts_pending)""",
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

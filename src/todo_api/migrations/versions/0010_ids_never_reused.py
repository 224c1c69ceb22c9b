"""SQLite never hands a todo's or a list's id to another row: `AUTOINCREMENT`.

Before, `id INTEGER PRIMARY KEY` took max(rowid) + 1: once the newest todo was deleted, the next
one got its id. Versions start at 1 and the ETag is the version, so a client still holding the
deleted todo's `"1"` got 304 for a different todo, and its stale `If-Match: "1"` changed a todo
it had never seen (a lost update). PostgreSQL's sequences never go back: nothing to do there.

SQLite cannot add AUTOINCREMENT to a table, so `lists`, `todos` and `todo_tags` (which points at
todos) are rebuilt, ids kept. The upgrade runs in one transaction with `PRAGMA foreign_keys=ON`,
which cannot change inside a transaction, and dropping a parent table deletes its rows first,
cascading to children. So no dropped table ever has a child row pointing at it:

1. the new tables are made beside the old ones, each child pointing at the *new* parent
   (`todos_new` at `lists_new`, `todo_tags_new` at `todos_new`), and filled, ids and all;
2. the old tables are dropped children first: nothing references them any more, no cascade;
3. the new ones are renamed into place; SQLite rewrites the children's `REFERENCES` (and the
   sqlite_sequence rows) with them.

Kept exactly: every column, default, constraint and index name of the tables as migration 0008
left them (0009 changed nothing on SQLite). The full-text index (`todos_fts`, contentless, keyed
by the todo's id) and its pending queue stay valid as the ids do; the indexes and triggers go
with the old tables and are made again from their own SQL, as they were. Each sequence starts
at the highest id the database still knows: the table's largest, or a larger one from the
change feed (the id of a newest todo or list that was deleted, if its row there was not pruned
yet).

Downgrade keeps AUTOINCREMENT: the code before it runs on it unchanged, and ids stay unique.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The tables as migration 0008 left them, `id` now AUTOINCREMENT (only the column-constraint
# form takes it).
_NEW_TABLES = [
    """CREATE TABLE lists_new (
    id INTEGER NOT NULL CONSTRAINT pk_lists PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL,
    name VARCHAR(200) NOT NULL,
    "order" FLOAT,
    is_default BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    CONSTRAINT fk_lists_owner_id_users FOREIGN KEY(owner_id) REFERENCES users (id)
        ON DELETE CASCADE
)""",
    """CREATE TABLE todos_new (
    id INTEGER NOT NULL CONSTRAINT pk_todos PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL,
    title VARCHAR(500) NOT NULL,
    description TEXT,
    completed BOOLEAN NOT NULL,
    completed_at DATETIME,
    "order" FLOAT,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    list_id INTEGER NOT NULL,
    priority SMALLINT DEFAULT '0' NOT NULL,
    due_date DATE,
    due_at DATETIME,
    due_offset_minutes SMALLINT,
    tags TEXT DEFAULT '[]' NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    order_key FLOAT NOT NULL,
    due_key DATETIME NOT NULL,
    CONSTRAINT fk_todos_owner_id_users FOREIGN KEY(owner_id) REFERENCES users (id)
        ON DELETE CASCADE,
    CONSTRAINT fk_todos_list_id_lists FOREIGN KEY(list_id) REFERENCES lists_new (id)
        ON DELETE CASCADE,
    CONSTRAINT ck_todos_priority_range CHECK (priority BETWEEN 0 AND 3)
)""",
    """CREATE TABLE todo_tags_new (
    todo_id INTEGER NOT NULL,
    tag_key VARCHAR(200) NOT NULL,
    owner_id INTEGER NOT NULL,
    name VARCHAR(50) NOT NULL,
    CONSTRAINT pk_todo_tags PRIMARY KEY (todo_id, tag_key),
    CONSTRAINT fk_todo_tags_todo_id_todos FOREIGN KEY(todo_id) REFERENCES todos_new (id)
        ON DELETE CASCADE
)""",
]

_COLUMNS = {
    "lists": 'id, owner_id, name, "order", is_default, version, created_at, updated_at',
    "todos": 'id, owner_id, title, description, completed, completed_at, "order", created_at, '
    "updated_at, list_id, priority, due_date, due_at, due_offset_minutes, tags, version, "
    "order_key, due_key",
    "todo_tags": "todo_id, tag_key, owner_id, name",
}
_PARENTS_FIRST = ["lists", "todos", "todo_tags"]

# What else belongs to the rebuilt tables, dropped with them and made again as it was: their
# indexes (same names; tests/test_migrate.py compares them with tables.py) and the full-text
# index's triggers on `todos` (migrations 0004 and 0006).
_ATTACHED = sa.text(
    "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
    " AND tbl_name IN ('lists', 'todos', 'todo_tags') ORDER BY type, name"
)

# Each sequence starts at the highest id known: the table's, or the change feed's (the `kind`
# its rows record for that table), whichever is larger. Copying the rows in made a row already
# for a table that has any.
_START_SEQUENCE = """INSERT INTO sqlite_sequence(name, seq)
    SELECT :table, 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = :table)"""
_RAISE_SEQUENCE = """UPDATE sqlite_sequence SET seq = max(seq, coalesce(
        (SELECT max(entity_id) FROM changes WHERE kind = :kind), 0))
    WHERE name = :table"""
_FEED_KINDS = {"lists": "list", "todos": "todo"}

# Tables whose foreign keys point at a rebuilt one: each must be rebuilt too, or dropping its
# parent would delete its rows (ON DELETE CASCADE). A table this revision does not know of
# (another migration's) stops the upgrade, which then changes nothing.
_REBUILT_CHILDREN = {"todos", "todo_tags"}
_CHILDREN = sa.text(
    "SELECT DISTINCT m.name FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f"
    " WHERE m.type = 'table' AND f.\"table\" IN ('lists', 'todos', 'todo_tags')"
)
# Planner statistics (only if an operator ran ANALYZE): dropped with the tables, put back.
_HAS_STATISTICS = sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
_STATISTICS = sa.text(
    "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl IN ('lists', 'todos', 'todo_tags')"
)
_PUT_STATISTICS = sa.text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:tbl, :idx, :stat)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's sequences never hand out an id twice
    bind = op.get_bind()
    unknown = set(bind.execute(_CHILDREN).scalars()) - _REBUILT_CHILDREN
    if unknown:
        raise RuntimeError(f"0010 would cascade-delete rows of {sorted(unknown)}: rebuild them too")
    attached = list(bind.execute(_ATTACHED).scalars())
    analyzed = bind.execute(_HAS_STATISTICS).first() is not None
    statistics = [row._asdict() for row in bind.execute(_STATISTICS)] if analyzed else []
    for statement in _NEW_TABLES:
        op.execute(statement)
    for table in _PARENTS_FIRST:
        columns = _COLUMNS[table]
        op.execute(f"INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}")  # noqa: S608
    for table in reversed(_PARENTS_FIRST):  # children first: no row ever cascades
        op.execute(f"DROP TABLE {table}")  # with its indexes and triggers
    for table in _PARENTS_FIRST:
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for statement in attached:
        op.execute(statement)
    if statistics:
        bind.execute(_PUT_STATISTICS, statistics)
    for table, kind in _FEED_KINDS.items():
        op.execute(sa.text(_START_SEQUENCE).bindparams(table=table))
        op.execute(sa.text(_RAISE_SEQUENCE).bindparams(table=table, kind=kind))


def downgrade() -> None:
    """Nothing: the code before it runs on AUTOINCREMENT tables as it did, and ids stay unique."""

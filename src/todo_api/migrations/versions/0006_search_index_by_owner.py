"""The full-text index knows each todo's owner, so a search walks only the caller's matches.

Before, `todos_fts` (external content over `todos`) held only title and description: one
user's search read every user's matches of the word and then dropped the others' (measured at
1,000 users x 1,000 todos: 100-190 ms for a page of one user's matches, against 2 ms for a
plain page). Now it is contentless (`content=''`, it stores only the index) with a first
column `owner` holding one token: U+E000 followed by the owner's id. The query
`owner : "\\ue00042" AND ...` intersects the owner's doclist with the word's inside FTS5 (0.5 ms
in the same database). U+E000 is a private-use character: the tokenizer keeps it in a token,
but a search's words (`\\w+`) never contain it, so no search word is ever an owner token.

`todos_fts_terms` (fts5vocab, `instance`) lists the index's terms in order: a search expands
its last word's prefix into the exact terms it stands for (a few index seeks), because FTS5
merges a prefix's whole doclist, for every user, each time a prefix query starts.

The pending queue of migration 0004 stays as it was; only the statements that write the index
change (a contentless index must be told a row's old values to delete it, so the triggers pass
them, owner included).

PostgreSQL has no such index here: its full-text search comes with its own revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TOKENIZER = "unicode61 remove_diacritics 2"
# What the index holds for a todo (rowid, owner, title, description), from `todos` aliased `t`.
OWNER_TOKEN = "char(57344) || {}.owner_id"  # noqa: S105 (U+E000, then the id)
INDEXED = f"t.id, {OWNER_TOKEN.format('t')}, t.title, coalesce(t.description, '')"
INDEX_PENDING = f"""INSERT INTO todos_fts(rowid, owner, title, description)
        SELECT {INDEXED} FROM todos AS t
        WHERE t.id IN (SELECT todo_id FROM todos_fts_pending)"""  # noqa: S608 (constants)

_BY_OWNER = [
    "DROP TRIGGER todos_fts_catch_up",
    "DROP TRIGGER todos_fts_delete",
    "DROP TRIGGER todos_fts_update",
    "DROP TABLE todos_fts",
    f"""CREATE VIRTUAL TABLE todos_fts USING fts5(
        owner, title, description, content='', tokenize='{TOKENIZER}')""",
    "CREATE VIRTUAL TABLE todos_fts_terms USING fts5vocab(todos_fts, instance)",
    f"INSERT INTO todos_fts(rowid, owner, title, description) SELECT {INDEXED} FROM todos AS t",  # noqa: S608
    "DELETE FROM todos_fts_pending",
    # Migration 0004's insert trigger (queue the id) stays; the catch-up one writes the index.
    f"""CREATE TRIGGER todos_fts_catch_up AFTER INSERT ON todos
    WHEN new.id % 1024 = 0 BEGIN
        {INDEX_PENDING};
        INSERT INTO todos_fts(rowid, owner, title, description)
        VALUES (new.id, {OWNER_TOKEN.format("new")}, new.title, coalesce(new.description, ''));
        DELETE FROM todos_fts_pending;
    END""",  # noqa: S608 (constants formatted in)
    f"""CREATE TRIGGER todos_fts_delete AFTER DELETE ON todos BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, owner, title, description)
        SELECT 'delete', old.id, {OWNER_TOKEN.format("old")}, old.title,
            coalesce(old.description, '')
        WHERE NOT EXISTS (SELECT 1 FROM todos_fts_pending WHERE todo_id = old.id);
        DELETE FROM todos_fts_pending WHERE todo_id = old.id;
    END""",  # noqa: S608
    f"""CREATE TRIGGER todos_fts_update AFTER UPDATE OF owner_id, title, description ON todos
    WHEN NOT EXISTS (SELECT 1 FROM todos_fts_pending WHERE todo_id = old.id) BEGIN
        INSERT INTO todos_fts(todos_fts, rowid, owner, title, description)
        VALUES ('delete', old.id, {OWNER_TOKEN.format("old")}, old.title,
            coalesce(old.description, ''));
        INSERT INTO todos_fts(rowid, owner, title, description)
        VALUES (new.id, {OWNER_TOKEN.format("new")}, new.title, coalesce(new.description, ''));
    END""",  # noqa: S608
]

# Back to migration 0004's index and triggers (copied: migrations import nothing).
_WITHOUT_OWNER = [
    "DROP TRIGGER todos_fts_catch_up",
    "DROP TRIGGER todos_fts_delete",
    "DROP TRIGGER todos_fts_update",
    "DROP TABLE todos_fts_terms",
    "DROP TABLE todos_fts",
    f"""CREATE VIRTUAL TABLE todos_fts USING fts5(
        title, description, content='todos', content_rowid='id', tokenize='{TOKENIZER}')""",
    """INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos""",
    "DELETE FROM todos_fts_pending",
    """CREATE TRIGGER todos_fts_catch_up AFTER INSERT ON todos
    WHEN new.id % 1024 = 0 BEGIN
        INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos
        WHERE id IN (SELECT todo_id FROM todos_fts_pending);
        INSERT INTO todos_fts(rowid, title, description)
        VALUES (new.id, new.title, coalesce(new.description, ''));
        DELETE FROM todos_fts_pending;
    END""",
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _BY_OWNER:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _WITHOUT_OWNER:
            op.execute(statement)

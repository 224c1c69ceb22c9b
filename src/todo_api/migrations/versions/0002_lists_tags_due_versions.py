"""Lists, tags, priorities, due dates, versions for ETags, sort keys and full-text search.

Every user gets a default list ("Inbox") holding their existing todos.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen here, not imported from todo_api.tables: a migration must build the same schema forever.
# The column type of tables.UTCDateTime, and values bound in naive UTC as it binds them.
UTC_DATETIME = sa.DateTime(timezone=True)
NO_ORDER = 1e300  # the sort key of a todo without `order`
NO_DUE = dt.datetime(9999, 12, 31)  # the sort key of a todo without a due date (UTC)

# The sort and filter indexes this revision adds to todos, each (key columns..., id).
NEW_TODO_INDEXES = (
    ["owner_id", "order_key", "id"],
    ["owner_id", "due_key", "id"],
    ["owner_id", "priority", "id"],
    ["owner_id", "updated_at", "id"],
    ["list_id", "created_at", "id"],
)

# SQLite full-text index over title and description, kept current by triggers. A later
# migration that rebuilds `todos` (batch mode) must recreate these triggers.
SQLITE_FTS = [
    """CREATE VIRTUAL TABLE todos_fts USING fts5(
        title, description, content='todos', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
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
    """INSERT INTO todos_fts(rowid, title, description)
        SELECT id, title, coalesce(description, '') FROM todos""",
]

# PostgreSQL's full-text index (added when PostgreSQL came, which no database had before): the
# same words as FTS5's unicode61 tokenizer with diacritics removed, lower case, no stemming
# ('simple'), over an expression GIN index, so it is exact the moment a write commits.
# unaccent() is only STABLE (its dictionary could change), so an IMMUTABLE wrapper is what an
# index may use; the running code queries through the same two functions.
POSTGRESQL_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public",
    """CREATE FUNCTION todo_search_vector(title text, description text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN to_tsvector('simple'::regconfig, public.unaccent(
            'public.unaccent'::regdictionary, title || ' ' || coalesce(description, '')))""",
    """CREATE FUNCTION todo_search_query(query text) RETURNS tsquery
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN to_tsquery('simple'::regconfig, public.unaccent(
            'public.unaccent'::regdictionary, query))""",
    "CREATE INDEX todos_fts_gin ON todos USING gin (todo_search_vector(title, description))",
]


def upgrade() -> None:
    lists = op.create_table(
        "lists",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("order", sa.Float, nullable=True),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_lists_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
    )
    op.create_index(
        op.f("ix_lists_owner_id_created_at_id"), "lists", ["owner_id", "created_at", "id"]
    )
    op.create_index(
        "uq_lists_owner_id_default",
        "lists",
        ["owner_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    users = sa.table("users", sa.column("id"))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    op.execute(
        lists.insert().from_select(
            ["owner_id", "name", "is_default", "version", "created_at", "updated_at"],
            sa.select(
                users.c.id,
                sa.literal("Inbox"),
                sa.true(),
                sa.literal(1),
                sa.literal(now, UTC_DATETIME),
                sa.literal(now, UTC_DATETIME),
            ),
        )
    )

    with op.batch_alter_table("todos") as batch:
        batch.add_column(sa.Column("list_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("due_date", sa.Date, nullable=True))
        batch.add_column(sa.Column("due_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("due_offset_minutes", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("tags", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("order_key", sa.Float, nullable=True))
        batch.add_column(sa.Column("due_key", UTC_DATETIME, nullable=True))

    todos = sa.table(
        "todos",
        sa.column("owner_id"),
        sa.column("list_id"),
        sa.column("order"),
        sa.column("order_key"),
        sa.column("due_key", UTC_DATETIME),
    )
    default_list = (
        sa.select(lists.c.id)
        .where(lists.c.owner_id == todos.c.owner_id, lists.c.is_default)
        .scalar_subquery()
    )
    op.execute(
        todos.update().values(
            list_id=default_list,
            order_key=sa.func.coalesce(todos.c.order, NO_ORDER),
            due_key=sa.literal(NO_DUE, UTC_DATETIME),
        )
    )

    with op.batch_alter_table("todos") as batch:
        batch.alter_column("list_id", existing_type=sa.Integer, nullable=False)
        batch.alter_column("order_key", existing_type=sa.Float, nullable=False)
        batch.alter_column("due_key", existing_type=UTC_DATETIME, nullable=False)
        batch.create_foreign_key(
            op.f("fk_todos_list_id_lists"), "lists", ["list_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_check_constraint("priority_range", "priority BETWEEN 0 AND 3")
        for columns in NEW_TODO_INDEXES:
            batch.create_index(op.f(f"ix_todos_{'_'.join(columns)}"), columns)

    op.create_table(
        "todo_tags",
        sa.Column("todo_id", sa.Integer, nullable=False),
        sa.Column("tag_key", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.ForeignKeyConstraint(
            ["todo_id"], ["todos.id"], name=op.f("fk_todo_tags_todo_id_todos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("todo_id", "tag_key", name=op.f("pk_todo_tags")),
    )
    op.create_index(
        op.f("ix_todo_tags_owner_id_tag_key_todo_id"),
        "todo_tags",
        ["owner_id", "tag_key", "todo_id"],
    )

    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX todos_fts_gin")
        op.execute("DROP FUNCTION todo_search_query(text)")
        op.execute("DROP FUNCTION todo_search_vector(text, text)")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS todos_fts")  # its triggers go with the todos rebuild
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS todos_fts_{trigger}")
    op.drop_table("todo_tags")
    with op.batch_alter_table("todos") as batch:
        for columns in NEW_TODO_INDEXES:
            batch.drop_index(op.f(f"ix_todos_{'_'.join(columns)}"))
        batch.drop_constraint(op.f("ck_todos_priority_range"), type_="check")
        batch.drop_constraint(op.f("fk_todos_list_id_lists"), type_="foreignkey")
        for column in (
            "due_key",
            "order_key",
            "version",
            "tags",
            "due_offset_minutes",
            "due_at",
            "due_date",
            "priority",
            "list_id",
        ):
            batch.drop_column(column)
    op.drop_table("lists")

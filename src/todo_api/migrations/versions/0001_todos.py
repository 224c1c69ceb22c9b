"""Users and todos.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here, not imported from todo_api.tables: a migration must build the same schema forever.
# The column type of tables.UTCDateTime when this revision was written.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    # The implicit user that owns everything while TODO_AUTH=disabled.
    op.execute(users.insert().values(id=1, username="local", created_at=sa.func.now()))
    if op.get_bind().dialect.name == "postgresql":
        # An id given explicitly does not advance PostgreSQL's sequence: the next user would get 1.
        op.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), 1)")
    op.create_table(
        "todos",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("completed", sa.Boolean, nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("order", sa.Float, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_todos_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todos")),
    )
    op.create_index(
        op.f("ix_todos_owner_id_created_at_id"), "todos", ["owner_id", "created_at", "id"]
    )
    op.create_index(
        op.f("ix_todos_owner_id_completed_created_at_id"),
        "todos",
        ["owner_id", "completed", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_table("todos")
    op.drop_table("users")

"""Accounts: passwords, API tokens and browser sessions.

The implicit local user (id 1, "local") keeps its data and gets no password, so it cannot log
in; `todo-api user adopt-local NAME` gives it a name and a password (docs/security.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen here, not imported from todo_api.tables: a migration must build the same schema forever.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy of `users`: with foreign keys on, dropping the old
    # table would cascade-delete every todo. The key is the lower-cased username ("unique
    # without case"); existing rows get it from their name.
    op.add_column(
        "users", sa.Column("username_key", sa.String(64), nullable=False, server_default="")
    )
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    users = sa.table("users", sa.column("username", sa.String), sa.column("username_key"))
    op.execute(users.update().values(username_key=sa.func.lower(users.c.username)))
    op.create_index(op.f("ix_users_username_key"), "users", ["username_key"], unique=True)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("scopes", sa.String(32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_api_tokens_owner_id_created_at_id"), "api_tokens", ["owner_id", "created_at", "id"]
    )

    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_browser_sessions_session_hash")),
    )
    op.create_index(op.f("ix_browser_sessions_owner_id"), "browser_sessions", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_sessions_owner_id"), table_name="browser_sessions")
    op.drop_table("browser_sessions")
    op.drop_index(op.f("ix_api_tokens_owner_id_created_at_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_users_username_key"), table_name="users")
    op.drop_column("users", "password_hash")
    op.drop_column("users", "username_key")

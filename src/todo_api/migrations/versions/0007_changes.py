"""The change feed: one row per change to a user's todos and lists, in commit order.

`GET /events` streams them (docs/api.md); `seq` orders them, so a client that reconnects with
`Last-Event-ID` misses nothing. Written with SQLAlchemy operations only, so that it runs on
PostgreSQL as on SQLite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen here, not imported from todo_api.tables: a migration must build the same schema forever.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("changed_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_changes_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_changes")),
    )
    op.create_index(op.f("ix_changes_owner_id_seq"), "changes", ["owner_id", "seq"])


def downgrade() -> None:
    op.drop_index(op.f("ix_changes_owner_id_seq"), table_name="changes")
    op.drop_table("changes")

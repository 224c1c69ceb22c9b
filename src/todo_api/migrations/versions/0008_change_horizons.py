"""How far the change feed was pruned, per user: GET /events tells a client that resumes from
an older id to read everything again (an `event: reset`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_horizons",
        sa.Column("owner_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("pruned_through", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_change_horizons_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_change_horizons")),
    )


def downgrade() -> None:
    op.drop_table("change_horizons")

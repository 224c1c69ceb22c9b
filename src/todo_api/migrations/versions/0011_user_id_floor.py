"""The highest deleted account id (SQLite): a new account never takes a deleted one's id.

SQLite gives a new row max(id) + 1, so deleting the newest account handed its id to the next one
registered, while another worker could still hold the deleted account's token in its cache
(up to 5 s) and act as that id. Adding AUTOINCREMENT to `users` would rebuild every table (all
refer to it): a one-row table of the highest deleted id does the same for the rare writes that
create or delete accounts. Made on PostgreSQL too (one schema), where it stays empty: its
sequences never go back.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_id_floor",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("highest_deleted", sa.Integer, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_user_id_floor_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_id_floor")),
    )


def downgrade() -> None:
    op.drop_table("user_id_floor")

"""Memory tiers: cold vectors for turns, recall times, summarised sessions, partial indexes for the tiers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLD = "cold_vector IS NOT NULL"
HOT_USER_TURN = "cold_vector IS NULL AND role = 'user'"


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("summarised_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("cold_vector", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("recalled_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("memories") as batch:
        batch.add_column(sa.Column("recalled_at", sa.DateTime(), nullable=True))
    # Created outside batch mode: SQLite's table copy is not needed for an index, and both dialects take
    # the WHERE clause of a partial index.
    op.create_index(
        "ix_turns_cold",
        "turns",
        ["user_id", "realm"],
        sqlite_where=sa.text(COLD),
        postgresql_where=sa.text(COLD),
    )
    op.create_index(
        "ix_turns_hot",
        "turns",
        ["created_at"],
        sqlite_where=sa.text(HOT_USER_TURN),
        postgresql_where=sa.text(HOT_USER_TURN),
    )
    op.create_index(
        "ix_memories_cold",
        "memories",
        ["user_id", "realm"],
        sqlite_where=sa.text(COLD),
        postgresql_where=sa.text(COLD),
    )


def downgrade() -> None:
    op.drop_index("ix_memories_cold", table_name="memories")
    op.drop_index("ix_turns_hot", table_name="turns")
    op.drop_index("ix_turns_cold", table_name="turns")
    with op.batch_alter_table("memories") as batch:
        batch.drop_column("recalled_at")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("recalled_at")
        batch.drop_column("cold_vector")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("summarised_at")

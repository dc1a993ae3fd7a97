"""Emotional support: emotional profiles, support strategies and their history.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _owner() -> sa.Column[int]:
    # Every table here is per person, so forgetting them (deleting the users row) cascades here.
    return sa.Column("user_id", BIG_ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "emotional_profiles",
        _owner(),
        sa.Column("opted_in", sa.Boolean(), nullable=True),
        sa.Column("preferred_strategy", sa.String(length=32), nullable=True),
        sa.Column("baseline_valence", sa.Float(), nullable=True),
        sa.Column("last_emotion", sa.String(length=32), nullable=True),
        sa.Column("last_valence", sa.Float(), nullable=True),
        sa.Column("last_intensity", sa.Float(), nullable=True),
        sa.Column("last_at", sa.DateTime(), nullable=True),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "user_support_strategies",
        _owner(),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("successes", sa.Float(), nullable=False),
        sa.Column("failures", sa.Float(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "strategy"),
    )
    op.create_table(
        "strategy_history",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        _owner(),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("old_score", sa.Float(), nullable=False),
        sa.Column("new_score", sa.Float(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_strategy_history_user", "strategy_history", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_strategy_history_user", table_name="strategy_history")
    op.drop_table("strategy_history")
    op.drop_table("user_support_strategies")
    op.drop_table("emotional_profiles")

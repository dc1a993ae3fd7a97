"""Memory crystals: crystals, their facets and links.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Instants are stored as naive UTC (see storage.sql.models.UTCDateTime); SQLite needs INTEGER keys.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "crystals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("realm", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_source", sa.String(length=16), nullable=False),
        sa.Column("key_terms", sa.JSON(), nullable=False),
        sa.Column("brightness", sa.Float(), nullable=False),
        sa.Column("hue", sa.Float(), nullable=False),
        sa.Column("emotion", sa.String(length=32), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dissolved_at", sa.DateTime(), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("formed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "realm", "name", name="uq_crystals_name"),
    )
    op.create_index("ix_crystals_user_realm", "crystals", ["user_id", "realm"])
    op.create_table(
        "crystal_facets",
        sa.Column("crystal_id", BIG_ID, nullable=False),
        sa.Column("memory_id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["crystal_id"], ["crystals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["memory_id"], ["memories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("crystal_id", "memory_id"),
    )
    op.create_index("ix_crystal_facets_user", "crystal_facets", ["user_id"])
    op.create_index("ix_crystal_facets_memory", "crystal_facets", ["memory_id"])
    op.create_table(
        "crystal_links",
        sa.Column("crystal_id", BIG_ID, nullable=False),
        sa.Column("other_id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["crystal_id"], ["crystals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_id"], ["crystals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("crystal_id", "other_id"),
    )
    op.create_index("ix_crystal_links_user", "crystal_links", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_crystal_links_user", table_name="crystal_links")
    op.drop_table("crystal_links")
    op.drop_index("ix_crystal_facets_memory", table_name="crystal_facets")
    op.drop_index("ix_crystal_facets_user", table_name="crystal_facets")
    op.drop_table("crystal_facets")
    op.drop_index("ix_crystals_user_realm", table_name="crystals")
    op.drop_table("crystals")

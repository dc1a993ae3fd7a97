"""Administration: audit log, feature flags, allow and block lists, limits.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        _id(),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
    )
    op.create_index("ix_admin_audit_guild_time", "admin_audit", ["guild_id", "created_at"])
    op.create_table(
        "feature_flags",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name", "guild_id", name="uq_feature_flags_name_guild"),
    )
    op.create_table(
        "access_rules",
        _id(),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "guild_id", "kind", "target_id", name="uq_access_rules_target"),
    )
    op.create_table(
        "limit_overrides",
        _id(),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("guild_id", sa.String(64), nullable=False),
        sa.Column("subject_kind", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("messages_per_minute", sa.Float(), nullable=True),
        sa.Column("tokens_per_day", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "platform", "guild_id", "subject_kind", "subject_id", name="uq_limit_overrides_subject"
        ),
    )


def downgrade() -> None:
    op.drop_table("limit_overrides")
    op.drop_table("access_rules")
    op.drop_table("feature_flags")
    op.drop_index("ix_admin_audit_guild_time", table_name="admin_audit")
    op.drop_table("admin_audit")

"""Job queue: urgent and done_at columns on the outbox, indexes for throughput, pruning and forget-me.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_outbox") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("done_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_job_outbox_done", ["status", "done_at"], unique=False)
        batch.create_index("ix_job_outbox_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_outbox") as batch:
        batch.drop_index("ix_job_outbox_user")
        batch.drop_index("ix_job_outbox_done")
        batch.drop_column("done_at")
        batch.drop_column("urgent")

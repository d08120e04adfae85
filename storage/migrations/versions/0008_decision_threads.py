"""decisions.thread_id: the thread a reply was posted in, so a follow-up there finds the earlier turns

Revision ID: 0008_decision_threads
Revises: 0007_message_embeddings
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_decision_threads"
down_revision: str | None = "0007_message_embeddings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("thread_id", sa.String(length=255), nullable=True))
    op.create_index("ix_decisions_thread", "decisions", ["tenant_id", "channel_external_id", "thread_id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_thread", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("thread_id")

"""inbox.progress: a running turn's status line and text so far, for a page that polls (the playground)

Revision ID: 0013_turn_progress
Revises: 0012_engagement
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_turn_progress"
down_revision: str | None = "0012_engagement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("progress")

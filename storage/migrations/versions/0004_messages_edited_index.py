"""index messages by (tenant, edited_at): replicas catch their search index up on edits and deletions

Revision ID: 0004_messages_edited_index
Revises: 0003_slack_oauth
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0004_messages_edited_index"
down_revision: str | None = "0003_slack_oauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_tenant_edited", "messages", ["tenant_id", "edited_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_tenant_edited", table_name="messages")

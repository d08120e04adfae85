"""channel_members by person: every question reads the restricted channels its asker is in

Visibility used to read every channel's member list for each question; it now reads only the private
channels, groups and DMs the asker belongs to (storage/workspace.py `channels_seen_by`), found through this
index instead of a scan of the whole membership table.

Revision ID: 0016_channel_members_user
Revises: 0015_search_channel_counts
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0016_channel_members_user"
down_revision: str | None = "0015_search_channel_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_channel_members_user", "channel_members", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_channel_members_user", table_name="channel_members")

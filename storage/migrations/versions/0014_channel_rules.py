"""channel_rules (exclude a channel, answer questions without a mention, digest defaults) and rate_events
(per-person rate limits counted in the database, so every worker and replica sees the same count)

Revision ID: 0014_channel_rules
Revises: 0013_turn_progress
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0014_channel_rules"
down_revision: str | None = "0013_turn_progress"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=160), nullable=False),
        sa.Column("channel_external_id", sa.String(length=255), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("excluded_by", sa.String(length=255), nullable=True),
        sa.Column("excluded_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer_mode", sa.String(length=16), nullable=False),
        sa.Column("digest_window_hours", sa.Integer(), nullable=True),
        sa.Column("digest_top_n", sa.Integer(), nullable=True),
        sa.Column("digest_cron", sa.String(length=64), nullable=True),
        sa.Column("digest_tz", sa.String(length=64), nullable=True),
        sa.Column("digest_description", sa.String(length=128), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_channel_rules_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_rules"),
        sa.UniqueConstraint("tenant_id", "channel_external_id", name="uq_channel_rules_channel"),
    )
    op.create_index("ix_channel_rules_tenant_id", "channel_rules", ["tenant_id"])
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("tenant_id", sa.String(length=160), nullable=False),
        sa.Column("user_external_id", sa.String(length=255), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_rate_events_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_rate_events"),
        sa.UniqueConstraint("key", name="uq_rate_events_key"),
    )
    op.create_index("ix_rate_events_person", "rate_events", ["tenant_id", "user_external_id", "at"])
    op.create_index("ix_rate_events_at", "rate_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_rate_events_at", table_name="rate_events")
    op.drop_index("ix_rate_events_person", table_name="rate_events")
    op.drop_table("rate_events")
    op.drop_index("ix_channel_rules_tenant_id", table_name="channel_rules")
    op.drop_table("channel_rules")

"""teams and team_members: who belongs to a Teams team (its standard channels' readers), refreshed from the roster

Revision ID: 0009_teams
Revises: 0008_decision_threads
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_teams"
down_revision: str | None = "0008_decision_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=160), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("roster_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_teams_tenant_id_tenants", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_teams_tenant_external"),
    )
    op.create_index("ix_teams_tenant_id", "teams", ["tenant_id"])
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_team_members_team_id_teams", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_team_members_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id", name="pk_team_members"),
    )


def downgrade() -> None:
    op.drop_table("team_members")
    op.drop_index("ix_teams_tenant_id", table_name="teams")
    op.drop_table("teams")

"""engagement: a decision's question and outcome (answered, declined, failed), and every Why? opened

Revision ID: 0012_engagement
Revises: 0010_drop_processed_events

Decisions stored before this revision get their outcome from their stored rationale (a caveat starting
with "declined" or "not carried out"), so the weeks before an upgrade still count.
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0012_engagement"
down_revision: str | None = "0010_drop_processed_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUESTION_SKILLS = ("ask", "people", "summarize")
BATCH = 500


def _outcome(rationale: dict[str, Any]) -> str:
    caveats = [c for c in rationale.get("caveats") or [] if isinstance(c, str)]
    if any(c.startswith("not carried out") for c in caveats):
        return "failed"
    if any(c.startswith("declined") for c in caveats):
        return "declined"
    return "answered"


def _question(rationale: dict[str, Any]) -> str:
    conversation = rationale.get("conversation") or {}
    inputs = rationale.get("inputs") or {}
    return str(conversation.get("asked") or inputs.get("query") or "")[:1000]


def _backfill() -> None:
    decisions = sa.table("decisions", sa.column("id", sa.String), sa.column("skill", sa.String),
                         sa.column("rationale", sa.JSON), sa.column("question", sa.Text),
                         sa.column("outcome", sa.String))
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(sa.select(decisions.c.id, decisions.c.rationale)
                            .where(decisions.c.skill.in_(QUESTION_SKILLS), decisions.c.id > last)
                            .order_by(decisions.c.id).limit(BATCH)).all()
        if not rows:
            return
        for decision_id, rationale in rows:
            rationale = rationale if isinstance(rationale, dict) else {}
            bind.execute(sa.update(decisions).where(decisions.c.id == decision_id)
                         .values(outcome=_outcome(rationale), question=_question(rationale)))
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("question", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
    op.create_index("ix_decisions_tenant_created", "decisions", ["tenant_id", "created_at"])
    op.create_index("ix_decisions_asker", "decisions", ["tenant_id", "user_external_id", "created_at"])
    op.create_table(
        "decision_opens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=160), nullable=False),
        sa.Column("user_external_id", sa.String(length=255), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"], name="fk_decision_opens_decision_id_decisions",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_decision_opens_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_decision_opens"),
        sa.UniqueConstraint("key", name="uq_decision_opens_key"),
    )
    op.create_index("ix_decision_opens_decision_id", "decision_opens", ["decision_id"])
    op.create_index("ix_decision_opens_tenant_opened", "decision_opens", ["tenant_id", "opened_at"])
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_decision_opens_tenant_opened", table_name="decision_opens")
    op.drop_index("ix_decision_opens_decision_id", table_name="decision_opens")
    op.drop_table("decision_opens")
    op.drop_index("ix_decisions_asker", table_name="decisions")
    op.drop_index("ix_decisions_tenant_created", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("outcome")
        batch.drop_column("question")

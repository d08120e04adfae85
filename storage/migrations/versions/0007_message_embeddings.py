"""message_embeddings: dense vectors stored with each message, per embedding model (hybrid retrieval)

Revision ID: 0007_message_embeddings
Revises: 0006_postgres_search
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_message_embeddings"
down_revision: str | None = "0006_postgres_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_embeddings",
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("tenant_id", sa.String(length=160), nullable=False),
        sa.Column("text_hash", sa.String(length=32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_message_embeddings_message_id_messages",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_message_embeddings_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "model", name="pk_message_embeddings"),
    )
    op.create_index("ix_message_embeddings_tenant_model", "message_embeddings", ["tenant_id", "model"])


def downgrade() -> None:
    op.drop_index("ix_message_embeddings_tenant_model", table_name="message_embeddings")
    op.drop_table("message_embeddings")

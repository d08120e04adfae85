"""slack oauth: installation and state tables for slack_sdk's SQLAlchemy stores

The tables are defined by slack_sdk (AsyncSQLAlchemyInstallationStore / AsyncSQLAlchemyOAuthStateStore);
building them from the SDK's own definitions keeps their columns exactly what the stores query.

Revision ID: 0003_slack_oauth
Revises: 0002
Create Date: 2026-11-26 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

revision: str = '0003_slack_oauth'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOTS = "slack_bots"
INSTALLATIONS = "slack_installations"
STATES = "slack_oauth_states"


def _metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_bots_table(metadata, BOTS)
    SQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, STATES)
    return metadata


def upgrade() -> None:
    _metadata().create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _metadata().drop_all(op.get_bind(), checkfirst=True)

"""slack_sdk's own SQLAlchemy stores for OAuth installs and states, over our engine.

They live here because they are SQL: the Slack adapter asks storage for them and never sees the engine.
Their tables are created by migration 0003_slack_oauth from the same SDK table definitions.
"""

from __future__ import annotations

import logging

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from storage.db import Database


def installation_store(db: Database, client_id: str) -> AsyncSQLAlchemyInstallationStore:
    return AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=db.engine,
                                            logger=logging.getLogger("whybot.slack.installations"))


def oauth_state_store(db: Database, expiration_seconds: int) -> AsyncSQLAlchemyOAuthStateStore:
    return AsyncSQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=db.engine,
                                          logger=logging.getLogger("whybot.slack.oauth_state"))

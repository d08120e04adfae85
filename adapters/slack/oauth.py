"""Where bot tokens come from: SLACK_BOT_TOKEN (one workspace) or OAuth v2 installs (many).

Installations and OAuth states live in our database through slack_sdk's own SQLAlchemy stores; their
tables are created by our Alembic migration 0003_slack_oauth from the stores' table definitions.
"""

from __future__ import annotations

import logging
from typing import Any

import yaml
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore

from bot.manifests import manifest_dir
from bot.settings import Settings
from storage import Database, slack_oauth

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRY_S = 600
FALLBACK_SCOPES = ("app_mentions:read", "channels:history", "channels:join", "channels:read", "chat:write",
                   "commands", "groups:history", "groups:read", "im:history", "im:read", "reactions:read",
                   "users:read")


def bot_scopes() -> list[str]:
    """The bot scopes from manifest/slack.yaml, so the install link asks for what the manifest declares."""
    try:
        data: dict[str, Any] = yaml.safe_load((manifest_dir() / "slack.yaml").read_text(encoding="utf-8"))
        scopes = data["oauth_config"]["scopes"]["bot"]
        return [str(s) for s in scopes]
    except (FileNotFoundError, KeyError, TypeError, yaml.YAMLError) as exc:
        log.warning("could not read scopes from the manifest (%s); using the built-in list", exc)
        return list(FALLBACK_SCOPES)


def oauth_configured(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


def installation_store(settings: Settings, db: Database) -> AsyncSQLAlchemyInstallationStore:
    return slack_oauth.installation_store(db, settings.slack_client_id or "")


def oauth_settings(settings: Settings, db: Database,
                   store: AsyncSQLAlchemyInstallationStore) -> AsyncOAuthSettings:
    assert settings.slack_client_secret is not None
    redirect = f"{settings.public_url.rstrip('/')}{REDIRECT_PATH}" if settings.public_url else None
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id, client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=bot_scopes(), redirect_uri=redirect, install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH,
        installation_store=store,
        state_store=slack_oauth.oauth_state_store(db, STATE_EXPIRY_S),
    )


class TokenSource:
    """The bot token for a workspace, for work that is not a reply to a request (digests)."""

    def __init__(self, *, bot_token: str | None = None,
                 store: AsyncSQLAlchemyInstallationStore | None = None) -> None:
        self.bot_token = bot_token
        self.store = store

    async def for_team(self, team_id: str) -> str | None:
        if self.bot_token:
            return self.bot_token
        if self.store is None:
            return None
        bot = await self.store.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None else None

"""Slack: slack-bolt's AsyncApp on POST /slack/events (or Socket Mode), rendering replies as Block Kit."""

from __future__ import annotations

import logging

from adapters.slack.app import SlackAdapter
from bot.services import Services

log = logging.getLogger(__name__)


def create_adapter(services: Services) -> SlackAdapter | None:
    """The Slack adapter when Slack is configured: a signing secret (HTTP) or an app token (Socket Mode)."""
    s = services.settings
    if s.slack_signing_secret is None and s.slack_app_token is None:
        return None
    if s.slack_bot_token is None and not (s.slack_client_id and s.slack_client_secret):
        log.error("Slack is configured without credentials: set SLACK_BOT_TOKEN (one workspace) or "
                  "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth installs); the Slack adapter is off")
        return None
    return SlackAdapter(services)


__all__ = ["SlackAdapter", "create_adapter"]

"""The local playground: a Slack-like page on `/` that talks to the same router as Slack and Teams.

It trusts the person picker on the page, so it is meant for localhost (the default bind address).
Set WHYBOT_PLAYGROUND=false to turn it off on a public server.
"""

from __future__ import annotations

from adapters.playground.adapter import PlaygroundAdapter
from bot.services import Services


def create_adapter(services: Services) -> PlaygroundAdapter | None:
    if not services.settings.playground_enabled:
        return None
    return PlaygroundAdapter(services)


__all__ = ["PlaygroundAdapter", "create_adapter"]

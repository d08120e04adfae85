"""Microsoft Teams through Bot Framework (botbuilder-python).

Every botbuilder import lives in this folder, so moving to the Microsoft 365 Agents SDK
(`microsoft-agents-hosting-aiohttp`, botbuilder's successor) is a change of this folder only.
"""

from __future__ import annotations

from adapters.teams.app import TeamsAdapter
from bot.services import Services


def create_adapter(services: Services) -> TeamsAdapter:
    """Always mounted: with no MICROSOFT_APP_ID it serves the Bot Framework Emulator locally."""
    return TeamsAdapter(services)


__all__ = ["TeamsAdapter", "create_adapter"]

"""Proactive posts (digests, other scheduled messages) through `continue_conversation`.

The conversation reference was stored when the bot last heard from the channel (`save_reference`) or
with the digest subscription. For a channel it points at the channel itself, and we post with the
connector's `send_to_conversation`, so a digest starts a new thread: `TurnContext.send_activity`
inside a continuation would reply to the synthetic continuation activity's id instead.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import BotAdapter, CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference
from botframework.connector.aio import ConnectorClient

from adapters.teams.cards import Card, card_summary, reply_card
from bot.adapter import DeliveryTarget
from bot.models import Platform, Reply
from storage import Storage, tenant_key

log = logging.getLogger(__name__)


def card_activity(card: Card, summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = summary
    return activity


class NoConversationReference(LookupError):
    """The bot has never heard from this conversation, so Bot Framework gives it no way to post there."""


class TeamsDelivery:
    platform = Platform.TEAMS

    def __init__(self, cloud: CloudAdapter, storage: Storage, app_id: str) -> None:
        self.cloud = cloud
        self.storage = storage
        self.app_id = app_id

    async def _reference(self, target: DeliveryTarget) -> ConversationReference:
        raw: dict[str, Any] | None = dict(target.reference) if target.reference else None
        if not raw:
            tenant_id = target.tenant if target.tenant.startswith(f"{Platform.TEAMS.value}:") else \
                tenant_key(Platform.TEAMS.value, target.tenant)
            raw = await self.storage.subscriptions.reference(tenant_id, target.channel)
        if not raw:
            raise NoConversationReference(
                f"no conversation reference for Teams channel {target.channel}: the bot must be added there "
                "(or hear from it) before it can post")
        reference = ConversationReference().deserialize(raw)
        if not reference.service_url or reference.conversation is None or not reference.conversation.id:
            raise NoConversationReference(f"the stored reference for {target.channel} has no serviceUrl/conversation")
        return reference

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        reference = await self._reference(target)
        posted: list[str] = []

        async def send(turn_context: TurnContext) -> None:
            connector: ConnectorClient = turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY]
            activity = TurnContext.apply_conversation_reference(card_activity(reply_card(reply), card_summary(reply)),
                                                                reference)
            activity.reply_to_id = None
            response = await connector.conversations.send_to_conversation(reference.conversation.id, activity)
            posted.append(response.id if response is not None and response.id else "")

        await self.cloud.continue_conversation(reference, send, bot_app_id=self.app_id)
        message_id = posted[0] if posted else ""
        log.info("posted %s to Teams conversation %s as %s", key, reference.conversation.id, message_id)
        return message_id

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """Bot Framework cannot list a conversation's messages, so Teams cannot tell; the scheduler's own
        record of the run (digest_runs.posted_message_id) is the guard against posting twice."""
        return None

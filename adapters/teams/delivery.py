"""Where proactive posts (digests) go, and the message activity every Teams send carries.

The conversation reference was stored when the bot last heard from the channel (`save_reference`) or
with the digest subscription. For a channel it points at the channel itself, and the surface posts with
the connector's `send_to_conversation`, so a digest starts a new thread: `TurnContext.send_activity`
inside a continuation would reply to the synthetic continuation activity's id instead.
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity, ConversationReference

from adapters.teams.cards import MAX_CARD_BYTES, Card, card_bytes, card_summary, reply_card
from adapters.teams.entities import answer_channel_data, message_entity
from bot.adapter import DeliveryTarget
from bot.models import Platform, Reply
from storage import Storage, tenant_key

TEAMS_CHANNEL_ID = "msteams"


def card_activity(card: Card, summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = summary
    return activity


def native_feedback(channel_id: str | None) -> bool:
    """Teams itself (not the Bot Framework Emulator or Web Chat) shows its own 👍/👎 under a message."""
    return channel_id == TEAMS_CHANNEL_ID


def answer_activity(reply: Reply, *, native: bool, expanded: bool = False, note: str | None = None) -> Activity:
    """The message an answer goes out as: its card (without our 👍/👎 where Teams shows its own), the AI label
    and citations (entities.py), the feedback loop flag, and the notification summary. The card's byte
    budget shrinks by the entity's size, so the whole activity stays under Teams' message limit."""
    entity = message_entity(reply)
    budget = MAX_CARD_BYTES - (card_bytes(entity.serialize()) if entity is not None else 0)
    activity = card_activity(reply_card(reply, expanded=expanded, note=note, feedback_buttons=not native,
                                        budget=budget), card_summary(reply))
    if entity is not None:
        activity.entities = [entity]
    channel_data = answer_channel_data(reply) if native else {}
    if channel_data:
        activity.channel_data = channel_data
    return activity


class NoConversationReference(LookupError):
    """The bot has never heard from this conversation, so Bot Framework gives it no way to post there."""


class TeamsDelivery:
    """Where a proactive post goes: the reference in the target, or the one stored for the channel."""

    platform = Platform.TEAMS

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def reference(self, target: DeliveryTarget) -> ConversationReference:
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

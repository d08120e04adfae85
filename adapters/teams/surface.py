"""How a worker carries out a turn in Teams: every send is a proactive call through CloudAdapter's
`continue_conversation` with the conversation reference the activity carried, so a worker needs no
open request. Replies in a thread go to the asked message (`reply_to_activity`); updates replace the
card activity in place. Bot Framework cannot list a conversation's messages, so `find_sent` cannot
tell: the inbox row's record of the post (written as soon as the connector answers) is the guard.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import BotAdapter, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference
from botframework.connector.aio import ConnectorClient

from adapters.teams.cards import card_summary, reply_card
from adapters.teams.delivery import TeamsDelivery, card_activity
from bot.adapter import DeliveryTarget
from bot.models import ChatEvent, ConversationKind, Platform, Reply
from bot.services import Services

log = logging.getLogger(__name__)


def conversation_reference(raw: Any) -> ConversationReference:
    if not isinstance(raw, dict) or not raw:
        raise LookupError("the turn carries no conversation reference to answer through")
    reference = ConversationReference().deserialize(raw)
    if not reference.service_url or reference.conversation is None or not reference.conversation.id:
        raise LookupError("the conversation reference has no serviceUrl or conversation")
    return reference


class TeamsSurface:
    platform = Platform.TEAMS

    def __init__(self, services: Services, cloud: CloudAdapter, app_id: str) -> None:
        self.services = services
        self.cloud = cloud
        self.app_id = app_id
        self.delivery = TeamsDelivery(cloud, services.storage, app_id)

    async def _continue(self, reference: ConversationReference,
                        step: Callable[[TurnContext, ConnectorClient], Awaitable[None]]) -> None:
        failures: list[BaseException] = []

        async def callback(turn_context: TurnContext) -> None:
            try:
                await step(turn_context, turn_context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY])
            except Exception as exc:  # kept from the adapter's on_turn_error: the worker decides what next
                failures.append(exc)

        await self.cloud.continue_conversation(reference, callback, bot_app_id=self.app_id)
        if failures:
            raise failures[0]

    # learning: the payload carried the facts (bot/pipeline.py stores them) ----------------------

    async def learn(self, tenant_id: str, event: ChatEvent) -> ConversationKind | None:
        return None

    async def learn_channel(self, tenant_id: str, tenant: str, channel: str, user: str | None,
                            hint: str | None) -> None:
        return None

    async def with_links(self, tenant: str, reply: Reply) -> Reply:
        return reply

    # answering ---------------------------------------------------------------------------------

    async def send(self, event: ChatEvent, reply: Reply, *, key: str) -> dict[str, Any]:
        reference = conversation_reference(event.reference.get("reply_to"))
        posted: dict[str, Any] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            activity = TurnContext.apply_conversation_reference(card_activity(reply_card(reply), card_summary(reply)),
                                                                reference)
            if reference.activity_id:
                activity.reply_to_id = reference.activity_id
                response = await connector.conversations.reply_to_activity(reference.conversation.id,
                                                                           reference.activity_id, activity)
            else:
                activity.reply_to_id = None
                response = await connector.conversations.send_to_conversation(reference.conversation.id, activity)
            posted["activity_id"] = response.id if response is not None and response.id else ""

        await self._continue(reference, step)
        return {"platform": Platform.TEAMS.value, "activity_id": posted.get("activity_id", ""),
                "conversation_id": reference.conversation.id, "service_url": reference.service_url,
                "reply_to": event.reference.get("reply_to")}

    async def find_sent(self, event: ChatEvent, key: str, decision_id: str) -> dict[str, Any] | None:
        return None

    # clicks ------------------------------------------------------------------------------------

    async def update(self, reference: dict[str, Any], reader_private: bool, reply: Reply, *, expanded: bool,
                     admin: bool = False, note: str | None = None) -> None:
        """Replace the clicked card (Action.Submit fallback; Action.Execute is answered in the invoke)."""
        target = conversation_reference(reference.get("reply_to"))
        activity_id = reference.get("activity_id")

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            card = card_activity(reply_card(reply, expanded=expanded, note=note))
            if activity_id:
                card.id = str(activity_id)
                activity = TurnContext.apply_conversation_reference(card, target)
                await connector.conversations.update_activity(target.conversation.id, str(activity_id), activity)
            else:
                activity = TurnContext.apply_conversation_reference(card, target)
                activity.reply_to_id = None
                await connector.conversations.send_to_conversation(target.conversation.id, activity)

        await self._continue(target, step)

    async def notify(self, reference: dict[str, Any], user: str, text: str) -> None:
        try:
            target = conversation_reference(reference.get("reply_to"))
        except LookupError:
            return

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            activity = TurnContext.apply_conversation_reference(MessageFactory.text(text), target)
            activity.reply_to_id = None
            await connector.conversations.send_to_conversation(target.conversation.id, activity)

        await self._continue(target, step)

    # membership ---------------------------------------------------------------------------------

    async def joined(self, tenant_id: str, tenant: str, channel: str, reference: dict[str, Any]) -> None:
        """Added to a group chat: read its roster, so its history is shown only to people who are in it."""
        if reference.get("kind") != ConversationKind.GROUP.value:
            return
        target = conversation_reference(reference.get("reply_to"))
        workspace = self.services.storage.workspace

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            try:  # Bot Framework's roster call (TeamsInfo needs the original activity's channelData)
                members = await connector.conversations.get_conversation_members(target.conversation.id)
            except Exception as exc:  # the roster is an improvement, not a requirement
                log.warning("could not read the members of Teams chat %s: %s", channel, exc)
                return
            bot_id = target.bot.id if target.bot else None
            people = [m for m in members if m.id and m.id != bot_id]
            for member in people:
                await workspace.upsert_user(tenant_id, member.id, name=member.name or None)
            await workspace.set_members(tenant_id, channel, [m.id for m in people])

        await self._continue(target, step)

    async def forget(self, tenant: str, detail: dict[str, Any]) -> None:
        return None

    # digests -----------------------------------------------------------------------------------

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        return await self.delivery.post(target, reply, key=key)

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        return await self.delivery.find_posted(target, key)

"""The turn logic: store what Teams shows us, answer what is addressed to us, expand Why? in place.

Built on botbuilder's `ActivityHandler` for the dispatch by activity type. Card actions arrive two
ways and share one code path (`_act`):
- `Action.Execute` -> an `adaptiveCard/action` invoke, answered with the updated card in the invoke
  response. We build that `InvokeResponse` ourselves: with `CloudAdapter` the handler's default
  response is serialized twice and Teams gets a 500;
- the `Action.Submit` fallback -> a message whose `value` is our data, answered by updating the
  card's activity (`PUT .../activities/{replyToId}`).
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, InvokeResponse

from adapters.teams import normalize
from adapters.teams.cards import CARD_CONTENT_TYPE, Card, CardAction, parse_action, reply_card
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Reply, Trigger
from bot.services import Services

log = logging.getLogger(__name__)

NOT_AVAILABLE = "That explanation is not available to you (it may have expired or belong to another conversation)."
FEEDBACK_THANKS = "Thanks, your feedback was recorded."
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
# Edits and deletes are idempotent and reuse the edited message's id, so only these are claimed.
_DEDUPED = frozenset({ActivityTypes.message, ActivityTypes.conversation_update})


def card_activity(card: Card, summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = summary
    return activity


def invoke_card(card: Card) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.OK, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})


def invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.OK, body={
        "statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text})


def invoke_error(status: int, message: str) -> InvokeResponse:
    return InvokeResponse(status=status, body={
        "statusCode": status, "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest" if status == 400 else "Error", "message": message}})


class WhyBot(ActivityHandler):
    def __init__(self, services: Services) -> None:
        self.services = services

    # dispatch and dedupe ---------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Bot Framework redelivers on timeouts: handle each activity once, across replicas."""
        activity = turn_context.activity
        self.services.metrics.events.labels(platform=Platform.TEAMS.value, kind=str(activity.type)).inc()
        key = None
        if activity.type in _DEDUPED and activity.id:
            key = f"teams:{activity.type}:{activity.conversation.id}:{activity.id}"
            if not await self.services.storage.events.claim(key):
                self.services.metrics.duplicates.labels(platform=Platform.TEAMS.value).inc()
                log.info("duplicate Teams activity %s ignored", activity.id)
                return
        try:
            await super().on_turn(turn_context)
        except Exception:
            if key is not None and not turn_context.responded:
                await self.services.storage.events.release(key)  # nothing was said: let a retry try again
            raise

    # messages ----------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.value is not None and not (activity.text or "").strip():
            action = parse_action(activity.value)
            if action is not None:
                await self._submitted(turn_context, action)
            return
        message = normalize.message_of(activity)
        if message is None:
            return
        tenant_id = await self._remember(activity, message.conversation, message.user, message.user_name,
                                         message.reference)
        if message.addressed_to_bot:
            await self._answer(turn_context, normalize.chat_event(message, event_id=activity.id))
        # Stored after answering, so a question is never its own evidence.
        await self.services.ingest.message(tenant_id, normalize.history_item(message))

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.id:
            return
        conv, tenant_id = await self._located(activity)
        text = normalize.text_without_bot(activity)
        await self.services.ingest.edit(tenant_id, conv.channel, activity.id, text,
                                        normalize.parse_timestamp(activity))

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.id:
            return
        conv, tenant_id = await self._located(activity)
        await self.services.ingest.delete(tenant_id, conv.channel, activity.id)

    async def _located(self, activity: Activity) -> tuple[normalize.Conversation, str]:
        """Where an edited or deleted message lives: its conversation and our tenant key."""
        conv = normalize.conversation_of(activity)
        return conv, await self.services.ingest.tenant(Platform.TEAMS.value, conv.tenant)

    async def _answer(self, turn_context: TurnContext, event: ChatEvent) -> None:
        started = time.perf_counter()
        reply = await self.services.router.handle(event)
        self.services.metrics.reply_seconds.labels(skill=reply.rationale.skill).observe(
            time.perf_counter() - started)
        self.services.metrics.replies.labels(platform=Platform.TEAMS.value, skill=reply.rationale.skill).inc()
        await self._send_reply(turn_context, reply)

    async def _send_reply(self, turn_context: TurnContext, reply: Reply) -> None:
        response = await turn_context.send_activity(card_activity(reply_card(reply), reply.title or None))
        if reply.decision_id and response is not None and response.id:
            activity = turn_context.activity
            await self.services.storage.decisions.set_posted_ref(reply.decision_id, {
                "platform": Platform.TEAMS.value, "activity_id": response.id,
                "conversation_id": activity.conversation.id, "service_url": activity.service_url})

    async def _remember(self, activity: Activity, conv: normalize.Conversation, user: str | None,
                        user_name: str = "", reference: dict[str, Any] | None = None) -> str:
        """Tenant, channel (with its kind, so visibility rules hold), the person, and the reference."""
        workspace = self.services.storage.workspace
        tenant_id = await self.services.ingest.tenant(Platform.TEAMS.value, conv.tenant)
        team = normalize.team_of(activity) if conv.kind == ConversationKind.CHANNEL else None
        await workspace.upsert_channel(tenant_id, conv.channel, name=conv.channel_name, kind=conv.kind.value,
                                       is_private=conv.kind != ConversationKind.CHANNEL
                                       or normalize.private_channel(activity),
                                       # No team id in the payload: readable by its own channel only.
                                       audience_scope=team or (f"channel:{conv.channel}"
                                                               if conv.kind == ConversationKind.CHANNEL else None))
        if user:
            await workspace.upsert_user(tenant_id, user, name=user_name or None)
            if conv.kind != ConversationKind.CHANNEL:
                await workspace.add_member(tenant_id, conv.channel, user)
        if reference is not None:
            await self.services.storage.subscriptions.save_reference(tenant_id, conv.channel, reference)
        return tenant_id

    # membership --------------------------------------------------------------------------------

    async def on_members_added_activity(self, members_added: list[ChannelAccount],
                                        turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conv = normalize.conversation_of(activity)
        bot_id = activity.recipient.id if activity.recipient else None
        tenant_id = await self._remember(activity, conv, None, reference=normalize.reference_of(activity, conv))
        for member in members_added:
            if not member.id or member.id == bot_id:
                continue
            await self.services.storage.workspace.upsert_user(tenant_id, member.id, name=member.name or None)
            if conv.kind != ConversationKind.CHANNEL:
                await self.services.storage.workspace.add_member(tenant_id, conv.channel, member.id)
        if bot_id and any(m.id == bot_id for m in members_added):
            if conv.kind == ConversationKind.GROUP:
                await self._load_members(turn_context, tenant_id, conv)
            await self._welcome(turn_context, conv)

    async def on_members_removed_activity(self, members_removed: list[ChannelAccount],
                                          turn_context: TurnContext) -> None:
        conv = normalize.conversation_of(turn_context.activity)
        if conv.kind == ConversationKind.CHANNEL:
            return
        tenant_id = await self.services.ingest.tenant(Platform.TEAMS.value, conv.tenant)
        for member in members_removed:
            if member.id:
                await self.services.storage.workspace.remove_member(tenant_id, conv.channel, member.id)

    async def _load_members(self, turn_context: TurnContext, tenant_id: str, conv: normalize.Conversation) -> None:
        """A group chat's full roster, so its history is shown only to people who are in it."""
        try:
            members = await TeamsInfo.get_members(turn_context)
        except Exception as exc:  # roster is an improvement, not a requirement: keep the members we saw
            log.warning("could not read the members of Teams chat %s: %s", conv.channel, exc)
            return
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        people = [m for m in members if m.id and m.id != bot_id]
        for member in people:
            await self.services.storage.workspace.upsert_user(tenant_id, member.id, name=member.name or None)
        await self.services.storage.workspace.set_members(tenant_id, conv.channel, [m.id for m in people])

    async def _welcome(self, turn_context: TurnContext, conv: normalize.Conversation) -> None:
        activity = turn_context.activity
        user = activity.from_property.id if activity.from_property and activity.from_property.id else "unknown"
        event = ChatEvent(platform=Platform.TEAMS, tenant=conv.tenant, channel=conv.channel,
                          conversation_kind=conv.kind, user=user, trigger=Trigger.MESSAGE, command="help",
                          private_reply=conv.private, event_id=activity.id,
                          reference=normalize.reference_of(activity, conv))
        await self._answer(turn_context, event)

    # card actions ------------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != ADAPTIVE_CARD_ACTION:
            return InvokeResponse(status=HTTPStatus.OK)  # other invokes (e.g. config) are not ours: ignore
        value = activity.value if isinstance(activity.value, dict) else {}
        action_value = value.get("action")
        action = parse_action(action_value.get("data") if isinstance(action_value, dict) else None)
        reader = normalize.reader_of(activity)
        if action is None or reader is None:
            return invoke_error(400, "This card action is not one of whybot's.")
        if action.whybot == "command":
            event = normalize.command_event(activity, action.command, event_id=activity.id)
            if event is None:
                return invoke_error(400, "This card action has no sender.")
            await self._answer(turn_context, event)
            return invoke_message("Done.")
        card = await self._act(action, reader)
        return invoke_card(card) if card is not None else invoke_message(NOT_AVAILABLE)

    async def _submitted(self, turn_context: TurnContext, action: CardAction) -> None:
        activity = turn_context.activity
        if action.whybot == "command":
            event = normalize.command_event(activity, action.command, event_id=activity.id)
            if event is not None:
                await self._answer(turn_context, event)
            return
        reader = normalize.reader_of(activity)
        card = await self._act(action, reader) if reader is not None else None
        if card is None:
            await turn_context.send_activity(MessageFactory.text(NOT_AVAILABLE))
            return
        target = activity.reply_to_id or await self._posted_activity(action.decision)
        if target:
            update = card_activity(card)
            update.id = target
            await turn_context.update_activity(update)
        else:
            await turn_context.send_activity(card_activity(card))

    async def _posted_activity(self, decision_id: str) -> str | None:
        record = await self.services.storage.decisions.get(decision_id)
        ref = record.posted_ref if record is not None else None
        return str(ref["activity_id"]) if ref and ref.get("activity_id") else None

    async def _act(self, action: CardAction, reader: Reader) -> Card | None:
        """The card to show after a Why?/Hide/feedback click, or None when the reader may not see it."""
        router = self.services.router
        if action.whybot == "feedback" and (
                action.helpful is None
                or not await router.feedback(action.decision, reader, action.helpful, action.item)):
            return None
        reply = await router.explain(action.decision, reader)
        if reply is None:
            return None
        if action.whybot == "why":
            self.services.metrics.why_clicks.labels(platform=Platform.TEAMS.value).inc()
            return reply_card(reply, expanded=True)
        if action.whybot == "hide":
            return reply_card(reply, expanded=False)
        return reply_card(reply, expanded=action.expanded, note=FEEDBACK_THANKS)

"""Teams ingress: botbuilder's `ActivityHandler` dispatches each authenticated activity; each handler
normalizes it into a turn and commits it to the inbox before CloudAdapter answers Bot Framework. A
worker then answers through the surface (surface.py). An inbox write that fails raises, so the request
fails with a 5xx and Bot Framework redelivers.

Card actions arrive two ways:
- `Action.Execute` -> an `adaptiveCard/action` invoke, which Teams wants answered with the updated card
  in the invoke response. Why?, Hide and feedback are a database read (or one write), so they are
  answered here, at once; a follow-up command is queued like a typed one. We build the
  `InvokeResponse` ourselves: with `CloudAdapter` the handler's default response is serialized twice
  and Teams gets a 500;
- the `Action.Submit` fallback -> a message whose `value` is our data: queued, and the worker updates
  the card's activity.
Teams' own 👍/👎 under an answer (its feedback loop) arrive as a `message/submitAction` invoke naming the
message, not our decision: queued as feedback on that message and answered 200 with an empty body.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, InvokeResponse

from adapters.teams import normalize
from adapters.teams.cards import CARD_CONTENT_TYPE, Card, CardAction, parse_action, reply_card
from adapters.teams.delivery import native_feedback
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Trigger
from bot.services import Services
from bot.turns import (
    AnswerTurn,
    ChannelFacts,
    ExplainTurn,
    FeedbackTurn,
    MembershipTurn,
    MessageTurn,
    PersonFacts,
    Priority,
)
from bot.unanswered import Reason

log = logging.getLogger(__name__)

NOT_AVAILABLE = "That explanation is not available to you (it may have expired or belong to another conversation)."
FEEDBACK_THANKS = "Thanks, your feedback was recorded."
WORKING = "Working on it…"
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
SUBMIT_ACTION = "message/submitAction"  # Teams' feedback loop (👍/👎 under an AI message)


def invoke_card(card: Card) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.OK, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})


def invoke_message(text: str) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.OK, body={
        "statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text})


def invoke_error(status: int, message: str) -> InvokeResponse:
    return InvokeResponse(status=status, body={
        "statusCode": status, "type": "application/vnd.microsoft.error",
        "value": {"code": "BadRequest" if status == 400 else "Error", "message": message}})


def activity_key(activity: Activity) -> str:
    """Bot Framework's redelivery carries the same id; edits reuse the message id, so they add their time."""
    conversation = activity.conversation.id if activity.conversation else ""
    stamp = ""
    if activity.type == ActivityTypes.message_update or activity.type == ActivityTypes.message_delete:
        stamp = f":{activity.timestamp.isoformat() if activity.timestamp else ''}"
    return f"teams:{activity.type}:{conversation}:{activity.id or ''}{stamp}"


def reply_to(activity: Activity) -> dict[str, Any]:
    """The full conversation reference, pointed at this activity, so the answer lands in its thread."""
    data: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
    return data


def channel_facts(activity: Activity, conv: normalize.Conversation) -> ChannelFacts:
    team = normalize.team_of(activity) if conv.kind == ConversationKind.CHANNEL else None
    return ChannelFacts(name=conv.channel_name, kind=conv.kind,
                        is_private=conv.kind != ConversationKind.CHANNEL or normalize.private_channel(activity),
                        # No team id in the payload: readable by its own channel only.
                        audience_scope=team or (f"channel:{conv.channel}" if conv.kind == ConversationKind.CHANNEL
                                                else None))


class WhyBot(ActivityHandler):
    def __init__(self, services: Services) -> None:
        self.services = services

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        kind = str(activity.type) if activity.type in ActivityTypes.__members__.values() else "other"
        self.services.metrics.events.labels(platform=Platform.TEAMS.value, kind=kind).inc()
        await super().on_turn(turn_context)

    def _with_reply_to(self, event: ChatEvent, activity: Activity) -> ChatEvent:
        return event.model_copy(update={"reference": {**event.reference, "reply_to": reply_to(activity)}})

    async def _answer(self, activity: Activity, event: ChatEvent, priority: Priority = Priority.ANSWER,
                      unanswerable: Reason | None = None) -> None:
        conv = normalize.conversation_of(activity)
        await self.services.inbox.put(activity_key(activity), AnswerTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, event=self._with_reply_to(event, activity),
            channel=channel_facts(activity, conv), reference=normalize.reference_of(activity, conv),
            unanswerable=unanswerable), priority)

    # messages ----------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.value is not None and not (activity.text or "").strip():
            action = parse_action(activity.value)
            if action is not None:
                await self._submitted(activity, action)
            return
        message = normalize.message_of(activity)
        if message is None:
            if normalize.carries_files(activity) and normalize.kind_of(activity) == ConversationKind.DM:
                # Only a file, in the personal chat: nothing to store or read, but the person is told why.
                event = normalize.command_event(activity, "", event_id=activity.id)
                if event is not None:
                    await self._answer(activity, event, unanswerable=Reason.UNREADABLE)
            return
        conv = message.conversation
        answer: ChatEvent | None = None
        unanswerable: Reason | None = None
        if message.addressed_to_bot:
            answer = self._with_reply_to(normalize.chat_event(message, event_id=activity.id), activity)
            if not message.text and normalize.carries_files(activity):
                unanswerable = Reason.UNREADABLE
        elif normalize.unasked_question(activity, message):
            answer = self._with_reply_to(normalize.chat_event(message, event_id=activity.id), activity)
            answer = answer.model_copy(update={"trigger": Trigger.UNASKED, "thread_id": message.message_id})
        # An unasked question is history first: answered only where the channel's rule says so.
        urgent = answer is not None and answer.trigger != Trigger.UNASKED
        await self.services.inbox.put(activity_key(activity), MessageTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, op="new", channel_id=conv.channel,
            message=normalize.history_item(message), answer=answer, channel=channel_facts(activity, conv),
            person=PersonFacts(id=message.user, name=message.user_name or None), reference=message.reference,
            unanswerable=unanswerable), Priority.ANSWER if urgent else Priority.HISTORY)

    async def on_message_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.id:
            return
        conv = normalize.conversation_of(activity)
        await self.services.inbox.put(activity_key(activity), MessageTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, op="undelete" if normalize.is_undelete(activity) else "edit",
            channel_id=conv.channel, external_id=activity.id,
            text=normalize.text_without_bot(activity), edited_at=normalize.parse_timestamp(activity)),
            Priority.HISTORY)

    async def on_message_delete_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.id:
            return
        conv = normalize.conversation_of(activity)
        await self.services.inbox.put(activity_key(activity), MessageTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, op="delete", channel_id=conv.channel,
            external_id=activity.id), Priority.HISTORY)

    # membership --------------------------------------------------------------------------------

    async def on_members_added_activity(self, members_added: list[ChannelAccount],
                                        turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conv = normalize.conversation_of(activity)
        bot_id = activity.recipient.id if activity.recipient else None
        facts = channel_facts(activity, conv)
        for member in members_added:
            if not member.id:
                continue
            is_bot = member.id == bot_id
            await self.services.inbox.put(f"{activity_key(activity)}:{member.id}", MembershipTurn(
                platform=Platform.TEAMS, tenant=conv.tenant, channel_id=conv.channel, user=member.id, joined=True,
                is_bot=is_bot, channel=facts, person=None if is_bot else PersonFacts(id=member.id,
                                                                                    name=member.name or None),
                reference={"kind": conv.kind.value, "reply_to": reply_to(activity),
                           "conversation": normalize.reference_of(activity, conv)}), Priority.MEMBERSHIP)
        if bot_id and any(m.id == bot_id for m in members_added):
            await self._welcome(activity, conv)

    async def on_members_removed_activity(self, members_removed: list[ChannelAccount],
                                          turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conv = normalize.conversation_of(activity)
        if conv.kind == ConversationKind.CHANNEL:
            return
        for member in members_removed:
            if member.id:
                await self.services.inbox.put(f"{activity_key(activity)}:{member.id}", MembershipTurn(
                    platform=Platform.TEAMS, tenant=conv.tenant, channel_id=conv.channel, user=member.id,
                    joined=False), Priority.MEMBERSHIP)

    async def _welcome(self, activity: Activity, conv: normalize.Conversation) -> None:
        user = activity.from_property.id if activity.from_property and activity.from_property.id else "unknown"
        event = ChatEvent(platform=Platform.TEAMS, tenant=conv.tenant, channel=conv.channel,
                          conversation_kind=conv.kind, user=user, trigger=Trigger.MESSAGE, command="help",
                          private_reply=conv.private, event_id=activity.id,
                          reference=normalize.reference_of(activity, conv))
        welcome = self._with_reply_to(event, activity)
        welcome.reference["reply_to"]["activity_id"] = None  # a new message, not a reply to the join
        await self.services.inbox.put(f"{activity_key(activity)}:welcome", AnswerTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, event=welcome, channel=channel_facts(activity, conv)),
            Priority.MEMBERSHIP)

    # card actions ------------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name == SUBMIT_ACTION:
            return await self._native_feedback(activity)
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
            await self._answer(activity, event, Priority.COMMAND)
            return invoke_message(WORKING)
        card = await self._act(action, reader, activity.channel_id)
        return invoke_card(card) if card is not None else invoke_message(NOT_AVAILABLE)

    async def _native_feedback(self, activity: Activity) -> InvokeResponse:
        """Teams' own 👍/👎: queued for the worker (which finds the decision the message was posted for) and
        answered 200 with an empty body, as Teams requires. A message we do not know gets the same 200 and
        nothing is stored, so the answer reveals nothing."""
        try:
            feedback = normalize.native_feedback(activity)
        except ValueError as exc:
            log.info("rejected a Teams feedback invoke: %s", exc)
            return invoke_error(400, "This feedback is malformed.")
        reader = normalize.reader_of(activity)
        if feedback is None:
            return InvokeResponse(status=HTTPStatus.OK)  # another message action: not ours
        if reader is None:
            return invoke_error(400, "This feedback has no sender.")
        conv = normalize.conversation_of(activity)
        await self.services.inbox.put(activity_key(activity), FeedbackTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, message_id=feedback.message_id, reader=reader,
            helpful=feedback.helpful, comment=feedback.comment, acknowledged=True,
            reference={"reply_to": reply_to(activity)}), Priority.CLICK)
        return InvokeResponse(status=HTTPStatus.OK)

    async def _submitted(self, activity: Activity, action: CardAction) -> None:
        if action.whybot == "command":
            event = normalize.command_event(activity, action.command, event_id=activity.id)
            if event is not None:
                await self._answer(activity, event, Priority.COMMAND)
            return
        reader = normalize.reader_of(activity)
        if reader is None:
            return
        conv = normalize.conversation_of(activity)
        reference = {"reply_to": reply_to(activity), **({"activity_id": activity.reply_to_id}
                                                        if activity.reply_to_id else {})}
        if action.whybot == "feedback" and action.helpful is not None:
            await self.services.inbox.put(activity_key(activity), FeedbackTurn(
                platform=Platform.TEAMS, tenant=conv.tenant, decision_id=action.decision, reader=reader,
                helpful=action.helpful, item_id=action.item, reference=reference), Priority.CLICK)
            return
        await self.services.inbox.put(activity_key(activity), ExplainTurn(
            platform=Platform.TEAMS, tenant=conv.tenant, decision_id=action.decision, reader=reader,
            expanded=action.whybot == "why" or (action.whybot != "hide" and action.expanded),
            reference=reference), Priority.CLICK)

    async def _act(self, action: CardAction, reader: Reader, channel_id: str | None) -> Card | None:
        """The card to show after a Why?/Hide/feedback click, or None when the reader may not see it."""
        router = self.services.router
        if action.whybot == "feedback" and (
                action.helpful is None
                or not await router.feedback(action.decision, reader, action.helpful, action.item)):
            return None
        reply = await router.explain(action.decision, reader)
        if reply is None:
            return None
        buttons = not native_feedback(channel_id)  # Teams keeps its own 👍/👎 under the message
        if action.whybot == "why":
            self.services.metrics.why_clicks.labels(platform=Platform.TEAMS.value).inc()
            return reply_card(reply, expanded=True, feedback_buttons=buttons)
        if action.whybot == "hide":
            return reply_card(reply, expanded=False, feedback_buttons=buttons)
        return reply_card(reply, expanded=action.expanded, note=FEEDBACK_THANKS, feedback_buttons=buttons)

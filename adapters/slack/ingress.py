"""Bolt listeners: each turns one Slack payload into a turn and commits it to the inbox before Bolt
acknowledges (the app runs with process_before_response, so the 200 leaves only after the commit).

- The inbox could not take the turn: the listener raises, Bolt answers 500, Slack retries later.
- A signed payload we cannot read (wrong types, missing fields): logged as skipped with its reason and
  acknowledged, since a retry of the same bytes would fail the same way.
- A retried delivery: the inbox already has its key; acknowledged, nothing queued twice.
Nothing here calls the Web API or runs a skill: that is the worker's (surface.py, bot/pipeline.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack import assistant, home, normalize, render
from bot.inbox import InboxUnavailable
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Trigger
from bot.services import Services
from bot.turns import (
    AnswerTurn,
    ExplainTurn,
    FeedbackTurn,
    HomeChange,
    HomeTurn,
    MembershipTurn,
    MessageTurn,
    OpenedTurn,
    Priority,
    Turn,
    UninstallTurn,
)
from bot.unanswered import Reason

log = logging.getLogger(__name__)

PUBLIC_COMMAND_SKILLS = frozenset({"digest"})  # slash commands about the channel itself answer in it
WORKING = "Working on it…"
KNOWN_SUBTYPES = frozenset({"message", "message_changed", "message_deleted", *map(str, filter(None,
                                                                                          normalize.SPOKEN_SUBTYPES))})
Listener = Callable[..., Awaitable[None]]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` if it is an object, {} if absent; Unreadable if it is anything else."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise normalize.Unreadable(f"`{key}` is a {type(value).__name__}, not an object")
    return value


def _value(action: dict[str, Any]) -> str:
    """A button's value: a string (an empty or unknown one is answered "not available" by the worker)."""
    return normalize.text_field(action, "value") or ""


def _team(context: AsyncBoltContext, body: dict[str, Any]) -> str:
    team = context.team_id or body.get("team_id") or _obj(body.get("team")).get("id")
    return team if isinstance(team, str) else ""


def delivery_key(body: dict[str, Any], event: dict[str, Any]) -> str:
    """Slack's event id; without one (never seen from Slack), the message's own coordinates."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"slack:{event_id}"
    return f"slack:{event.get('type')}:{event.get('channel')}:{event.get('ts') or event.get('event_ts')}"


class SlackIngress:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _count(self, kind: str) -> None:
        self.services.metrics.events.labels("slack", kind).inc()

    async def _put(self, key: str, turn: Turn, priority: Priority) -> bool:
        return await self.services.inbox.put(key, turn, priority)

    def guarded(self, listener: Listener) -> Listener:
        """Unreadable payloads are skipped (logged, acknowledged); an inbox failure propagates (Bolt's 500)."""

        @functools.wraps(listener)  # Bolt reads the wrapped signature to inject arguments
        async def run(*args: Any, **kwargs: Any) -> None:
            try:
                await listener(*args, **kwargs)
            except InboxUnavailable:
                raise
            except Exception as exc:
                log.warning("skipped a Slack payload whybot cannot read (%s: %s)", type(exc).__name__, str(exc)[:300])
                self.services.metrics.errors.labels("slack_unreadable").inc()
                ack = kwargs.get("ack")
                if ack is not None:
                    await ack()

        return run

    # events ------------------------------------------------------------------------------------

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        self._count("app_mention")
        team = _team(context, body)
        channel = _text(event.get("channel"))
        hint = event.get("channel_type") if isinstance(event.get("channel_type"), str) else None
        kind = normalize.kind_of(None, channel, hint)
        bot = normalize.by_a_bot(event)
        chat = (normalize.non_person_event if bot else normalize.mention_event)(
            body, event, team_id=team, bot_user_id=context.bot_user_id, kind=kind)
        chat = chat.model_copy(update={"reference": {**chat.reference, "channel_type": hint}})
        await self._put(delivery_key(body, event), AnswerTurn(
            platform=Platform.SLACK, tenant=team, event=chat, unanswerable=Reason.NOT_A_PERSON if bot else None),
            Priority.ANSWER)

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        """History for every message we can see; DMs to the bot are also answered."""
        subtype = event.get("subtype")
        known = isinstance(subtype, str) and subtype in KNOWN_SUBTYPES  # a bounded label: never the payload's
        self._count(f"message.{subtype}" if known else ("message" if subtype is None else "message.other"))
        team = _team(context, body)
        channel = _text(event.get("channel"))
        hint = event.get("channel_type") if isinstance(event.get("channel_type"), str) else None
        key = delivery_key(body, event)
        base: dict[str, Any] = {"platform": Platform.SLACK, "tenant": team, "channel_id": channel,
                                "channel_hint": hint}
        if subtype == "message_changed":
            if _obj(event.get("message")).get("subtype") == assistant.THREAD_ROOT:
                return  # Slack retitled an assistant thread: its root is no message anyone said
            edit = normalize.edit_of(event)
            if edit is not None:
                await self._put(key, MessageTurn(**base, op="edit", external_id=edit.ts, text=edit.text,
                                                 edited_at=edit.edited_at), Priority.HISTORY)
            return
        if subtype == "message_deleted":
            deleted = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
            if deleted:
                await self._put(key, MessageTurn(**base, op="delete", external_id=str(deleted)), Priority.HISTORY)
            return
        item = normalize.new_message(event, bot_user_id=context.bot_user_id)
        if item is None:
            return
        answer: ChatEvent | None = None
        follow_up = False
        unanswerable: Reason | None = None
        bot_user = context.bot_user_id
        kind = normalize.kind_of(None, channel, hint)
        if normalize.answerable_dm(event, bot_user_id=bot_user):
            answer = self._in_assistant(normalize.direct_message_event(body, event, team_id=team,
                                                                       bot_user_id=bot_user), event, bot_user)
        elif normalize.unreadable_dm(event, bot_user_id=bot_user):
            answer = normalize.direct_message_event(body, event, team_id=team, bot_user_id=bot_user)
            unanswerable = Reason.UNREADABLE
        elif normalize.bot_dm(event, bot_user_id=bot_user, bot_id=context.bot_id):
            answer = normalize.non_person_event(body, event, team_id=team, bot_user_id=bot_user, kind=kind)
            unanswerable = Reason.NOT_A_PERSON
        elif normalize.thread_follow_up(event, bot_user_id=bot_user):
            answer = normalize.thread_message_event(body, event, team_id=team, bot_user_id=bot_user, kind=kind)
            follow_up = True
        elif normalize.unasked_question(event, bot_user_id=bot_user):
            answer = normalize.thread_message_event(body, event, team_id=team, bot_user_id=bot_user, kind=kind)
            answer = answer.model_copy(update={"trigger": Trigger.UNASKED})
        # An unasked question is history first: answered only where the channel's rule says so.
        urgent = answer is not None and answer.trigger != Trigger.UNASKED
        await self._put(key, MessageTurn(**base, op="new", message=item, answer=answer,
                                         answer_in_conversation_only=follow_up, unanswerable=unanswerable),
                        Priority.ANSWER if urgent else Priority.HISTORY)

    @staticmethod
    def _in_assistant(chat: ChatEvent, event: dict[str, Any], bot_user_id: str | None) -> ChatEvent:
        """A DM asked in the agent view (it carries what is in view, and opens a thread of its own) or in an
        assistant thread (answered there; the worker reads the channel in view from the thread)."""
        ts = chat.message_id or ""
        if assistant.is_agent_view(event):
            thread = chat.thread_id or ts
            return chat.model_copy(update={
                "thread_id": thread, "viewing_channel": assistant.viewed_channel(event),
                "reference": assistant.mark(chat.reference, view="agent", thread_ts=thread, bot_user_id=bot_user_id)})
        if chat.thread_id:
            return chat.model_copy(update={"reference": assistant.mark(
                chat.reference, view="assistant", thread_ts=chat.thread_id, bot_user_id=bot_user_id)})
        return chat

    # the assistant (side panel) and agent (Messages tab) views -----------------------------------

    async def _opened(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, *,
                      user: str, channel: str, thread_ts: str | None, viewing: str | None, greet: bool,
                      view: assistant.View, slack_context: dict[str, str] | None = None) -> None:
        team = _team(context, body)
        reference = {"team_id": team, "channel": channel, "assistant": view,
                     **({"thread_ts": thread_ts} if thread_ts else {}),
                     **({"bot_user_id": context.bot_user_id} if context.bot_user_id else {}),
                     **({"context": slack_context} if slack_context is not None else {})}
        await self._put(delivery_key(body, event), OpenedTurn(
            platform=Platform.SLACK, tenant=team, channel_id=channel, user=user, thread_id=thread_ts,
            viewing_channel=viewing, greet=greet, reference=reference), Priority.COMMAND)

    async def on_assistant_thread_started(self, body: dict[str, Any], event: dict[str, Any],
                                          context: AsyncBoltContext) -> None:
        """The side panel opened a thread: greet, suggest, and keep the channel in view with the greeting."""
        self._count("assistant_thread_started")
        thread = assistant.assistant_thread(event)
        await self._opened(body, event, context, user=thread.user, channel=thread.channel,
                           thread_ts=thread.thread_ts, viewing=thread.viewing, greet=True, view="assistant",
                           slack_context=thread.context)

    async def on_assistant_context_changed(self, body: dict[str, Any], event: dict[str, Any],
                                           context: AsyncBoltContext) -> None:
        self._count("assistant_thread_context_changed")
        thread = assistant.assistant_thread(event)
        await self._opened(body, event, context, user=thread.user, channel=thread.channel,
                           thread_ts=thread.thread_ts, viewing=thread.viewing, greet=False, view="assistant",
                           slack_context=thread.context)

    async def on_messages_tab_opened(self, body: dict[str, Any], event: dict[str, Any],
                                     context: AsyncBoltContext) -> None:
        """Agent view: opening the DM is `app_home_opened` on the Messages tab; prompts go to its top."""
        self._count("app_home_opened.messages")
        await self._opened(body, event, context, user=normalize.text_field(event, "user", required=True) or "",
                           channel=normalize.text_field(event, "channel", required=True) or "", thread_ts=None,
                           viewing=assistant.viewed_channel(event), greet=False, view="agent")

    async def on_app_context_changed(self, body: dict[str, Any], event: dict[str, Any],
                                     context: AsyncBoltContext) -> None:
        """Agent view: the person looks at something else; the prompts follow (messages carry the context)."""
        self._count("app_context_changed")
        user = normalize.text_field(event, "user")
        channel = normalize.text_field(event, "channel")
        if not user or not channel:
            return  # nowhere to put the prompts; the next message brings its own context anyway
        await self._opened(body, event, context, user=user, channel=channel, thread_ts=None,
                           viewing=assistant.viewed_channel(event), greet=False, view="agent")

    async def on_member_joined(self, body: dict[str, Any], event: dict[str, Any],
                               context: AsyncBoltContext) -> None:
        """Someone joined: membership for visibility. The bot joined: learn the channel and backfill it."""
        self._count("member_joined_channel")
        user = _text(event.get("user"))
        await self._put(delivery_key(body, event), MembershipTurn(
            platform=Platform.SLACK, tenant=_team(context, body), channel_id=_text(event.get("channel")), user=user,
            joined=True, is_bot=bool(user) and user == context.bot_user_id,
            reference={"channel_type": event.get("channel_type"), "bot_user_id": context.bot_user_id}),
            Priority.MEMBERSHIP)

    async def on_member_left(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        self._count("member_left_channel")
        user = _text(event.get("user"))
        await self._put(delivery_key(body, event), MembershipTurn(
            platform=Platform.SLACK, tenant=_team(context, body), channel_id=_text(event.get("channel")), user=user,
            joined=False, is_bot=bool(user) and user == context.bot_user_id), Priority.MEMBERSHIP)

    async def on_app_uninstalled(self, body: dict[str, Any], event: dict[str, Any],
                                 context: AsyncBoltContext) -> None:
        self._count("app_uninstalled")
        await self._put(delivery_key(body, event), UninstallTurn(
            platform=Platform.SLACK, tenant=_team(context, body), reason="the app was uninstalled",
            detail={"uninstalled": True, "enterprise_id": context.enterprise_id},
            forget_data=self.services.settings.slack_delete_data_on_uninstall), Priority.MEMBERSHIP)

    async def on_tokens_revoked(self, body: dict[str, Any], event: dict[str, Any],
                                context: AsyncBoltContext) -> None:
        self._count("tokens_revoked")
        tokens = _obj(event.get("tokens"))
        oauth_users = [u for u in tokens.get("oauth") or [] if isinstance(u, str)]
        bot = bool(tokens.get("bot"))
        await self._put(delivery_key(body, event), UninstallTurn(
            platform=Platform.SLACK, tenant=_team(context, body), reason="the bot token was revoked",
            detail={"oauth_users": oauth_users, "bot": bot, "enterprise_id": context.enterprise_id},
            forget_data=bot and self.services.settings.slack_delete_data_on_uninstall), Priority.MEMBERSHIP)

    async def on_home_opened(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        """The Home tab opened: draw it (the Messages tab of App Home needs nothing)."""
        self._count("app_home_opened")
        if event.get("tab") != "home":
            return
        user = normalize.text_field(event, "user", required=True) or ""
        await self._put(delivery_key(body, event), HomeTurn(platform=Platform.SLACK, tenant=_team(context, body),
                                                            user=user), Priority.COMMAND)

    async def on_other_event(self) -> None:
        """Events we are subscribed to but do not use: acked (200) so Slack does not retry them."""
        self._count("other")

    # the slash command -------------------------------------------------------------------------

    async def on_command(self, ack: Callable[..., Awaitable[None]], command: dict[str, Any]) -> None:
        self._count("command")
        name = command.get("channel_name")
        hint = "im" if name == "directmessage" else ("mpim" if name == "privategroup" else None)
        channel = _text(command.get("channel_id"))
        kind = normalize.kind_of(None, channel, hint)
        chat = normalize.command_event(command, kind=kind)
        chat = chat.model_copy(update={"reference": {**chat.reference, "channel_type": hint}})
        skill, _, _ = self.services.router.route(chat)
        if skill.name in PUBLIC_COMMAND_SKILLS and kind != ConversationKind.DM:
            chat = chat.model_copy(update={"private_reply": False})
        trigger = _text(command.get("trigger_id")) or f"{channel}:{command.get('user_id')}:{chat.text}"
        await self._put(f"slack:command:{trigger}", AnswerTurn(platform=Platform.SLACK, tenant=chat.tenant, event=chat),
                        Priority.COMMAND)
        await ack(text=WORKING, response_type="ephemeral")

    # clicks: one listener per action id --------------------------------------------------------

    def _reader(self, body: dict[str, Any], context: AsyncBoltContext) -> tuple[Reader, dict[str, Any]]:
        """Who clicked where; Unreadable when the click's user, container, channel or message is malformed
        (a reader with an empty user id would be answered as nobody)."""
        container = _object(body, "container")
        channel_obj = _object(body, "channel")
        user_obj = _object(body, "user")
        message = _object(body, "message")
        team = _team(context, body)
        user = normalize.text_field(user_obj, "id", required=True) or ""
        channel = normalize.text_field(container, "channel_id") or normalize.text_field(channel_obj, "id") or ""
        ts = normalize.text_field(message, "ts")
        reader = Reader(platform=Platform.SLACK, tenant=team, user=user, channel=channel or None,
                        private=container.get("is_ephemeral") is True)
        reference = {"team_id": team, "channel": channel,
                     "message_ts": normalize.text_field(container, "message_ts") or ts,
                     "thread_ts": normalize.text_field(message, "thread_ts") or ts,
                     "response_url": normalize.text_field(body, "response_url")}
        return reader, {k: v for k, v in reference.items() if v}

    @staticmethod
    def _click_key(body: dict[str, Any], action: dict[str, Any]) -> str:
        return f"slack:action:{_text(body.get('trigger_id'))}:{_text(action.get('action_id'))}:" \
               f"{_text(action.get('action_ts'))}"

    async def _explain(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                       context: AsyncBoltContext, *, expanded: bool, admin: bool = False) -> None:
        await self._click(ack, body, action, context, lambda reader, ref: ExplainTurn(
            platform=Platform.SLACK, tenant=reader.tenant, decision_id=_value(action)[:64],
            reader=reader, expanded=expanded, admin=admin, reference=ref))

    async def _click(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                     context: AsyncBoltContext, make: Callable[[Reader, dict[str, Any]], Turn | None]) -> None:
        action_id = _text(action.get("action_id"))
        family = render.FOLLOW_UP if action_id.startswith(render.FOLLOW_UP) else action_id
        self._count(f"action.{family}" if family in render.ACTION_IDS else "action.other")
        reader, reference = self._reader(body, context)
        turn = make(reader, reference)
        if turn is None:
            raise normalize.Unreadable(f"a {family or 'click'} whose value names nothing whybot knows")
        await self._put(self._click_key(body, action), turn, Priority.CLICK)
        await ack()

    async def on_why(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                     context: AsyncBoltContext) -> None:
        await self._explain(ack, body, action, context, expanded=True)

    async def on_hide(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                      context: AsyncBoltContext) -> None:
        await self._explain(ack, body, action, context, expanded=False)

    async def on_admin(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                       context: AsyncBoltContext) -> None:
        await self._explain(ack, body, action, context, expanded=True, admin=True)

    async def _vote(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                    context: AsyncBoltContext, *, helpful: bool) -> None:
        value = render.decode_value(_value(action))
        await self._click(ack, body, action, context, lambda reader, ref: FeedbackTurn(
            platform=Platform.SLACK, tenant=reader.tenant, decision_id=value["d"], reader=reader, helpful=helpful,
            item_id=value.get("i", ""), reference=ref) if value.get("d") else None)

    async def on_helpful(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                         context: AsyncBoltContext) -> None:
        await self._vote(ack, body, action, context, helpful=True)

    async def on_unhelpful(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                           context: AsyncBoltContext) -> None:
        await self._vote(ack, body, action, context, helpful=False)

    async def on_item_feedback(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any],
                               action: dict[str, Any], context: AsyncBoltContext) -> None:
        value = render.decode_value(_value(_object(action, "selected_option")))
        await self._click(ack, body, action, context, lambda reader, ref: FeedbackTurn(
            platform=Platform.SLACK, tenant=reader.tenant, decision_id=value["d"], reader=reader,
            helpful=value.get("h") == "1", item_id=value["i"], reference=ref)
            if value.get("d") and value.get("i") else None)

    async def on_follow_up(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                           context: AsyncBoltContext) -> None:
        """A suggested next command, run as if typed in the same thread (or privately, if clicked there)."""
        value = render.decode_value(_value(action))

        def make(reader: Reader, ref: dict[str, Any]) -> Turn | None:
            if not value.get("c") or not reader.channel:
                return None
            thread_ts = ref.get("thread_ts")
            chat = ChatEvent(platform=Platform.SLACK, tenant=reader.tenant, channel=reader.channel,
                             conversation_kind=normalize.kind_of(None, reader.channel), user=reader.user,
                             text=value["c"], trigger=Trigger.ACTION, thread_id=thread_ts,
                             private_reply=reader.private,
                             reference=normalize.reference(reader.tenant, reader.channel, thread_ts=thread_ts,
                                                           response_url=ref.get("response_url") if reader.private
                                                           else None, user=reader.user))
            return AnswerTurn(platform=Platform.SLACK, tenant=reader.tenant, event=chat)

        await self._click(ack, body, action, context, make)

    # App Home: one listener per action id; each change is a turn, and the worker redraws the home -------

    async def _home_click(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                          context: AsyncBoltContext, *, why: str | None = None,
                          change: Callable[[], HomeChange | None] | None = None) -> None:
        action_id = _text(action.get("action_id"))
        self._count(f"action.{action_id}" if action_id in home.HOME_ACTION_IDS else "action.other")
        user = normalize.text_field(_object(body, "user"), "id", required=True) or ""
        changed = change() if change is not None else None
        if change is not None and changed is None:
            raise normalize.Unreadable(f"a {action_id or 'click'} in App Home whose value names nothing whybot knows")
        turn = HomeTurn(platform=Platform.SLACK, tenant=_team(context, body), user=user, why=why, change=changed)
        await self._put(self._click_key(body, action), turn, Priority.CLICK)
        await ack()

    async def on_home_why(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                          context: AsyncBoltContext) -> None:
        await self._home_click(ack, body, action, context, why=_value(action)[:64] or None)

    async def on_home_hide(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                           context: AsyncBoltContext) -> None:
        await self._home_click(ack, body, action, context)

    async def on_home_add(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                          context: AsyncBoltContext) -> None:
        channel = normalize.text_field(action, "selected_conversation") or ""
        await self._home_click(ack, body, action, context, change=lambda: HomeChange(
            op="subscribe", channel=channel[:255]) if channel else None)

    async def on_home_schedule(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any],
                               action: dict[str, Any], context: AsyncBoltContext) -> None:
        value = home.decode_schedule(_value(_object(action, "selected_option")))
        await self._home_click(ack, body, action, context, change=lambda: HomeChange(
            op="reschedule", channel=value[0], schedule=value[1]) if value else None)

    async def on_home_rules(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any],
                            action: dict[str, Any], context: AsyncBoltContext) -> None:
        """A channel's rules changed from the menu; whether this person may is the worker's to check."""
        value = home.decode_rule(_value(_object(action, "selected_option")))
        await self._home_click(ack, body, action, context, change=lambda: HomeChange.model_validate(
            {"op": value[1], "channel": value[0]}) if value else None)

    async def on_home_off(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                          context: AsyncBoltContext) -> None:
        channel = _value(action)[:255]
        await self._home_click(ack, body, action, context, change=lambda: HomeChange(
            op="unsubscribe", channel=channel) if channel else None)

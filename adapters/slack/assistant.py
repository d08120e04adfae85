"""Slack's assistant and agent views: reading their payloads, and keeping the channel in view per thread.

Two generations of the same surface reach us:
- `assistant_view` (the side panel): `assistant_thread_started` opens a thread in the DM with the bot
  and names the channel the person is looking at; `assistant_thread_context_changed` says when they move;
  their questions arrive as `message.im` in that thread, without the context.
- `agent_view` (the Messages tab): `app_home_opened` with `tab: "messages"` opens the DM (prompts sit at
  its top, no thread); every message carries `app_context.entities` (what is in view, most relevant
  first) and starts its own thread; `app_context_changed` says when the view changes.

For the assistant view the channel in view is kept where Bolt's default thread-context store keeps it:
as `assistant_thread_context` metadata on the bot's first message in the thread (our greeting), so no
table of ours holds where people look, and tools built on Bolt read the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import normalize

CONTEXT_EVENT = "assistant_thread_context"  # Bolt's metadata event type for a thread's context
THREAD_ROOT = "assistant_app_thread"  # the subtype of an assistant thread's root message
CHANNEL_ENTITY = "slack#/types/channel_id"
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
THREAD_PAGE = 50  # an assistant thread's greeting and first questions are in its first page
View = Literal["assistant", "agent"]


@dataclass(frozen=True, slots=True)
class AssistantThread:
    """An `assistant_thread` object: where the thread is, who opened it, what they were looking at."""

    user: str
    channel: str
    thread_ts: str
    context: dict[str, str]

    @property
    def viewing(self) -> str | None:
        return channel_id(self.context.get("channel_id"))


def channel_id(value: Any) -> str | None:
    """A public or private channel id, or None (a DM, a malformed id: never a scope)."""
    return value if isinstance(value, str) and _CHANNEL_ID.match(value) else None


def assistant_thread(event: dict[str, Any]) -> AssistantThread:
    """The `assistant_thread` of an `assistant_thread_started` / `_context_changed` event; Unreadable
    when its ids are missing or not strings (the context is a decoration: kept only if it is one)."""
    thread = event.get("assistant_thread")
    if not isinstance(thread, dict):
        raise normalize.Unreadable("an assistant event without an `assistant_thread` object")
    raw = thread.get("context")
    context = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(raw, dict) else {}
    return AssistantThread(user=normalize.text_field(thread, "user_id", required=True) or "",
                           channel=normalize.text_field(thread, "channel_id", required=True) or "",
                           thread_ts=normalize.text_field(thread, "thread_ts", required=True) or "",
                           context=context)


def viewed_channel(event: dict[str, Any]) -> str | None:
    """The most relevant channel in an agent-view context (`app_context` on messages and on
    `app_home_opened`, `context` on `app_context_changed`); None when there is none or it is malformed."""
    for key in ("app_context", "context"):
        ctx = event.get(key)
        entities = ctx.get("entities") if isinstance(ctx, dict) else None
        if not isinstance(entities, list):
            continue
        for entity in entities:  # ordered by relevance
            if not isinstance(entity, dict):
                continue
            if entity.get("type") == CHANNEL_ENTITY and channel_id(entity.get("value")):
                return str(entity["value"])
            value = entity.get("value")
            if entity.get("type") == "slack#/types/message_context" and isinstance(value, dict) \
                    and channel_id(value.get("channel_id")):
                return str(value["channel_id"])
    return None


def is_agent_view(event: dict[str, Any]) -> bool:
    """Messages in the agent view carry their context (possibly empty); the assistant view's never do."""
    return "app_context" in event


def mark(chat_reference: dict[str, Any], *, view: View, thread_ts: str, bot_user_id: str | None) -> dict[str, Any]:
    """A ChatEvent reference that says the question was asked in an assistant or agent thread."""
    return {**chat_reference, "thread_ts": thread_ts, "assistant": view,
            **({"bot_user_id": bot_user_id} if bot_user_id else {})}


@dataclass(frozen=True, slots=True)
class ThreadFacts:
    """What the thread itself tells: the context stored on our greeting, and whether the question being
    answered is the first one asked there (it names the thread)."""

    context: dict[str, Any] | None
    greeting: dict[str, Any] | None
    first_question: bool


async def read_thread(client: AsyncWebClient, channel: str, thread_ts: str, *, bot_user_id: str | None,
                      user: str | None = None, question_ts: str | None = None) -> ThreadFacts:
    """One page of the thread: our first message (with its context metadata) and the person's earlier
    messages. Raises SlackApiError when Slack cannot list it."""
    page = await client.conversations_replies(channel=channel, ts=thread_ts, limit=THREAD_PAGE,
                                              include_all_metadata=True)
    messages = [m for m in page.get("messages") or [] if isinstance(m, dict)]
    greeting = next((m for m in messages if m.get("subtype") is None and (
        (bot_user_id and m.get("user") == bot_user_id) or m.get("bot_id"))), None)
    metadata = greeting.get("metadata") if greeting else None
    context = None
    if isinstance(metadata, dict) and metadata.get("event_type") == CONTEXT_EVENT:
        payload = metadata.get("event_payload")
        context = payload if isinstance(payload, dict) else None
    earlier = [m for m in messages if m.get("user") == user and m.get("subtype") is None and not m.get("bot_id")
               and m.get("ts") != question_ts and m.get("ts") != thread_ts
               and (question_ts is None or _before(m.get("ts"), question_ts))]
    return ThreadFacts(context=context, greeting=greeting, first_question=not earlier)


def _before(ts: Any, other: str) -> bool:
    try:
        return float(ts) < float(other)
    except (TypeError, ValueError):
        return False


def title_of(question: str, limit: int = 60) -> str:
    """A thread title from its first question: one line, cut at a word."""
    line = " ".join(question.split())
    if len(line) <= limit:
        return line or "Question"
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut or line[:limit]).rstrip(",;:") + "…"

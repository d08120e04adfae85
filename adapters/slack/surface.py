"""How a worker carries out a turn on Slack: learn channels and people from the Web API, post or
respond, redraw a message for Why?, read history when invited, and tell whether a reply already went out.

Replies that everyone sees carry the turn's key in their message metadata, so after a crash between
"posted" and "recorded" the next attempt finds the message instead of posting it twice. A failed
lookup is PlatformUnsure, never a "not posted".

Who may change a channel's rules: its creator (conversations.info `creator`) and workspace admins and
owners (users.info `is_admin`, `is_owner`), read from Slack and kept for ROLE_TTL; in a DM the person, in
a group DM anyone in it; people in WHYBOT_ADMINS everywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import assistant, normalize, render
from adapters.slack.backfill import BackfillLimits, backfill_channel
from adapters.slack.client import build_client
from adapters.slack.home import home_view
from adapters.slack.oauth import TokenSource
from adapters.slack.poster import Poster, ResponseUrlError
from adapters.slack.progress import SlackProgress
from adapters.slack.sync import WorkspaceSync
from bot.adapter import DeliveryTarget, PlatformUnsure
from bot.home import Home
from bot.models import ChatEvent, ConversationKind, Platform, Reply
from bot.pipeline import NotReady
from bot.progress import NO_PROGRESS, Progress
from bot.rules import Authority, admins
from bot.services import Services
from bot.suggestions import Opening
from bot.turns import OpenedTurn

log = logging.getLogger(__name__)

REPLY_METADATA = "whybot_reply"
DELIVERY_METADATA = "whybot_delivery"
LOOKUP_PAGES = 10  # up to 2,000 messages back through a busy channel before giving up
ADMIN_TTL = 600.0  # seconds a users.info answer about being an admin is trusted
NOT_IN_CHANNEL = ("I can't post in this channel yet. Invite me with `/invite @whybot` and I'll answer there; "
                  "here is the answer just for you.")
ROLE_TTL_S = 600.0  # how long a person's admin flags and a channel's creator are trusted without asking again
CHANNEL_RULES = "the channel's creator and workspace admins or owners"


class NotInstalled(RuntimeError):
    """No bot token for the workspace (uninstalled, or never installed)."""


def _has_key(message: dict[str, Any], event_type: str, key: str) -> bool:
    metadata = message.get("metadata") or {}
    return metadata.get("event_type") == event_type and (metadata.get("event_payload") or {}).get("key") == key


async def _find_key(pages: AsyncIterator[Any], event_type: str, key: str, channel: str) -> str | None:
    """The ts of our message carrying `key`, page by page; past LOOKUP_PAGES the answer is "can't tell"."""
    seen = 0
    async for page in pages:
        for message in page.get("messages") or []:
            if _has_key(message, event_type, key):
                return str(message.get("ts"))
        seen += 1
        if seen >= LOOKUP_PAGES:
            raise PlatformUnsure(f"{key} not found in the newest {seen} pages of {channel}")
    return None


class SlackSurface:
    platform = Platform.SLACK

    def __init__(self, services: Services, poster: Poster, tokens: TokenSource, *,
                 installation_store: AsyncInstallationStore | None = None,
                 backfill_limits: BackfillLimits | None = None, stream_interval: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.services = services
        self.stream_interval = stream_interval
        self.monotonic = monotonic
        self._admins: dict[tuple[str, str], tuple[bool, float]] = {}  # (team, user) -> (admin, trusted until)
        self.poster = poster
        self.tokens = tokens
        self.sync = WorkspaceSync(services.storage)
        self.installation_store = installation_store
        self.backfill_limits = backfill_limits or BackfillLimits()
        self._clients: dict[str, AsyncWebClient] = {}
        self._known: dict[tuple[str, str], tuple[float, str | None]] = {}  # (team, user or channel) -> (until, fact)

    async def client(self, team_id: str) -> AsyncWebClient:
        token = await self.tokens.for_team(team_id)
        if not token:
            raise NotInstalled(f"whybot has no bot token for Slack workspace {team_id}")
        if token not in self._clients:
            self._clients[token] = build_client(self.services.settings.slack_api_url, token)
        return self._clients[token]

    # learning ----------------------------------------------------------------------------------

    async def learn(self, tenant_id: str, event: ChatEvent) -> ChatEvent:
        client = await self.client(event.tenant)
        hint = event.reference.get("channel_type")
        channel = await self.sync.channel(client, tenant_id, event.channel, hint=hint)
        await self.sync.user(client, tenant_id, event.user)
        kind = normalize.kind_of(channel, event.channel, hint)
        if kind != event.conversation_kind:
            event = event.model_copy(update={"conversation_kind": kind})
        return await self._in_view(client, event)

    async def _in_view(self, client: AsyncWebClient, event: ChatEvent) -> ChatEvent:
        """A question in an assistant thread: the channel in view (kept on our greeting, since the message
        does not carry it) and whether it is the thread's first question (which then names the thread).
        A thread Slack cannot list is answered without a scope rather than not at all."""
        ref = event.reference
        view, thread_ts = ref.get("assistant"), ref.get("thread_ts")
        if view == "agent":  # the message carried its context; a message outside a thread opens one
            first = event.thread_id == event.message_id
            return event.model_copy(update={"reference": {**ref, "first_question": first}})
        if view != "assistant" or not isinstance(thread_ts, str):
            return event
        try:
            facts = await assistant.read_thread(client, event.channel, thread_ts, bot_user_id=ref.get("bot_user_id"),
                                                user=event.user, question_ts=event.message_id)
        except SlackApiError as exc:
            log.info("assistant thread %s/%s not readable (%s); answering without its context", event.channel,
                     thread_ts, exc.response.get("error"))
            return event
        viewing = assistant.channel_id((facts.context or {}).get("channel_id"))
        return event.model_copy(update={"viewing_channel": event.viewing_channel or viewing,
                                        "reference": {**ref, "first_question": facts.first_question}})

    async def learn_channel(self, tenant_id: str, tenant: str, channel: str, user: str | None,
                            hint: str | None) -> None:
        client = await self.client(tenant)
        await self.sync.channel(client, tenant_id, channel, hint=hint)
        if user:
            await self.sync.user(client, tenant_id, user)  # names in summaries, time zones for digests

    async def with_links(self, tenant: str, reply: Reply) -> Reply:
        return await self.poster.with_permalinks(await self.client(tenant), tenant, reply)

    # answering ---------------------------------------------------------------------------------

    async def progress(self, event: ChatEvent, key: str) -> Progress:
        """Every answer in a thread shows a status line while it is worked on (assistant and agent threads,
        and, since `setStatus` takes `chat:write`, a mention's thread in a channel). A model's text streams
        only where the asker alone reads it (the bot's DM: assistant and agent threads; outside a thread it is
        redrawn instead): a worker that dies mid-stream leaves half an answer, which its retry cannot find,
        and in a channel everyone would read it next to the whole one. Answers for the asker alone in a
        channel (ephemeral) show nothing until they are sent."""
        ref = event.reference
        dm = event.conversation_kind == ConversationKind.DM
        if event.private_reply and not dm:
            return NO_PROGRESS
        thread_ts = ref.get("thread_ts") if isinstance(ref.get("thread_ts"), str) else None
        in_assistant = ref.get("assistant") in ("assistant", "agent")
        first = in_assistant and ref.get("first_question") is True
        return SlackProgress(await self.client(event.tenant), self.poster, team=event.tenant, channel=event.channel,
                             thread_ts=thread_ts, user=event.user, mode="stream" if dm else None,
                             status_thread=thread_ts is not None,
                             title=assistant.title_of(event.text) if first else None, metadata_type=REPLY_METADATA,
                             interval=self.stream_interval)

    async def opened(self, turn: OpenedTurn, opening: Opening) -> None:
        """Suggested prompts where the person opened the conversation; in an assistant thread also the greeting,
        which keeps the channel in view in its metadata (updated when the view changes)."""
        client = await self.client(turn.tenant)
        ref = turn.reference
        thread_ts = turn.thread_id
        if ref.get("assistant") == "assistant" and thread_ts:
            context = ref.get("context") if isinstance(ref.get("context"), dict) else {}
            metadata = {"event_type": assistant.CONTEXT_EVENT, "event_payload": context}
            if turn.greet and opening.greeting:
                notice = render.notice(opening.greeting)
                await client.chat_postMessage(channel=turn.channel_id, thread_ts=thread_ts, text=notice.text,
                                              blocks=notice.blocks, metadata=metadata)
            else:
                await self._keep_context(client, turn, thread_ts, metadata)
        prompts = [{"title": p.title, "message": p.message} for p in opening.suggestions]
        try:
            await client.assistant_threads_setSuggestedPrompts(channel_id=turn.channel_id, thread_ts=thread_ts,
                                                               title=opening.title, prompts=prompts)
        except SlackApiError as exc:  # the app lacks the view or the scope: nothing a retry would change
            log.warning("suggested prompts not set in %s: %s", turn.channel_id, exc.response.get("error"))
            self.services.metrics.errors.labels("slack_prompts").inc()

    async def _keep_context(self, client: AsyncWebClient, turn: OpenedTurn, thread_ts: str,
                            metadata: dict[str, Any]) -> None:
        """The new channel in view, on our greeting. No greeting yet means the turn that posts it has not
        run: NotReady, so this one waits for it."""
        try:
            facts = await assistant.read_thread(client, turn.channel_id, thread_ts,
                                                bot_user_id=turn.reference.get("bot_user_id"))
        except SlackApiError as exc:
            raise PlatformUnsure(f"Slack could not list {turn.channel_id}: {exc.response.get('error')}") from exc
        greeting = facts.greeting
        if greeting is None or not greeting.get("ts"):
            raise NotReady(f"no greeting yet in assistant thread {turn.channel_id}/{thread_ts}")
        await client.chat_update(channel=turn.channel_id, ts=str(greeting["ts"]), text=greeting.get("text") or "",
                                 blocks=greeting.get("blocks") or None, metadata=metadata)

    async def send(self, event: ChatEvent, reply: Reply, *, key: str) -> dict[str, Any]:
        """DMs and channel answers are messages; private answers are ephemeral (response_url when we have one)."""
        client = await self.client(event.tenant)
        ref = event.reference
        team, channel, thread_ts = event.tenant, event.channel, ref.get("thread_ts")
        response_url = ref.get("response_url")
        metadata = {"event_type": REPLY_METADATA, "event_payload": {"key": key, "decision_id": reply.decision_id}}
        try:
            if reply.private and response_url and event.conversation_kind != ConversationKind.DM:
                return await self.poster.respond_reply(response_url, reply, replace_original=True)
            if reply.private and event.conversation_kind != ConversationKind.DM:
                return await self.poster.post_ephemeral(client, team_id=team, channel=channel, user=event.user,
                                                        reply=reply, thread_ts=thread_ts)
            posted = await self.poster.post(client, team_id=team, channel=channel, reply=reply, thread_ts=thread_ts,
                                            metadata=metadata)
            if response_url:  # a slash command answered in the open: fold away its "working on it"
                try:
                    await self.poster.delete_original(response_url)
                except ResponseUrlError as exc:
                    log.info("could not remove the working-on-it note: %s", exc)
            return posted
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("posting decision %s to %s/%s failed: %s", reply.decision_id, team, channel, error)
            self.services.metrics.errors.labels("slack_post").inc()
            if response_url and error in ("not_in_channel", "channel_not_found", "is_archived"):
                await self.poster.respond(response_url, render.notice(NOT_IN_CHANNEL), replace_original=True)
                return await self.poster.respond_reply(response_url, reply)
            raise

    async def find_sent(self, event: ChatEvent, key: str, decision_id: str) -> dict[str, Any] | None:
        """Our message carrying `key`, searched in the thread (or the channel since the question)."""
        ref = event.reference
        if ref.get("response_url") and event.private_reply:
            return None  # ephemeral answers cannot be looked up; at worst the asker sees it twice
        client = await self.client(event.tenant)
        thread_ts = ref.get("thread_ts")
        try:
            if thread_ts:
                pages = await client.conversations_replies(channel=event.channel, ts=str(thread_ts), limit=200,
                                                           include_all_metadata=True)
            else:
                oldest = f"{(event.received_at - timedelta(minutes=1)).timestamp():.6f}"
                pages = await client.conversations_history(channel=event.channel, oldest=oldest, limit=200,
                                                           include_all_metadata=True)
            ts = await _find_key(pages, REPLY_METADATA, key, event.channel)
        except SlackApiError as exc:
            raise PlatformUnsure(f"Slack could not list {event.channel}: {exc.response.get('error')}") from exc
        if ts is None:
            return None
        return {"channel": event.channel, "ts": ts, "team_id": event.tenant,
                **({"thread_ts": thread_ts} if thread_ts else {})}

    # clicks ------------------------------------------------------------------------------------

    async def update(self, reference: dict[str, Any], reader_private: bool, reply: Reply, *, expanded: bool,
                     admin: bool = False, note: str | None = None) -> None:
        """Show or hide the rationale in the same message (chat.update, or response_url for ephemerals)."""
        rendered = render.render_reply(reply, expanded=expanded, more_url=reference.get("more_url"), admin=admin)
        response_url = reference.get("response_url") if isinstance(reference.get("response_url"), str) else None
        channel, ts = reference.get("channel"), reference.get("message_ts") or reference.get("ts")
        if not reader_private and channel and ts:
            try:
                client = await self.client(str(reference.get("team_id") or ""))
                await self.poster.update(client, channel=str(channel), ts=str(ts), rendered=rendered)
                return
            except SlackApiError as exc:
                if not response_url:
                    raise
                log.info("chat.update failed (%s); replacing through response_url", exc.response.get("error"))
        if response_url:
            await self.poster.respond(response_url, rendered, replace_original=True)

    async def notify(self, reference: dict[str, Any], user: str, text: str) -> None:
        """Only `user` sees it: through the response_url when there is one, else as an ephemeral message."""
        response_url = reference.get("response_url")
        if isinstance(response_url, str) and response_url:
            await self.poster.respond(response_url, render.notice(text))
            return
        channel, team = reference.get("channel"), reference.get("team_id")
        if isinstance(channel, str) and channel and isinstance(team, str) and team and user:
            notice = render.notice(text)
            client = await self.client(team)
            await client.chat_postEphemeral(channel=channel, user=user, text=notice.text, blocks=notice.blocks,
                                            thread_ts=reference.get("thread_ts"))

    # App Home ----------------------------------------------------------------------------------

    async def is_admin(self, tenant: str, user: str) -> bool:
        """Workspace admins and owners (users.info), remembered for ADMIN_TTL; no answer is "not an admin"."""
        now = self.monotonic()
        cached = self._admins.get((tenant, user))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            info = (await (await self.client(tenant)).users_info(user=user)).get("user") or {}
        except SlackApiError as exc:
            log.info("users.info %s failed (%s); drawing the home without admin sections", user,
                     exc.response.get("error"))
            return False
        admin = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
        self._admins[(tenant, user)] = (admin, now + ADMIN_TTL)
        return admin

    async def learn_person(self, tenant_id: str, tenant: str, user: str) -> None:
        await self.sync.user(await self.client(tenant), tenant_id, user)

    async def publish_home(self, tenant: str, user: str, home: Home) -> None:
        """views.publish of the `home` view for `user` (it replaces whatever their tab showed)."""
        client = await self.client(tenant)
        try:
            await client.views_publish(user_id=user, view=home_view(home).to_dict())
        except SlackApiError as exc:
            if exc.response.get("error") != "not_enabled":
                raise
            # Retrying cannot help until someone turns the Home tab on (the manifest does).
            log.warning("Slack workspace %s has the app's Home tab turned off; enable it under App Home", tenant)

    async def rules_authority(self, tenant_id: str, event: ChatEvent) -> Authority:
        if event.user in admins(self.services.settings):
            return Authority(may_change=True, who=f"{CHANNEL_RULES}, and whybot admins",
                             because="you are a whybot admin (WHYBOT_ADMINS)")
        if event.conversation_kind == ConversationKind.DM:
            return Authority(may_change=True, who="you", because="this is your direct message with me")
        if event.conversation_kind == ConversationKind.GROUP:
            return Authority(may_change=True, who="anyone in this conversation", because="you are in it")
        role = await self._remembered(event.tenant, event.user, self._workspace_role)
        if role:
            return Authority(may_change=True, who=CHANNEL_RULES, because=f"you are a workspace {role}")
        creator = await self._remembered(event.tenant, event.channel, self._creator)
        if creator and creator == event.user:
            return Authority(may_change=True, who=CHANNEL_RULES, because="you created this channel")
        return Authority(may_change=False, who=CHANNEL_RULES,
                         because="you are neither the channel's creator nor a workspace admin or owner")

    async def _remembered(self, team: str, key: str,
                          read: Callable[[AsyncWebClient, str], Awaitable[str | None]]) -> str | None:
        """A fact about a person or channel from Slack, kept for ROLE_TTL_S (unknown when Slack fails)."""
        cached = self._known.get((team, key))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            fact = await read(await self.client(team), key)
        except SlackApiError as exc:
            log.info("could not read %s from Slack: %s", key, exc.response.get("error"))
            return None
        self._known[(team, key)] = (time.monotonic() + ROLE_TTL_S, fact)
        return fact

    @staticmethod
    async def _workspace_role(client: AsyncWebClient, user: str) -> str | None:
        info = (await client.users_info(user=user)).get("user") or {}
        if info.get("is_primary_owner") or info.get("is_owner"):
            return "owner"
        return "admin" if info.get("is_admin") else None

    @staticmethod
    async def _creator(client: AsyncWebClient, channel: str) -> str | None:
        info = (await client.conversations_info(channel=channel)).get("channel") or {}
        creator = info.get("creator")
        return creator if isinstance(creator, str) and creator else None

    # membership and installs -------------------------------------------------------------------

    async def joined(self, tenant_id: str, tenant: str, channel: str, reference: dict[str, Any]) -> None:
        client = await self.client(tenant)
        await self.sync.channel(client, tenant_id, channel, refresh=True, hint=reference.get("channel_type"))
        result = await backfill_channel(client, self.services.ingest, tenant_id, channel,
                                        now=self.services.clock(), bot_user_id=reference.get("bot_user_id"),
                                        limits=self.backfill_limits)
        await self.sync.users(client, tenant_id, result.authors)  # names in summaries, digests, citations

    async def forget(self, tenant: str, detail: dict[str, Any]) -> None:
        store = self.installation_store
        if store is None:
            return
        enterprise = detail.get("enterprise_id")
        if detail.get("uninstalled"):
            await store.async_delete_all(enterprise_id=enterprise, team_id=tenant)
            return
        for user_id in detail.get("oauth_users") or []:
            await store.async_delete_installation(enterprise_id=enterprise, team_id=tenant, user_id=user_id)
        if detail.get("bot"):
            await store.async_delete_bot(enterprise_id=enterprise, team_id=tenant)

    # digests -----------------------------------------------------------------------------------

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        client = await self.client(target.tenant)
        reply = await self.poster.with_permalinks(client, target.tenant, reply)
        thread = target.reference.get("thread_ts") if target.reference.get("reply_in_thread") else None
        posted = await self.poster.post(
            client, team_id=target.tenant, channel=target.channel, reply=reply,
            thread_ts=str(thread) if thread else None,
            metadata={"event_type": DELIVERY_METADATA, "event_payload": {"key": key, "decision_id": reply.decision_id}})
        return str(posted["ts"])

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """The ts of our message carrying `key`, reading back through the channel page by page."""
        client = await self.client(target.tenant)
        try:
            pages = await client.conversations_history(channel=target.channel, limit=200, include_all_metadata=True)
            return await _find_key(pages, DELIVERY_METADATA, key, target.channel)
        except SlackApiError as exc:
            raise PlatformUnsure(f"Slack could not list {target.channel}: {exc.response.get('error')}") from exc

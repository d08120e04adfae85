"""What whybot does with each Slack event, command and click. Bolt calls these after acking.

Each handler turns the payload into core models (normalize.py), lets the router answer, and sends
the rendered reply back (poster.py). Errors are logged with context and, where a person is waiting,
turned into a short message; they never escape into Bolt (which would only log them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import normalize, render
from adapters.slack.backfill import BackfillLimits, backfill_channel
from adapters.slack.poster import Poster, ResponseUrlError
from adapters.slack.sync import WorkspaceSync
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Reply, Trigger
from bot.services import Services
from storage import tenant_key

log = logging.getLogger(__name__)

PUBLIC_COMMAND_SKILLS = frozenset({"digest"})  # slash commands about the channel itself answer in it
NOT_IN_CHANNEL = ("I can't post in this channel yet. Invite me with `/invite @whybot` and I'll answer there; "
                  "here is the answer just for you.")


def _team(context: AsyncBoltContext, body: dict[str, Any]) -> str:
    team = context.team_id or body.get("team_id") or (body.get("team") or {}).get("id")
    return str(team or "")


class SlackHandlers:
    def __init__(self, services: Services, poster: Poster, *, installation_store: AsyncInstallationStore | None,
                 backfill_limits: BackfillLimits | None = None) -> None:
        self.services = services
        self.poster = poster
        self.sync = WorkspaceSync(services.storage)
        self.installation_store = installation_store
        self.backfill_limits = backfill_limits or BackfillLimits()
        self.background: set[asyncio.Task[Any]] = set()

    @property
    def router(self) -> Any:
        return self.services.router

    def _count(self, kind: str) -> None:
        self.services.metrics.events.labels("slack", kind).inc()

    async def _tenant(self, team_id: str) -> str:
        return await self.services.ingest.tenant(Platform.SLACK.value, team_id)

    # answering --------------------------------------------------------------------------------

    async def _answer(self, client: AsyncWebClient, event: ChatEvent) -> Reply:
        started = time.perf_counter()
        reply = await self.router.handle(event)
        self.services.metrics.replies.labels("slack", reply.rationale.skill).inc()
        self.services.metrics.reply_seconds.labels(reply.rationale.skill).observe(time.perf_counter() - started)
        reply = await self.poster.with_permalinks(client, event.tenant, reply)
        return reply

    async def _deliver(self, client: AsyncWebClient, event: ChatEvent, reply: Reply) -> None:
        """DMs and channel answers are messages; private answers are ephemeral (response_url when we have one)."""
        ref = event.reference
        team, channel, thread_ts = event.tenant, event.channel, ref.get("thread_ts")
        response_url = ref.get("response_url")
        try:
            if event.conversation_kind == ConversationKind.DM and not response_url:
                await self.poster.post(client, team_id=team, channel=channel, reply=reply, thread_ts=thread_ts)
            elif reply.private and response_url:
                await self.poster.respond_reply(response_url, reply)
            elif reply.private:
                await self.poster.post_ephemeral(client, team_id=team, channel=channel, user=event.user, reply=reply,
                                                 thread_ts=thread_ts)
            else:
                await self.poster.post(client, team_id=team, channel=channel, reply=reply, thread_ts=thread_ts)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("posting decision %s to %s/%s failed: %s", reply.decision_id, team, channel, error)
            self.services.metrics.errors.labels("slack_post").inc()
            if response_url and error in ("not_in_channel", "channel_not_found", "is_archived"):
                await self.poster.respond(response_url, render.notice(NOT_IN_CHANNEL))
                await self.poster.respond_reply(response_url, reply)
        except ResponseUrlError as exc:
            log.warning("answering decision %s through response_url failed: %s", reply.decision_id, exc)
            self.services.metrics.errors.labels("slack_response_url").inc()

    async def _prepare(self, client: AsyncWebClient, team_id: str, channel_id: str, user_id: str,
                       hint: str | None = None) -> ConversationKind:
        """Know the channel (privacy, members) and the person (time zone) before the router needs them."""
        tenant_id = await self._tenant(team_id)
        channel = await self.sync.channel(client, tenant_id, channel_id, hint=hint)
        await self.sync.user(client, tenant_id, user_id)
        return normalize.kind_of(channel, channel_id, hint)

    # events -----------------------------------------------------------------------------------

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient) -> None:
        self._count("app_mention")
        team = _team(context, body)
        kind = await self._prepare(client, team, str(event.get("channel") or ""), str(event.get("user") or ""),
                                   event.get("channel_type"))
        chat = normalize.mention_event(body, event, team_id=team, bot_user_id=context.bot_user_id, kind=kind)
        await self._deliver(client, chat, await self._answer(client, chat))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                         client: AsyncWebClient) -> None:
        """History for every message we can see; DMs to the bot are also answered."""
        subtype = event.get("subtype")
        self._count(f"message.{subtype}" if subtype else "message")
        team = _team(context, body)
        tenant_id = await self._tenant(team)
        channel = str(event.get("channel") or "")
        if subtype == "message_changed":
            new = event.get("message") or {}
            if isinstance(new, dict) and new.get("ts"):
                edited = (new.get("edited") or {}).get("ts") or event.get("event_ts")
                await self.services.ingest.edit(tenant_id, channel, str(new["ts"]), str(new.get("text") or ""),
                                                normalize.ts_to_datetime(edited))
            return
        if subtype == "message_deleted":
            deleted = event.get("deleted_ts") or (event.get("previous_message") or {}).get("ts")
            if deleted:
                await self.services.ingest.delete(tenant_id, channel, str(deleted))
            return
        item = normalize.new_message(event, bot_user_id=context.bot_user_id)
        if item is None:
            return
        await self.sync.channel(client, tenant_id, channel, hint=event.get("channel_type"))
        if event.get("user"):
            await self.sync.user(client, tenant_id, str(event["user"]))  # names in summaries, tz for digests
        await self.services.ingest.message(tenant_id, item)
        is_dm = event.get("channel_type") == "im" or channel.startswith("D")
        if is_dm and subtype is None and event.get("user") and not event.get("bot_id"):
            chat = normalize.direct_message_event(body, event, team_id=team, bot_user_id=context.bot_user_id)
            await self._deliver(client, chat, await self._answer(client, chat))

    async def on_member_joined(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                               client: AsyncWebClient) -> None:
        """Someone joined: membership for visibility. The bot joined: learn the channel and backfill it."""
        self._count("member_joined_channel")
        tenant_id = await self._tenant(_team(context, body))
        channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
        if user and user == context.bot_user_id:
            await self.sync.channel(client, tenant_id, channel, refresh=True, hint=event.get("channel_type"))
            await backfill_channel(client, self.services.ingest, tenant_id, channel, now=self.services.clock(),
                                   bot_user_id=context.bot_user_id, limits=self.backfill_limits)
            return
        await self.services.storage.workspace.add_member(tenant_id, channel, user)

    async def on_member_left(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        self._count("member_left_channel")
        tenant_id = await self._tenant(_team(context, body))
        await self.services.storage.workspace.remove_member(tenant_id, str(event.get("channel") or ""),
                                                            str(event.get("user") or ""))

    async def on_app_uninstalled(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        self._count("app_uninstalled")
        team = _team(context, body)
        if self.installation_store is not None:
            await self.installation_store.async_delete_all(enterprise_id=context.enterprise_id, team_id=team)
        await self._forget(team, "the app was uninstalled")

    async def on_tokens_revoked(self, body: dict[str, Any], event: dict[str, Any],
                                context: AsyncBoltContext) -> None:
        self._count("tokens_revoked")
        team = _team(context, body)
        tokens = event.get("tokens") or {}
        if self.installation_store is not None:
            for user_id in tokens.get("oauth") or []:
                await self.installation_store.async_delete_installation(
                    enterprise_id=context.enterprise_id, team_id=team, user_id=user_id)
            if tokens.get("bot"):
                await self.installation_store.async_delete_bot(enterprise_id=context.enterprise_id, team_id=team)
        if tokens.get("bot"):
            await self._forget(team, "the bot token was revoked")

    async def _forget(self, team: str, why: str) -> None:
        if not self.services.settings.slack_delete_data_on_uninstall:
            log.info("workspace %s: %s; keeping its data (WHYBOT_DELETE_DATA_ON_UNINSTALL=false)", team, why)
            return
        await self.services.ingest.forget_tenant(tenant_key(Platform.SLACK.value, team))
        log.info("workspace %s: %s; deleted its data", team, why)

    async def on_other_event(self) -> None:
        """Events we are subscribed to but do not use: acked (200) so Slack does not retry them."""
        self._count("other")

    # the slash command ------------------------------------------------------------------------

    async def on_command(self, ack: Callable[..., Awaitable[None]], command: dict[str, Any],
                         client: AsyncWebClient) -> None:
        await ack()  # within Slack's 3 s, before any work; the answer follows via response_url or a post
        self._count("command")
        team, channel = str(command.get("team_id") or ""), str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        hint = "im" if command.get("channel_name") == "directmessage" else (
            "group" if command.get("channel_name") == "privategroup" else None)
        kind = await self._prepare(client, team, channel, user, hint)
        chat = normalize.command_event(command, kind=kind)
        skill, _, _ = self.router.route(chat)
        if skill.name in PUBLIC_COMMAND_SKILLS and kind != ConversationKind.DM:
            chat = chat.model_copy(update={"private_reply": False})
        # public answers are posted (so Why? can chat.update them); private ones go through response_url
        await self._deliver(client, chat, await self._answer(client, chat))

    # clicks -----------------------------------------------------------------------------------

    async def on_action(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any],
                        context: AsyncBoltContext, client: AsyncWebClient) -> None:
        await ack()
        action_id = str(action.get("action_id") or "")
        self._count(f"action.{action_id}")
        team = _team(context, body)
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        ephemeral = bool(container.get("is_ephemeral"))
        reader = Reader(platform=Platform.SLACK, tenant=team, user=user, channel=channel or None, private=ephemeral)
        response_url = body.get("response_url")
        try:
            if action_id in (render.WHY, render.HIDE):
                await self._toggle_why(client, body, action, reader, expanded=action_id == render.WHY)
            elif action_id in (render.HELPFUL, render.UNHELPFUL):
                value = render.decode_value(action.get("value"))
                ok = bool(value) and await self.router.feedback(value["d"], reader, action_id == render.HELPFUL,
                                                                value.get("i", ""))
                await self._tell(response_url, "Thanks, noted. It helps me rank better next time." if ok
                                 else render.NOT_AVAILABLE)
            elif action_id == render.ITEM_FEEDBACK:
                value = render.decode_value((action.get("selected_option") or {}).get("value"))
                ok = bool(value.get("i")) and await self.router.feedback(value["d"], reader, value.get("h") == "1",
                                                                         value["i"])
                await self._tell(response_url, "Thanks, noted: digests in this channel learn from it." if ok
                                 else render.NOT_AVAILABLE)
            elif action_id.startswith(render.FOLLOW_UP):
                await self._follow_up(client, body, action, reader)
        except (SlackApiError, ResponseUrlError) as exc:
            log.warning("handling %s for %s in %s failed: %s", action_id, user, channel, exc)
            self.services.metrics.errors.labels("slack_action").inc()

    async def _tell(self, response_url: str | None, text: str) -> None:
        if response_url:
            await self.poster.respond(response_url, render.notice(text))

    async def _toggle_why(self, client: AsyncWebClient, body: dict[str, Any], action: dict[str, Any],
                          reader: Reader, *, expanded: bool) -> None:
        """Show or hide the rationale in the same message; anything not ours to show gets 'not available'."""
        decision_id = str(action.get("value") or "")[:64]
        reply = await self.router.explain(decision_id, reader) if decision_id else None
        response_url = body.get("response_url")
        if reply is None:
            await self._tell(response_url, render.NOT_AVAILABLE)
            return
        if expanded:
            self.services.metrics.why_clicks.labels("slack").inc()
        record = await self.services.storage.decisions.get(decision_id)
        more_url = (record.posted_ref or {}).get("more_url") if record is not None else None
        reply = await self.poster.with_permalinks(client, reader.tenant, reply)
        rendered = render.render_reply(reply, expanded=expanded, more_url=more_url)
        container = body.get("container") or {}
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        if not reader.private and reader.channel and ts:
            try:
                await self.poster.update(client, channel=reader.channel, ts=str(ts), rendered=rendered)
                return
            except SlackApiError as exc:
                if not response_url:
                    raise
                log.info("chat.update failed (%s); replacing through response_url", exc.response.get("error"))
        if response_url:
            await self.poster.respond(response_url, rendered, replace_original=True)

    async def _follow_up(self, client: AsyncWebClient, body: dict[str, Any], action: dict[str, Any],
                         reader: Reader) -> None:
        """A suggested next command, run as if typed in the same thread (or privately, if clicked there)."""
        value = render.decode_value(action.get("value"))
        if not value.get("c") or await self.router.decision(value["d"], reader) is None:
            await self._tell(body.get("response_url"), render.NOT_AVAILABLE)
            return
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts")
        kind = await self._prepare(client, reader.tenant, reader.channel or "", reader.user)
        chat = ChatEvent(platform=Platform.SLACK, tenant=reader.tenant, channel=reader.channel or "",
                         conversation_kind=kind, user=reader.user, text=value["c"], trigger=Trigger.ACTION,
                         thread_id=thread_ts, private_reply=reader.private,
                         reference=normalize.reference(reader.tenant, reader.channel or "", thread_ts=thread_ts,
                                                       response_url=body.get("response_url") if reader.private
                                                       else None, user=reader.user))
        await self._deliver(client, chat, await self._answer(client, chat))

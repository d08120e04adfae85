"""How a worker carries out a turn in Teams: every send is a proactive call through CloudAdapter's
`continue_conversation` with the conversation reference the activity carried, so a worker needs no
open request. Replies in a thread go to the asked message (`reply_to_activity`); updates replace the
card activity in place. Bot Framework cannot list a conversation's messages, so `find_sent` cannot
tell: the inbox row's record of the post (written as soon as the connector answers) is the guard.
Every answer carries the AI label, its citations and Teams' feedback loop (delivery.answer_activity); while
it is worked on, `progress` shows a typing indicator, and in a personal chat streams it (progress.py).

Teams sends channel ids and people's ids; names and team membership come from the team's channel list
(`GET /v3/teams/{teamId}/conversations`) and its paged roster (`GET /v3/conversations/{teamId}/pagedmembers`),
read when whybot is added to a team or first hears from one, and again at most every `roster_ttl`.
The roster is what lets a personal chat answer from the channels of the person's teams (bot/visibility.py).

Notes for one person (`notify`: why a request was not answered, a note only the asker may read) go to a
personal chat: Teams has no ephemeral messages outside the targeted-messages developer preview, and a note in
a channel or group chat would be read by everyone there. In a personal chat they are a normal message; from a
channel or group chat whybot opens (or finds) its 1:1 chat with the person (`POST /v3/conversations`). When
Teams refuses that (the app is not available to the person), the note is logged and dropped, never posted
where others would read it.

Who may change a channel's rules (`rules_authority`): in a personal chat the person, in a group chat anyone
in it, in a team channel the team's full members (roster `userRole` "user"; guests and anonymous users may
not). Bot Framework does not say who owns a team (that takes Microsoft Graph), so WHYBOT_ADMINS is how an
operator names the people who may anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from botbuilder.core import BotAdapter, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference
from botframework.connector.aio import ConnectorClient

from adapters.teams.delivery import TeamsDelivery, answer_activity, native_feedback
from adapters.teams.progress import UPDATE_INTERVAL, TeamsProgress
from bot.adapter import DeliveryTarget
from bot.models import ChatEvent, ConversationKind, Platform, Reply
from bot.naming import looks_like_id
from bot.progress import NO_PROGRESS, Progress
from bot.rules import Authority, admins
from bot.services import Services
from bot.suggestions import Opening
from bot.turns import OpenedTurn

log = logging.getLogger(__name__)

ROSTER_TTL = timedelta(hours=12)
ROSTER_PAGE = 200  # Teams' default page; it serves 50 to 500
ROSTER_PAGES = 250  # 50,000 people: a bound, not an expectation
STALE_TEAMS_PER_TURN = 5
GENERAL = "General"  # the channel list leaves the General channel's name out (clients localize it)
ROLE_TTL = timedelta(minutes=10)  # how long a team member's role (userRole) is trusted without asking again
TEAM_RULES = "the team's members (not guests)"


def conversation_reference(raw: Any) -> ConversationReference:
    if not isinstance(raw, dict) or not raw:
        raise LookupError("the turn carries no conversation reference to answer through")
    reference = ConversationReference().deserialize(raw)
    if not reference.service_url or reference.conversation is None or not reference.conversation.id:
        raise LookupError("the conversation reference has no serviceUrl or conversation")
    return reference


class TeamsSurface:
    platform = Platform.TEAMS

    def __init__(self, services: Services, cloud: CloudAdapter, app_id: str, *,
                 roster_ttl: timedelta = ROSTER_TTL, stream_interval: float = UPDATE_INTERVAL) -> None:
        self.services = services
        self.cloud = cloud
        self.app_id = app_id
        self.roster_ttl = roster_ttl
        self.stream_interval = stream_interval  # seconds between stream updates (Teams throttles faster ones)
        self._team_locks: dict[str, asyncio.Lock] = {}  # one read of a team at a time in this process
        self.delivery = TeamsDelivery(services.storage)
        self._roles: dict[tuple[str, str], tuple[float, str | None]] = {}  # (team, user) -> (until, userRole)

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

    # learning: the payload carried the channel's facts (bot/pipeline.py stores them); names and
    # team rosters come from the connector, cached ----------------------------------------------

    async def learn(self, tenant_id: str, event: ChatEvent) -> ChatEvent:
        if event.conversation_kind == ConversationKind.CHANNEL:
            await self.learn_channel(tenant_id, event.tenant, event.channel, event.user, None)
        elif event.conversation_kind == ConversationKind.DM:
            await self.refresh_teams(tenant_id)  # so the person's teams' channels can answer in private
        return event

    async def opened(self, turn: OpenedTurn, opening: Opening) -> None:
        return None  # Teams has no assistant view (its prompt starters live in the app manifest)

    async def learn_channel(self, tenant_id: str, tenant: str, channel: str, user: str | None,
                            hint: str | None) -> None:
        team = await self._team_of(tenant_id, channel)
        if team is not None:
            await self.learn_team(tenant_id, team)

    async def _team_of(self, tenant_id: str, channel: str) -> str | None:
        record = await self.services.storage.workspace.channel(tenant_id, channel)
        scope = record.audience_scope if record is not None else None
        return scope if scope and not scope.startswith("channel:") else None

    async def refresh_teams(self, tenant_id: str) -> None:
        """Re-read the rosters of the tenant's teams that are older than `roster_ttl` (a few per turn)."""
        stale = await self.services.storage.workspace.stale_teams(tenant_id, self.services.clock() - self.roster_ttl)
        for team in stale[:STALE_TEAMS_PER_TURN]:
            await self.learn_team(tenant_id, team)

    async def _team_reference(self, tenant_id: str, team: str) -> ConversationReference | None:
        """A stored conversation reference into one of the team's channels, to call the connector through."""
        storage = self.services.storage
        candidates = [team] + [c.external_id for c in await storage.workspace.channels(tenant_id)
                               if c.audience_scope == team and c.external_id != team]
        for channel in candidates:
            raw = await storage.subscriptions.reference(tenant_id, channel)
            if raw:
                try:
                    return conversation_reference(raw)
                except LookupError:
                    continue
        return None

    async def learn_team(self, tenant_id: str, team: str, *, force: bool = False) -> bool:
        """Channel names and the roster of `team`, unless read within `roster_ttl`. False when it could not
        be read (no reference yet, or the connector failed): the team stays as it was, and is tried again."""
        async with self._team_locks.setdefault(f"{tenant_id}|{team}", asyncio.Lock()):
            return await self._learn_team(tenant_id, team, force=force)

    async def _learn_team(self, tenant_id: str, team: str, *, force: bool) -> bool:
        workspace = self.services.storage.workspace
        now = self.services.clock()
        refreshed = await workspace.team_refreshed_at(tenant_id, team)
        if not force and refreshed is not None and now - refreshed < self.roster_ttl:
            return True
        reference = await self._team_reference(tenant_id, team)
        if reference is None:
            await workspace.ensure_team(tenant_id, team)  # known, so a later turn reads it
            return False
        found: dict[str, Any] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            # botbuilder's own calls; the channel list is a synchronous msrest client, so it runs off the loop.
            teams_client = await TeamsInfo.get_teams_connector_client(turn_context)
            channels = await asyncio.to_thread(teams_client.teams.get_teams_channels, team)
            members: list[Any] = []
            token: str | None = None
            for _ in range(ROSTER_PAGES):
                page = await TeamsInfo.get_paged_team_members(turn_context, team, token, ROSTER_PAGE)
                members += page.members or []
                token = page.continuation_token
                if not token:
                    break
            found["channels"] = channels.conversations or [] if channels is not None else []
            found["members"] = members
            found["bot"] = reference.bot.id if reference.bot else None

        try:
            await self._continue(reference, step)
        except Exception as exc:  # names and rosters improve answers; failing to read them must not stop one
            log.warning("could not read the channels and roster of Teams team %s: %s", team, exc)
            return False
        for info in found["channels"]:
            await self._name_channel(tenant_id, team, str(info.id), info.name or (GENERAL if info.id == team else ""))
        people = [m for m in found["members"] if m.id and m.id != found["bot"]]
        for member in people:
            await workspace.upsert_user(tenant_id, member.id, name=member.name or None)
        await workspace.set_team_members(tenant_id, team, [m.id for m in people], refreshed_at=now)
        log.info("Teams team %s: %d channels, %d members", team, len(found["channels"]), len(people))
        return True

    async def _name_channel(self, tenant_id: str, team: str, channel: str, name: str) -> None:
        """Names a known channel; a new one is stored private with no members until its own messages say
        what it is (the list does not say whether a channel is standard, private or shared)."""
        if not channel or not name or looks_like_id(name):
            return
        workspace = self.services.storage.workspace
        # Insert-if-absent, then rename: a message turn storing the same channel as standard at the same moment
        # must never be overwritten back to private by this (an upsert here raced with it).
        await workspace.ensure_channel(tenant_id, channel, kind=ConversationKind.CHANNEL.value, is_private=True,
                                       audience_scope=team)
        await workspace.rename_channel(tenant_id, channel, name)

    async def with_links(self, tenant: str, reply: Reply) -> Reply:
        return reply

    # answering ---------------------------------------------------------------------------------

    async def progress(self, event: ChatEvent, key: str) -> Progress:
        """A typing indicator now; in a personal chat, a streamed message that `finish` turns into the reply."""
        try:
            reference = conversation_reference(event.reference.get("reply_to"))
        except LookupError:
            return NO_PROGRESS
        native = native_feedback(reference.channel_id)

        async def post(activity: Activity) -> str | None:
            return await self._post(reference, activity)

        progress = TeamsProgress(post, lambda reply: answer_activity(reply, native=native),
                                 lambda activity_id: self._posted_ref(event, reference, activity_id),
                                 streams=event.conversation_kind == ConversationKind.DM,
                                 interval=self.stream_interval)
        await progress.start()
        return progress

    async def _post(self, reference: ConversationReference, activity: Activity) -> str | None:
        """A new activity at the end of the conversation (stream updates and typing go there, not as replies)."""
        sent: dict[str, str | None] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            outgoing = TurnContext.apply_conversation_reference(activity, reference)
            outgoing.reply_to_id = None
            response = await connector.conversations.send_to_conversation(reference.conversation.id, outgoing)
            sent["id"] = response.id if response is not None and response.id else None

        await self._continue(reference, step)
        return sent.get("id")

    @staticmethod
    def _posted_ref(event: ChatEvent, reference: ConversationReference, activity_id: str) -> dict[str, Any]:
        return {"platform": Platform.TEAMS.value, "activity_id": activity_id,
                "conversation_id": reference.conversation.id, "service_url": reference.service_url,
                "reply_to": event.reference.get("reply_to")}

    async def send(self, event: ChatEvent, reply: Reply, *, key: str) -> dict[str, Any]:
        reference = conversation_reference(event.reference.get("reply_to"))
        posted: dict[str, Any] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            activity = TurnContext.apply_conversation_reference(
                answer_activity(reply, native=native_feedback(reference.channel_id)), reference)
            if reference.activity_id:
                activity.reply_to_id = reference.activity_id
                response = await connector.conversations.reply_to_activity(reference.conversation.id,
                                                                           reference.activity_id, activity)
            else:
                activity.reply_to_id = None
                response = await connector.conversations.send_to_conversation(reference.conversation.id, activity)
            posted["activity_id"] = response.id if response is not None and response.id else ""

        await self._continue(reference, step)
        return self._posted_ref(event, reference, posted.get("activity_id", ""))

    async def find_sent(self, event: ChatEvent, key: str, decision_id: str) -> dict[str, Any] | None:
        return None

    # clicks ------------------------------------------------------------------------------------

    async def update(self, reference: dict[str, Any], reader_private: bool, reply: Reply, *, expanded: bool,
                     admin: bool = False, note: str | None = None) -> None:
        """Replace the clicked card (Action.Submit fallback; Action.Execute is answered in the invoke)."""
        target = conversation_reference(reference.get("reply_to"))
        activity_id = reference.get("activity_id")

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            # The whole message again (label, citations, feedback loop), as trimmed for this reader.
            card = answer_activity(reply, native=native_feedback(target.channel_id), expanded=expanded, note=note)
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
        """A message only `user` reads: in the personal chat it came from, or in whybot's 1:1 chat with them."""
        try:
            target = conversation_reference(reference.get("reply_to"))
        except LookupError:
            return
        personal = (target.conversation.conversation_type or "").lower() == "personal" or (
            not target.conversation.conversation_type and not target.conversation.is_group)

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            conversation_id = target.conversation.id
            if not personal:
                tenant = target.conversation.tenant_id or reference.get("team_id") or None
                created = await connector.conversations.create_conversation(ConversationParameters(
                    is_group=False, bot=target.bot, members=[ChannelAccount(id=user)], tenant_id=tenant,
                    channel_data={"tenant": {"id": tenant}} if tenant else None))
                conversation_id = created.id
            activity = TurnContext.apply_conversation_reference(MessageFactory.text(text), target)
            activity.reply_to_id = None
            activity.conversation.id = conversation_id
            if not personal:
                activity.conversation.conversation_type = "personal"
                activity.conversation.is_group = False
            await connector.conversations.send_to_conversation(conversation_id, activity)

        try:
            await self._continue(target, step)
        except Exception as exc:  # a note that cannot be private is not sent at all
            if personal:
                raise
            log.warning("could not reach %s in a personal chat for a private note: %s", user, exc)

    async def rules_authority(self, tenant_id: str, event: ChatEvent) -> Authority:
        if event.user in admins(self.services.settings):
            return Authority(may_change=True, who=f"{TEAM_RULES} and whybot admins",
                             because="you are a whybot admin (WHYBOT_ADMINS)")
        if event.conversation_kind == ConversationKind.DM:
            return Authority(may_change=True, who="you", because="this is your own chat with me")
        if event.conversation_kind == ConversationKind.GROUP:
            return Authority(may_change=True, who="anyone in this chat", because="you are in this chat")
        team = await self._team_of(tenant_id, event.channel)
        role = await self._team_role(team, event.user, event.reference.get("reply_to")) if team else None
        if role == "user":
            return Authority(may_change=True, who=TEAM_RULES, because="you are a member of this team")
        because = f"Teams lists you as a {role} of this team" if role else "I could not look you up in this team"
        return Authority(may_change=False, who=TEAM_RULES, because=because)

    async def _team_role(self, team: str, user: str, raw_reference: Any) -> str | None:
        """The person's `userRole` in the team's roster ("user", "guest", "anonymous"), cached for ROLE_TTL."""
        cached = self._roles.get((team, user))
        now = self.services.clock().timestamp()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reference = conversation_reference(raw_reference)
        except LookupError:
            return None
        found: dict[str, str | None] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            member = await connector.conversations.get_conversation_member(team, user)
            role = (member.additional_properties or {}).get("userRole") if member is not None else None
            found["role"] = role if isinstance(role, str) else None

        try:
            await self._continue(reference, step)
        except Exception as exc:  # unknown is "may not": the refusal says who may
            log.info("could not read %s's role in Teams team %s: %s", user, team, exc)
            return None
        self._roles[(team, user)] = (now + ROLE_TTL.total_seconds(), found.get("role"))
        return found.get("role")

    # membership ---------------------------------------------------------------------------------

    async def joined(self, tenant_id: str, tenant: str, channel: str, reference: dict[str, Any]) -> None:
        """Added to a team: read its channels and roster. Added to a group chat: read its roster, so its
        history is shown only to people who are in it."""
        if reference.get("kind") == ConversationKind.CHANNEL.value:
            team = await self._team_of(tenant_id, channel)
            if team is not None:  # fresh within roster_ttl (the welcome may have read it) is fresh enough
                await self.learn_team(tenant_id, team)
            return
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
        """A new post in the channel itself (a digest starts its own thread), through the same continuation
        as every send, so a connector failure reaches the scheduler instead of being logged and lost."""
        reference = await self.delivery.reference(target)
        posted: dict[str, str] = {}

        async def step(turn_context: TurnContext, connector: ConnectorClient) -> None:
            activity = TurnContext.apply_conversation_reference(
                answer_activity(reply, native=native_feedback(reference.channel_id)), reference)
            activity.reply_to_id = None
            response = await connector.conversations.send_to_conversation(reference.conversation.id, activity)
            posted["id"] = response.id if response is not None and response.id else ""

        await self._continue(reference, step)
        log.info("posted %s to Teams conversation %s as %s", key, reference.conversation.id, posted.get("id"))
        return posted.get("id", "")

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """Bot Framework cannot list a conversation's messages, so Teams cannot tell; the scheduler's own
        record of the run (digest_runs.posted_message_id) is the guard against posting twice."""
        return None

"""A loopback Bot Framework connector: the service at an activity's `serviceUrl`.

It speaks the Connector REST API's wire format (v3) the way botframework-connector's client calls it:
  POST /v3/conversations/{conversationId}/activities                    send to conversation
  POST /v3/conversations/{conversationId}/activities/{activityId}       reply to activity
  PUT  /v3/conversations/{conversationId}/activities/{activityId}       update activity
  GET  /v3/conversations/{conversationId}/members                       conversation roster
  GET  /v3/conversations/{conversationId}/members/{memberId}            one member (with `userRole`), 404 if absent
  POST /v3/conversations                                                create (find) the 1:1 chat with a person
  GET  /v3/conversations/{teamId}/pagedmembers?pageSize=&continuationToken=   team roster, paged
  GET  /v3/teams/{teamId}/conversations                                 a team's channels
The last two follow Microsoft's "Get Teams specific context for your bot" (learn.microsoft.com/microsoftteams/
platform/bots/how-to/get-teams-context: pages of 50 to 500, default 200, `continuationToken` until the last
page; the General channel listed without a name) and botbuilder-python's TeamsInfo.get_paged_team_members /
get_team_channels (TeamsPagedMembersResult, ConversationList of ChannelInfo). Posts are recorded in `calls`,
reads in `reads`, and records every call, so tests can assert on what the bot really sent. It also builds the inbound
activities Teams would send (channel mention, personal message, card action, bot added).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = "28:whybot-app-id"
BOT_NAME = "whybot"
TENANT = "72f988bf-tenant"
TEAM_CHANNEL = "19:general-channel@thread.tacv2"


@dataclass
class Call:
    method: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None


@dataclass
class FakeConnector:
    """Records calls; answers with fresh activity ids like the real service."""

    calls: list[Call] = field(default_factory=list)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    team_channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # team id -> ChannelInfo
    reads: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, query) of every GET
    fail_posts: int = 0  # answer this many POSTs with the connector's 500 error body
    unreachable: set[str] = field(default_factory=set)  # people whybot cannot open a personal chat with
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _posted_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None
    _changed: asyncio.Condition | None = None

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", self._post)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._put)
        app.router.add_get("/v3/conversations/{conversation_id}/members", self._members)
        app.router.add_get("/v3/conversations/{conversation_id}/members/{member_id}", self._member)
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_get("/v3/conversations/{conversation_id}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/teams/{team_id}/conversations", self._team_channels)
        self._changed = asyncio.Condition()
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/"))

    async def _record(self, request: web.Request, method: str) -> Call:
        body = await request.json()
        call = Call(method, request.match_info["conversation_id"], request.match_info.get("activity_id"), body,
                    dict(request.headers))
        self.calls.append(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return call

    async def _post(self, request: web.Request) -> web.Response:
        await self._record(request, "POST")
        if self.fail_posts > 0:
            self.fail_posts -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "Unknown error"}}, status=500)
        return web.json_response({"id": f"bot-activity-{next(self._posted_ids)}"}, status=201)

    async def _put(self, request: web.Request) -> web.Response:
        call = await self._record(request, "PUT")
        return web.json_response({"id": call.activity_id})

    async def _members(self, request: web.Request) -> web.Response:
        self.reads.append((request.path, dict(request.query)))
        return web.json_response(self.members.get(request.match_info["conversation_id"], []))

    async def _member(self, request: web.Request) -> web.Response:
        """One member of a conversation or team, as the roster lists them (`userRole` user/guest/anonymous)."""
        self.reads.append((request.path, dict(request.query)))
        wanted = request.match_info["member_id"]
        for member in self.members.get(request.match_info["conversation_id"], []):
            if member.get("id") == wanted:
                return web.json_response(member)
        return web.json_response({"error": {"code": "MemberNotFoundInConversation",
                                             "message": "The member is not in the conversation."}}, status=404)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        """ConversationParameters in, ConversationResourceResponse out. A personal chat with one person has
        one id however often it is asked for, as in Teams (`a:` ids); refused for people in `unreachable`."""
        body = await request.json()
        self.calls.append(Call("CREATE", "", None, body, dict(request.headers)))
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        members = [m.get("id") for m in body.get("members") or [] if isinstance(m, dict)]
        if body.get("isGroup") or len(members) != 1 or not members[0]:
            return web.json_response({"error": {"code": "BadArgument", "message": "one member, not a group"}},
                                     status=400)
        if members[0] in self.unreachable:
            return web.json_response({"error": {"code": "Forbidden", "message": "app not installed for user"}},
                                     status=403)
        return web.json_response({"id": f"a:personal-{members[0]}", "activityId": None,
                                  "serviceUrl": self.url}, status=201)

    async def _paged_members(self, request: web.Request) -> web.Response:
        self.reads.append((request.path, dict(request.query)))
        everyone = self.members.get(request.match_info["conversation_id"], [])
        size = max(50, min(500, int(request.query.get("pageSize") or 200)))
        start = int(request.query.get("continuationToken") or 0)
        body: dict[str, Any] = {"members": everyone[start:start + size]}
        if start + size < len(everyone):
            body["continuationToken"] = str(start + size)
        return web.json_response(body)

    async def _team_channels(self, request: web.Request) -> web.Response:
        self.reads.append((request.path, dict(request.query)))
        return web.json_response({"conversations": self.team_channels.get(request.match_info["team_id"], [])})

    def add_team(self, team: str, channels: dict[str, str | None], people: list[tuple[str, str]], *,
                 guests: frozenset[str] = frozenset()) -> None:
        """A team with channels (id -> name; None for General, as Teams lists it) and members (id, name);
        the ids in `guests` are guests of the team (`userRole: guest`)."""
        self.team_channels[team] = [{"id": cid, **({"name": name} if name else {})} for cid, name in channels.items()]
        self.members[team] = [{"id": uid, "name": name, "aadObjectId": f"aad-{uid}", "givenName": name.split()[0],
                               "userPrincipalName": f"{name.split()[0].lower()}@contoso.example",
                               "tenantId": TENANT, "userRole": "guest" if uid in guests else "user"}
                              for uid, name in people]

    async def wait_for(self, count: int, within: float = 5.0) -> list[Call]:
        """The first `count` calls, waiting for them to arrive."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.calls) >= count), within)
        return self.calls[:count]

    # inbound activities, as Teams sends them ------------------------------------------------------

    def _base(self, activity_type: str, conversation: dict[str, Any], *, user: str, user_name: str,
              activity_id: str | None, channel_data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "type": activity_type, "id": activity_id or f"incoming-{next(self._ids)}",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "serviceUrl": self.url,
            "channelId": "msteams", "from": {"id": user, "name": user_name, "aadObjectId": f"aad-{user}"},
            "conversation": conversation, "recipient": {"id": BOT_ID, "name": BOT_NAME},
            "channelData": channel_data if channel_data is not None else {"tenant": {"id": TENANT}},
            "locale": "en-US",
        }

    def channel_mention(self, text: str, *, user: str = "29:ann", user_name: str = "Ann",
                        thread: str | None = None, activity_id: str | None = None,
                        channel: str = TEAM_CHANNEL, team: str = "19:team@thread.tacv2") -> dict[str, Any]:
        """`<at>whybot</at> {text}` posted in a team channel (a new thread unless `thread` is given)."""
        activity_id = activity_id or str(1700000000000 + next(self._ids))
        root = thread or activity_id
        activity = self._base(
            "message", {"id": f"{channel};messageid={root}", "conversationType": "channel", "isGroup": True,
                        "tenantId": TENANT},
            user=user, user_name=user_name, activity_id=activity_id,
            channel_data={"tenant": {"id": TENANT}, "team": {"id": team, "name": "Eng"},
                          "channel": {"id": channel, "name": "General"}, "teamsChannelId": channel})
        activity.update(text=f"<at>{BOT_NAME}</at> {text}", textFormat="plain", entities=[
            {"type": "mention", "text": f"<at>{BOT_NAME}</at>", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}])
        return activity

    def channel_message(self, text: str, *, user: str = "29:bob", user_name: str = "Bob",
                        thread: str | None = None, channel: str = TEAM_CHANNEL,
                        team: str = "19:team@thread.tacv2") -> dict[str, Any]:
        """A channel message without a mention (delivered under RSC ChannelMessage.Read.Group)."""
        activity = self.channel_mention(text, user=user, user_name=user_name, thread=thread, channel=channel,
                                        team=team)
        activity["text"] = text
        activity["entities"] = []
        return activity

    def personal(self, text: str, *, user: str = "29:ann", user_name: str = "Ann",
                 conversation: str = "a:personal-ann") -> dict[str, Any]:
        activity = self._base("message", {"id": conversation, "conversationType": "personal",
                                          "tenantId": TENANT},
                              user=user, user_name=user_name, activity_id=None)
        activity.update(text=text, textFormat="plain")
        return activity

    def group_mention(self, text: str, *, user: str = "29:ann", user_name: str = "Ann",
                      conversation: str = "19:group-chat@thread.v2") -> dict[str, Any]:
        activity = self._base("message", {"id": conversation, "conversationType": "groupChat", "isGroup": True,
                                          "tenantId": TENANT},
                              user=user, user_name=user_name, activity_id=None,
                              channel_data={"tenant": {"id": TENANT}})
        activity.update(text=f"<at>{BOT_NAME}</at> {text}", textFormat="plain", entities=[
            {"type": "mention", "text": f"<at>{BOT_NAME}</at>", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}])
        return activity

    def card_invoke(self, data: dict[str, Any], *, conversation: dict[str, Any], user: str = "29:ann",
                    reply_to: str | None = None, channel_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """An `adaptiveCard/action` invoke, as Teams sends it for an Action.Execute click."""
        activity = self._base("invoke", conversation, user=user, user_name="", activity_id=None,
                              channel_data=channel_data)
        activity.update(name="adaptiveCard/action", replyToId=reply_to, value={
            "action": {"type": "Action.Execute", "verb": f"whybot.{data.get('whybot')}", "data": data},
            "trigger": "manual"})
        return activity

    def card_submit(self, data: dict[str, Any], *, conversation: dict[str, Any], user: str = "29:ann",
                    reply_to: str | None = None, channel_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """A message carrying Action.Submit data (the fallback on hosts without Action.Execute)."""
        activity = self._base("message", conversation, user=user, user_name="", activity_id=None,
                              channel_data=channel_data)
        activity.update(value=data, replyToId=reply_to)
        return activity

    def bot_added(self, conversation: dict[str, Any], *, by: str = "29:ann", others: list[dict[str, str]] | None = None,
                  channel_data: dict[str, Any] | None = None) -> dict[str, Any]:
        activity = self._base("conversationUpdate", conversation, user=by, user_name="", activity_id=None,
                              channel_data=channel_data)
        activity["membersAdded"] = [{"id": BOT_ID, "name": BOT_NAME}, *(others or [])]
        return activity

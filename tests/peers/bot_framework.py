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
Posted activities are checked the way Teams checks them: the AI entities (one root schema.org Message, at
most 20 citations, names ≤ 80 and abstracts ≤ 160 characters), the feedback loop flags, and streaming
(see FakeConnector).
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
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_ID = "28:whybot-app-id"
BOT_NAME = "whybot"
TENANT = "72f988bf-tenant"
TEAM_CHANNEL = "19:general-channel@thread.tacv2"


SCHEMA_MESSAGE = "https://schema.org/Message"


@dataclass
class Call:
    method: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    order: int = 0  # across messages and typing activities, in the order they arrived
    at: float = 0.0  # time.monotonic() when it arrived

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None

    @property
    def entities(self) -> list[dict[str, Any]]:
        return [e for e in self.body.get("entities") or [] if isinstance(e, dict)]

    @property
    def message_entity(self) -> dict[str, Any] | None:
        """The root schema.org Message entity (the AI label and the citations), if any."""
        roots = [e for e in self.entities if e.get("type") == SCHEMA_MESSAGE]
        return roots[0] if roots else None

    @property
    def stream_info(self) -> dict[str, Any] | None:
        found = [e for e in self.entities if e.get("type") == "streaminfo"]
        return found[0] if found else None

    @property
    def channel_data(self) -> dict[str, Any]:
        data = self.body.get("channelData")
        return data if isinstance(data, dict) else {}


@dataclass
class Stream:
    """A streamed message as Teams tracks it: one per streamId, in a personal chat."""

    id: str
    conversation_id: str
    sequence: int = 1
    text: str = ""  # the last streamed text (updates must grow from it)
    streaming: bool = False  # text updates have begun, so informative ones are over
    finished: bool = False
    stopped: bool = False  # the person pressed Stop
    dropped: int = 0  # updates that arrived out of sequence (Teams answers 202 and drops them)
    updates: int = 0  # accepted updates


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_entities(body: dict[str, Any]) -> None:
    """What Teams refuses in an activity's AI entities and feedback flags (learn.microsoft.com/microsoftteams/
    platform/bots/how-to/bot-messages-ai-generated-content, "Error handling")."""
    roots = [e for e in body.get("entities") or [] if isinstance(e, dict) and e.get("type") == SCHEMA_MESSAGE]
    if len(roots) > 1:
        raise Refused(400, "BadRequest", "Multiple root message entities found under entities array.")
    for root in roots:
        if root.get("@type") != "Message" or root.get("@context") != "https://schema.org" or root.get("@id") != "":
            raise Refused(400, "BadRequest", "Error parsing message entity from entities array.")
        kinds = root.get("additionalType", [])
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise Refused(400, "BadRequest", "Error parsing message entity from entities array.")
        claims = root.get("citation", [])
        if not isinstance(claims, list):
            raise Refused(400, "BadRequest", "Error parsing message entity from entities array.")
        if len(claims) > 20:
            raise Refused(400, "BadRequest", "Bot message with more than 20 citations.")
        for claim in claims:
            appearance = claim.get("appearance") if isinstance(claim, dict) else None
            if not appearance:
                raise Refused(400, "BadRequest", "The appearance object is empty.")
            if (claim.get("@type") != "Claim" or not isinstance(claim.get("position"), int)
                    or appearance.get("@type") != "DigitalDocument" or not isinstance(appearance.get("name"), str)
                    or len(appearance["name"]) > 80 or len(appearance.get("abstract") or "") > 160):
                raise Refused(400, "BadRequest",
                              f"Error while parsing citation entity with ID: {claim.get('position')}.")
    data = body.get("channelData") if isinstance(body.get("channelData"), dict) else {}
    if "feedbackLoopEnabled" in data and "feedbackLoop" in data:
        raise Refused(400, "BadRequest", "Only one of feedbackLoopEnabled and feedbackLoop may be set.")


@dataclass
class FakeConnector:
    """Records calls; answers with fresh activity ids like the real service. Messages and updates are in
    `calls`; typing activities (the plain indicator and stream updates) in `typing`; what it refused, with
    the status and message Teams would give, in `refused`. Streams follow Teams' rules
    (learn.microsoft.com/microsoftteams/platform/bots/streaming-ux): personal chats only; the first update
    (sequence 1, no streamId) gets the stream id as a 201; later ones carry it and a growing sequence and get
    202; text must grow; informative only before text; attachments only on the final message, which has no
    sequence; nothing after the final message or after Stop (`stop`)."""

    calls: list[Call] = field(default_factory=list)
    typing: list[Call] = field(default_factory=list)
    refused: list[tuple[Call, int, str]] = field(default_factory=list)
    streams: dict[str, Stream] = field(default_factory=dict)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    team_channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # team id -> ChannelInfo
    reads: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, query) of every GET
    fail_posts: int = 0  # answer this many message POSTs with the connector's 500 error body
    fail_typing: int = 0  # and this many typing POSTs
    stop_after: int | None = None  # the person presses Stop once a stream has shown this many updates
    before_created: Callable[[Call], Awaitable[None]] | None = None  # runs once a message is accepted, before its 201
    unreachable: set[str] = field(default_factory=set)  # people whybot cannot open a personal chat with
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _posted_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _order: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
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

    def stop(self, stream_id: str) -> None:
        """The person pressed Stop on a streaming message."""
        self.streams[stream_id].stopped = True

    async def _record(self, request: web.Request, method: str) -> Call:
        body = await request.json()
        call = Call(method, request.match_info["conversation_id"], request.match_info.get("activity_id"), body,
                    dict(request.headers), next(self._order), time.monotonic())
        (self.typing if body.get("type") == "typing" else self.calls).append(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return call

    def _refuse(self, call: Call, refusal: Refused) -> web.Response:
        self.refused.append((call, refusal.status, refusal.message))
        return web.json_response({"error": {"code": refusal.code, "message": refusal.message}},
                                 status=refusal.status)

    async def _post(self, request: web.Request) -> web.Response:
        call = await self._record(request, "POST")
        typing = call.body.get("type") == "typing"
        if typing and self.fail_typing > 0:
            self.fail_typing -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "Unknown error"}}, status=500)
        if not typing and self.fail_posts > 0:
            self.fail_posts -= 1
            return web.json_response({"error": {"code": "ServiceError", "message": "Unknown error"}}, status=500)
        try:
            check_entities(call.body)
            if call.stream_info is not None:
                return self._stream(call, call.stream_info)
        except Refused as refusal:
            return self._refuse(call, refusal)
        if typing:
            return web.json_response({}, status=200)
        if self.before_created is not None:
            await self.before_created(call)
        return web.json_response({"id": f"bot-activity-{next(self._posted_ids)}"}, status=201)

    def _stream(self, call: Call, info: dict[str, Any]) -> web.Response:
        kind, stream_id = info.get("streamType", "streaming"), info.get("streamId")
        sequence = info.get("streamSequence")
        typing = call.body.get("type") == "typing"
        if not call.conversation_id.startswith("a:"):
            raise Refused(403, "ContentStreamNotAllowed", "Content stream is not allowed")
        if kind not in ("informative", "streaming", "final") or (kind == "final") == typing:
            raise Refused(400, "BadRequest", "Streaming updates are typing activities; only the final one is a message")
        if typing and call.body.get("attachments"):
            raise Refused(400, "BadRequest", "Attachments are allowed only in the final streamed message")
        if typing and not (call.body.get("text") or "").strip():
            raise Refused(400, "BadRequest", "Start streaming activities should include text")
        if kind == "informative" and len(call.body.get("text") or "") > 1000:
            raise Refused(400, "BadRequest", "Informative messages must not be more than 1000 characters")
        if stream_id is None:
            if kind == "final" or sequence != 1:
                raise Refused(400, "BadRequest", "A stream starts with streamSequence 1 and no streamId")
            new_id = f"bot-activity-{next(self._posted_ids)}"
            self.streams[new_id] = started = Stream(
                new_id, call.conversation_id, text=call.body["text"] if kind == "streaming" else "",
                streaming=kind == "streaming")
            self._shown(started)
            return web.json_response({"id": new_id}, status=201)
        stream = self.streams.get(stream_id)
        if stream is None or stream.conversation_id != call.conversation_id:
            raise Refused(400, "BadRequest", f"Unknown streamId {stream_id}")
        if stream.stopped:
            raise Refused(403, "ContentStreamNotAllowed", "Content stream was cancelled by user.")
        if stream.finished:
            raise Refused(403, "ContentStreamNotAllowed",
                          "Content stream is not allowed on an already completed streamed message")
        if kind == "final":
            if sequence is not None:
                raise Refused(400, "BadRequest", "streamSequence must not be set on the final streamed message")
            stream.finished = True
            return web.json_response({}, status=202)
        if not isinstance(sequence, int) or sequence <= stream.sequence:
            stream.dropped += 1  # Teams keeps the latest by sequence and drops the rest
            return web.json_response({"error": {"code": "ContentStreamSequenceOrderPreConditionFailed",
                                                 "message": "PreCondition failed exception when processing "
                                                            "streaming activity."}}, status=202)
        if kind == "informative" and stream.streaming:
            raise Refused(400, "BadRequest", "Informative updates are not allowed once the response is streaming")
        if kind == "streaming":
            if not call.body["text"].startswith(stream.text):
                raise Refused(400, "BadRequest", "Streamed content must contain the previously streamed content")
            stream.text, stream.streaming = call.body["text"], True
        stream.sequence = sequence
        self._shown(stream)
        return web.json_response({}, status=202)

    def _shown(self, stream: Stream) -> None:
        stream.updates += 1
        if self.stop_after is not None and stream.updates >= self.stop_after:
            stream.stopped = True

    async def _put(self, request: web.Request) -> web.Response:
        call = await self._record(request, "PUT")
        try:
            check_entities(call.body)
        except Refused as refusal:
            return self._refuse(call, refusal)
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

    def feedback_invoke(self, message_id: str | None, reaction: str = "like", text: str | None = "", *,
                        conversation: dict[str, Any], user: str = "29:ann",
                        channel_data: dict[str, Any] | None = None, activity_id: str | None = None) -> dict[str, Any]:
        """A `message/submitAction` invoke, as Teams sends it when someone submits the feedback loop's form
        under the bot's message `message_id` (the form's text arrives as JSON text in `feedback`)."""
        activity = self._base("invoke", conversation, user=user, user_name="", activity_id=activity_id,
                              channel_data=channel_data)
        action_value: dict[str, Any] = {"reaction": reaction}
        if text is not None:
            action_value["feedback"] = json.dumps({"feedbackText": text})
        activity.update(name="message/submitAction", value={"actionName": "feedback", "actionValue": action_value})
        if message_id is not None:
            activity["replyToId"] = message_id
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

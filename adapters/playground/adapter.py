"""HTTP routes of the playground and its event normalization. Questions go through the inbox like every
platform's; the page's request then waits (a little) for the worker's answer, since nothing retries it.

The playground trusts its person picker, so only its own page may drive it: every playground request must
name a loopback Host (or one in WHYBOT_PLAYGROUND_HOSTS; anything else could be DNS rebinding), and every
POST must be same-origin JSON (a cross-site page can send `text/plain` without a preflight). Why? and
feedback are authorized from the stored decision's own channel and the picked person's memberships, never
from a channel named in the body."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from yarl import URL

from adapters.playground.render import rationale_html, reply_html
from adapters.playground.surface import PlaygroundSurface, message_ts
from bot import safe_json
from bot.demo import BOT_USER, DEMO_NAME, DEMO_TENANT, EXAMPLES, PEOPLE, playground_permalink
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Reply, Trigger
from bot.questions import asks_the_channel
from bot.rules import RulesBook
from bot.services import Services
from bot.turns import AnswerTurn, Priority, load
from storage import ChannelRecord, InboxRecord, MessageRecord, NewMessage, tenant_key

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_TEXT = 40_000  # Slack's own limit for a message
REPLY_WAIT_S = 25.0
_MENTION = re.compile(r"(?<![\w@])@whybot\b[:,]?\s*", re.IGNORECASE)
_COMMAND = re.compile(r"^\s*/whybot\b\s*", re.IGNORECASE)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PREFIXES = ("/static/", "/api/playground/")
EXCLUDED_NOTE = ("whybot doesn't read this channel (it was excluded with `/whybot settings exclude`), so your "
                 "message was not kept. `/whybot settings include` lets it read here again.")


class PostMessage(BaseModel):
    channel: str = Field(min_length=1, max_length=255)
    user: str = Field(min_length=1, max_length=255)
    text: str = Field(max_length=MAX_TEXT)
    thread_id: str | None = Field(default=None, max_length=255)
    # How long to wait for the answer here; the page asks for a short wait and then polls the turn, so it
    # can show the status line and the answer as it is written.
    wait_s: float | None = Field(default=None, ge=0, le=60)


class DecisionAction(BaseModel):
    decision_id: str = Field(min_length=1, max_length=64)
    user: str = Field(min_length=1, max_length=255)
    channel: str = Field(default="", max_length=255)  # sent by older pages; never used to authorize
    helpful: bool | None = None
    item_id: str = Field(default="", max_length=255)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    """The validated JSON body, or a 400 that says which field is wrong (never a 500)."""
    try:
        payload = safe_json.loads(await request.read())  # depth-limited: no RecursionError on deep nesting
    except ValueError:
        raise _bad_request("the body must be JSON") from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _bad_request(f"{where}: {first['msg']}") from None


class PlaygroundAdapter:
    name = "playground"

    def __init__(self, services: Services) -> None:
        self.services = services
        self.tenant = DEMO_TENANT
        self.tenant_id = tenant_key(Platform.PLAYGROUND.value, DEMO_TENANT)
        self._surface = PlaygroundSurface(services)

    @property
    def surface(self) -> PlaygroundSurface:
        return self._surface

    def mount(self, app: web.Application) -> None:
        app.middlewares.append(self._guard)
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC, show_index=False)
        app.router.add_get("/api/playground/state", self.state)
        app.router.add_get("/api/playground/channels/{channel}/messages", self.messages)
        app.router.add_post("/api/playground/messages", self.post_message)
        app.router.add_get("/api/playground/turns/{key}", self.turn)
        app.router.add_post("/api/playground/why", self.why)
        app.router.add_post("/api/playground/feedback", self.feedback)

    async def start(self) -> None:
        host = self.services.settings.host
        if host not in LOOPBACK_HOSTS:
            log.error("The PLAYGROUND is on while listening on %s: anyone who can reach this port can pick any "
                      "person and read what they may read. Set WHYBOT_PLAYGROUND=false, or bind WHYBOT_HOST "
                      "to 127.0.0.1.", host)

    async def stop(self) -> None:
        return None

    # who may drive it ---------------------------------------------------------------------------

    def allowed_hosts(self) -> frozenset[str]:
        extra = (h.strip().lower().strip("[]") for h in self.services.settings.playground_hosts.split(","))
        return LOOPBACK_HOSTS | {h for h in extra if h}

    @staticmethod
    def _host_name(host: str) -> str | None:
        try:
            name = URL(f"http://{host}").host if host else None
        except ValueError:
            return None
        return name.lower().strip("[]") if name else None

    def refusal(self, request: web.Request) -> web.Response | None:
        """Why this request may not touch the playground (as a response), or None if it may."""
        if self._host_name(request.host) not in self.allowed_hosts():
            return _error(421, "the playground answers only on its loopback address (see WHYBOT_PLAYGROUND_HOSTS)")
        if request.method != "POST":
            return None
        fetch_site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        same_origin = fetch_site == "same-origin" if fetch_site is not None else (
            origin is not None and origin == f"{request.scheme}://{request.host}")
        if not same_origin:
            return _error(403, "cross-site requests are refused: use the playground page")
        if request.content_type != "application/json":
            return _error(415, "send JSON (Content-Type: application/json)")
        return None

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/" or request.path.startswith(PREFIXES):
            refused = self.refusal(request)
            if refused is not None:
                return refused
        try:
            response: web.StreamResponse = await handler(request)
        except OSError:  # a static file name the file system refuses (too long, bad bytes): no such file
            if not request.path.startswith("/static/"):
                raise
            return _error(404, "no such file")
        return response

    # pages -----------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:",
            "X-Content-Type-Options": "nosniff",
        })

    @staticmethod
    def _member_view(channel: ChannelRecord, user: str) -> bool:
        """Who may open a channel in the playground: anyone for public ones, members for the rest."""
        return not channel.is_private or user in channel.member_ids

    async def state(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        users = [u for u in await self.services.storage.workspace.list_users(self.tenant_id) if not u.is_bot]
        if not users:
            return _error(404, "no demo workspace here: run `whybot demo` to seed one")
        if user not in {u.external_id for u in users}:
            user = users[0].external_id
        channels = [c for c in await self.services.storage.workspace.channels(self.tenant_id)
                    if self._member_view(c, user)]
        names = {u.external_id: u.label for u in users} | {BOT_USER: "whybot"}
        listed = sorted(((c, self._label(c, user, names)) for c in channels),
                        key=lambda x: (x[0].kind == "dm", x[1].lower()))  # channels, then DMs, by name
        return web.json_response({
            "workspace": DEMO_NAME, "me": user, "bot": BOT_USER,
            "generator": self.services.generator.name,
            "users": [{"id": u.external_id, "name": u.label,
                       "role": PEOPLE[u.external_id].role if u.external_id in PEOPLE else ""} for u in users],
            "channels": [{"id": c.external_id, "name": label, "private": c.is_private, "kind": c.kind}
                         for c, label in listed],
            "examples": [{"label": e.label, "text": e.text, "channel": e.channel, "user": e.user,
                          "in_thread": e.in_thread} for e in EXAMPLES],
        })

    @staticmethod
    def _label(channel: ChannelRecord, user: str, names: dict[str, str]) -> str:
        """A channel's name; a direct message is named after the others in it, as a chat app does."""
        if channel.kind != "dm":
            return channel.name
        others = sorted(channel.member_ids - {user, BOT_USER})
        return ", ".join(names.get(m, m) for m in others) if others else "whybot"

    async def _channel_for(self, user: str, channel_id: str) -> ChannelRecord | None:
        channel = await self.services.storage.workspace.channel(self.tenant_id, channel_id)
        return channel if channel is not None and self._member_view(channel, user) else None

    async def messages(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        channel = await self._channel_for(user, request.match_info["channel"])
        if channel is None:
            return _error(404, "no such channel, or it is private and you are not a member")
        records = await self.services.storage.messages.channel_messages(self.tenant_id, channel.external_id)
        decisions = await self.services.storage.decisions.get_many(
            [m.decision_id for m in records if m.decision_id])
        return web.json_response({"channel": {"id": channel.external_id, "name": channel.name,
                                              "private": channel.is_private},
                                  "messages": [self._message_json(m, decisions) for m in records]})

    def _message_json(self, m: MessageRecord, decisions: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": m.external_id, "thread_id": m.thread_external_id, "user": m.user_external_id,
                               "user_name": m.user_name, "text": m.text, "is_bot": m.is_bot,
                               "created_at": m.created_at.isoformat(), "reply_count": m.reply_count}
        record = decisions.get(m.decision_id or "")
        if record is not None:
            out["reply_html"] = reply_html(Reply.model_validate(record.reply))
            out["decision_id"] = record.id
        return out

    # talking to the bot ------------------------------------------------------------------------

    async def post_message(self, request: web.Request) -> web.Response:
        body: PostMessage = await _body(request, PostMessage)
        if not body.text.strip():
            return _error(400, "type a message first")
        if await self.services.storage.workspace.get_user(self.tenant_id, body.user) is None:
            return _error(400, "unknown person")
        channel = await self._channel_for(body.user, body.channel)
        if channel is None:
            return _error(404, "no such channel, or it is private and you are not a member")
        now = self.services.clock()
        rules = await RulesBook(self.services.storage, self.services.settings).get(self.tenant_id,
                                                                                  channel.external_id)
        event = self._normalize(body, channel, now, answers_unasked=rules.answers_unasked)
        posted: dict[str, Any] | None = None
        if rules.excluded and (event is None or event.trigger != Trigger.COMMAND):
            if event is None:  # nothing said here is kept, and nobody asked whybot anything
                return web.json_response({"message": None, "reply": None, "note": EXCLUDED_NOTE})
        elif event is None or event.trigger in (Trigger.MENTION, Trigger.UNASKED):
            ts = message_ts(now)
            stored = await self.services.ingest.message(self.tenant_id, NewMessage(
                channel_external_id=channel.external_id, external_id=ts, text=body.text, created_at=now,
                user_external_id=body.user, thread_external_id=body.thread_id,
                mention_count=body.text.count("@"), permalink=playground_permalink(channel.external_id, ts)))
            posted = self._message_json(stored, {})
            if event is not None:
                event = event.model_copy(update={"message_id": ts, "thread_id": body.thread_id or ts})
        self.services.metrics.events.labels("playground", "message").inc()
        if event is None:
            return web.json_response({"message": posted, "reply": None})
        key = f"playground:{uuid.uuid4().hex}"
        priority = {Trigger.COMMAND: Priority.COMMAND, Trigger.UNASKED: Priority.HISTORY}.get(event.trigger,
                                                                                             Priority.ANSWER)
        await self.services.inbox.put(key, AnswerTurn(platform=Platform.PLAYGROUND, tenant=self.tenant, event=event),
                                      priority)
        answered = await self._wait(key, REPLY_WAIT_S if body.wait_s is None else min(body.wait_s, REPLY_WAIT_S))
        reply = await self._reply_json(answered) if answered is not None else None
        return web.json_response({"message": posted, "reply": reply, "turn": key, "pending": answered is None,
                                  "note": self._note(answered)},
                                 status=200 if answered is not None else 202)

    @staticmethod
    def _note(item: InboxRecord | None) -> str | None:
        """Why the turn was not answered, for the person who asked (the pipeline records it on the turn)."""
        where = (item.posted_ref or {}) if item is not None else {}
        note = where.get("note")
        return note if where.get("not_answered") and isinstance(note, str) else None

    async def _wait(self, key: str, seconds: float) -> InboxRecord | None:
        """The finished turn, if the worker finished it within `seconds` (the page polls /turns/{key} if not)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            item = await self.services.storage.inbox.by_key(key)
            if item is not None and item.status in ("done", "failed"):
                return item
            await asyncio.sleep(0.05)
        return None

    async def _reply_json(self, item: InboxRecord) -> dict[str, Any] | None:
        where = item.posted_ref or {}
        if not where.get("ts"):
            return None
        record = await self.services.storage.messages.find(self.tenant_id, str(where["channel"]), str(where["ts"]))
        if record is None:
            return None
        decisions = await self.services.storage.decisions.get_many([record.decision_id] if record.decision_id
                                                                   else [])
        return self._message_json(record, decisions)

    async def turn(self, request: web.Request) -> web.Response:
        """A question's state for the page that asked it: while it runs, the status line and the answer as
        written so far; once done, the reply. Only the asker sees it (the status line counts what they
        may read)."""
        key = request.match_info["key"]
        item = await self.services.storage.inbox.by_key(key) if key.startswith("playground:") else None
        if item is None or self._asker(item) != request.query.get("user"):
            return _error(404, "no such request")
        if item.status not in ("done", "failed"):
            progress = item.progress or {}
            return web.json_response({"turn": key, "pending": True, "status": progress.get("status"),
                                      "text": progress.get("text")})
        return web.json_response({"turn": key, "pending": False, "reply": await self._reply_json(item),
                                  "note": self._note(item)})

    @staticmethod
    def _asker(item: InboxRecord) -> str | None:
        try:
            turn = load(item.payload)
        except ValueError:
            return None
        return turn.event.user if isinstance(turn, AnswerTurn) else None

    def _normalize(self, body: PostMessage, channel: ChannelRecord, now: datetime, *,
                   answers_unasked: bool = False) -> ChatEvent | None:
        """A /whybot command, an @whybot mention or a message in a DM with whybot becomes an event; so does a
        top-level question where the channel's rule is to answer questions (the worker checks the rule
        again); other text is only history."""
        kind = ConversationKind.DM if channel.kind == "dm" else (
            ConversationKind.GROUP if channel.kind == "group" else ConversationKind.CHANNEL)
        common: dict[str, Any] = {"platform": Platform.PLAYGROUND, "tenant": self.tenant,
                                  "channel": channel.external_id, "conversation_kind": kind, "user": body.user,
                                  "received_at": now, "reference": {"channel": channel.external_id}}
        if _COMMAND.match(body.text):
            text = _COMMAND.sub("", body.text, count=1).strip()
            return ChatEvent(**common, text=text, trigger=Trigger.COMMAND, thread_id=body.thread_id)
        if _MENTION.search(body.text) or (kind == ConversationKind.DM and channel.member_ids == {body.user, BOT_USER}):
            # In a direct message with whybot every message is for it, as in Slack's app DM.
            return ChatEvent(**common, text=_MENTION.sub("", body.text).strip(), trigger=Trigger.MENTION)
        if answers_unasked and kind == ConversationKind.CHANNEL and not body.thread_id \
                and asks_the_channel(body.text):
            return ChatEvent(**common, text=body.text.strip(), trigger=Trigger.UNASKED)
        return None

    async def _reader(self, body: DecisionAction) -> Reader | None:
        """The picked person as a reader of the decision's own channel, if they may see that channel.

        The body's `channel` is never trusted: a non-member naming a private channel would otherwise pass
        the router's same-channel shortcut."""
        record = await self.services.storage.decisions.get(body.decision_id)
        if record is None or record.tenant_id != self.tenant_id:
            return None
        if await self.services.storage.workspace.get_user(self.tenant_id, body.user) is None:
            return None
        channel = record.channel_external_id or None
        if channel is not None and await self._channel_for(body.user, channel) is None:
            return None
        return Reader(platform=Platform.PLAYGROUND, tenant=self.tenant, user=body.user, channel=channel)

    async def why(self, request: web.Request) -> web.Response:
        body: DecisionAction = await _body(request, DecisionAction)
        reader = await self._reader(body)
        reply = await self.services.router.explain(body.decision_id, reader) if reader is not None else None
        if reply is None:
            return _error(404, "This explanation is not available.")
        self.services.metrics.why_clicks.labels("playground").inc()
        return web.json_response({"decision_id": body.decision_id, "html": rationale_html(reply)})

    async def feedback(self, request: web.Request) -> web.Response:
        body: DecisionAction = await _body(request, DecisionAction)
        if body.helpful is None:
            return _error(400, "helpful: say true or false")
        reader = await self._reader(body)
        if reader is None or not await self.services.router.feedback(body.decision_id, reader, body.helpful,
                                                                     body.item_id):
            return _error(404, "This answer is not available.")
        return web.json_response({"ok": True})

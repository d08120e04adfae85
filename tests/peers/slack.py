"""A loopback Slack: the Web API methods whybot calls, a response_url receiver, and request signing.

It speaks Slack's wire format (form, query or JSON arguments; `{"ok": ...}` answers; cursor pagination;
429 with Retry-After when told to) and checks posted blocks against Block Kit's limits the way Slack
rejects them (`invalid_blocks`), so a test can tell that nothing we send would be refused.
Everything received is recorded in `calls` and `responses` for assertions; App Home tabs published with
views.publish are kept per user in `home_views`, checked against Block Kit's view limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.signature import SignatureVerifier

TEAM = "T0FAKE"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
BOT_TOKEN = "xoxb-fake-token"
SIGNING_SECRET = "fake-signing-secret"
APP_TOKEN = "xapp-fake-app-token"
WORKSPACE_URL = "https://fake.slack.test/"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    user: str | None = None  # the other person in a DM
    members: list[str] = field(default_factory=list)
    creator: str | None = None  # conversations.info `creator`: who made the channel
    messages: list[dict[str, Any]] = field(default_factory=list)  # history, oldest first


CONVERSATION_KINDS = {"im", "mpim", "private", "public"}


def element_problems(where: str, e: dict[str, Any]) -> list[str]:
    """Why Slack would refuse one interactive element (buttons, select menus)."""
    problems: list[str] = []
    kind = e.get("type")
    if len(e.get("action_id", "")) > 255:
        problems.append(f"{where}: action_id longer than 255")
    if kind == "button":
        if not 1 <= len(e.get("text", {}).get("text", "")) <= 75:
            problems.append(f"{where}: button text not 1..75 characters")
        if len(e.get("value", "")) > 2000:
            problems.append(f"{where}: button value longer than 2000")
        if e.get("style") not in (None, "primary", "danger"):
            problems.append(f"{where}: unknown button style")
    elif kind in ("static_select", "overflow"):
        options = e.get("options") or []
        if not 1 <= len(options) <= (5 if kind == "overflow" else 100):
            problems.append(f"{where}: {len(options)} options")
        for o in options:
            if len(o.get("text", {}).get("text", "")) > 75 or len(o.get("value", "")) > 150:
                problems.append(f"{where}: option text over 75 or value over 150 characters")
        initial = e.get("initial_option")
        if initial is not None and initial not in options:
            problems.append(f"{where}: initial_option is not one of the options")
    elif kind == "conversations_select":
        include = (e.get("filter") or {}).get("include")
        if include is not None and (not include or not set(include) <= CONVERSATION_KINDS):
            problems.append(f"{where}: filter.include must be a non-empty list of {sorted(CONVERSATION_KINDS)}")
    if kind != "overflow" and "placeholder" in e and len(e["placeholder"].get("text", "")) > 150:
        problems.append(f"{where}: placeholder longer than 150")
    return problems


def block_kit_problems(blocks: Any, *, max_blocks: int = 50) -> list[str]:
    """Why Slack would answer `invalid_blocks` for these blocks (empty list: it would accept them).
    Messages take 50 blocks, views (App Home, modals) 100."""
    problems: list[str] = []
    if not isinstance(blocks, list):
        return ["blocks is not a list"]
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks (max {max_blocks})")
    for i, b in enumerate(blocks):
        if len(b.get("block_id", "")) > 255:
            problems.append(f"block {i}: block_id longer than 255")
        kind = b.get("type")
        if kind == "header" and len(b["text"]["text"]) > 150:
            problems.append(f"block {i}: header longer than 150")
        if kind == "section":
            text = b.get("text", {}).get("text", "")
            if not text or len(text) > 3000:
                problems.append(f"block {i}: section text of {len(text)} characters (1..3000)")
            if "accessory" in b:
                problems += element_problems(f"block {i} accessory", b["accessory"])
        if kind == "context" and len(b.get("elements", [])) > 10:
            problems.append(f"block {i}: more than 10 context elements")
        if kind == "actions":
            elements = b.get("elements", [])
            if len(elements) > 25:
                problems.append(f"block {i}: more than 25 actions")
            ids = [e.get("action_id") for e in elements]
            if len(ids) != len(set(ids)):
                problems.append(f"block {i}: duplicate action_id")
            for e in elements:
                problems += element_problems(f"block {i}", e)
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("duplicate block_id")
    return problems


def view_problems(view: Any, *, kind: str) -> list[str]:
    """Why Slack would answer `invalid_arguments` for a view of `kind` (home or modal)."""
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    problems = []
    if view.get("type") != kind:
        problems.append(f"view type must be {kind!r}")
    if kind == "home" and ("submit" in view or "close" in view or "title" in view):
        problems.append("a home view has no title, submit or close")
    if len(view.get("private_metadata", "")) > 3000 or len(view.get("callback_id", "")) > 255:
        problems.append("private_metadata over 3000 or callback_id over 255 characters")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*problems, "a view needs 1..100 blocks"]
    return problems + block_kit_problems(blocks, max_blocks=100)


def ts_of(n: float) -> str:
    return f"{n:.6f}"


class FakeSlack:
    def __init__(self, *, team_id: str = TEAM, bot_user_id: str = BOT_USER, bot_id: str = BOT_ID,
                 tokens: dict[str, str] | None = None) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.tokens = tokens or {BOT_TOKEN: team_id}  # token -> team
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_urls, with "_path"
        self.channels: dict[str, FakeChannel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = {}
        self.oauth_codes: dict[str, dict[str, Any]] = {}
        self._clock = 1_700_000_000.0
        self._server: TestServer | None = None
        self._changed = asyncio.Event()
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []  # what the app sent back over Socket Mode
        self.home_tab_enabled = True
        self.home_views: dict[str, dict[str, Any]] = {}  # user -> their App Home view, as views.publish stored it
        self._views = 0

    # setup -------------------------------------------------------------------------------------

    def add_channel(self, channel: FakeChannel) -> FakeChannel:
        self.channels[channel.id] = channel
        return channel

    def add_user(self, user_id: str, name: str, *, tz: str = "UTC", is_bot: bool = False, is_admin: bool = False,
                 is_owner: bool = False) -> None:
        """A person as users.info describes them; workspace owners are admins too, as on Slack."""
        self.users[user_id] = {"id": user_id, "team_id": self.team_id, "name": name.lower(), "real_name": name,
                               "tz": tz, "is_bot": is_bot, "is_admin": is_admin or is_owner, "is_owner": is_owner,
                               "is_primary_owner": False,
                               "profile": {"display_name": name, "real_name": name}}

    def fail_next(self, method: str, status: int, *, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | None = None) -> None:
        """Answer the next call of `method` with this status (e.g. 429 + Retry-After, 503)."""
        self.failures.setdefault(method, []).append((status, headers or {}, body or {"ok": False}))

    def next_ts(self) -> str:
        self._clock += 1.0
        return ts_of(self._clock)

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.api_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/")).rstrip("/")

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def response_url(self, hook: str = "hook") -> str:
        return f"{self.base_url}/respond/{hook}"

    # assertions --------------------------------------------------------------------------------

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; calls so far: {[c.method for c in self.calls]}, "
                                     f"responses: {len(self.responses)}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def wait_calls(self, method: str, count: int = 1, within: float = 10.0) -> list[Call]:
        await self.wait_for(lambda: len(self.called(method)) >= count, within)
        return self.called(method)

    # the Web API -------------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(dict((await request.post()).items()))
        for key in ("blocks", "metadata", "prompts", "chunks", "view"):
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):  # left a string: the method refuses it as Slack does
                    args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        self.calls.append(Call(method, args, token, time.monotonic()))
        self._changed.set()
        queued = self.failures.get(method)
        if queued:
            status, headers, body = queued.pop(0)
            return web.json_response(body, status=status, headers=headers)
        if method == "oauth.v2.access":
            return web.json_response(self._oauth(args))
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"})
        if token not in self.tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args, self.tokens[token]))

    def _auth_test(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        return {"ok": True, "url": WORKSPACE_URL, "team": "Fake", "user": "whybot", "team_id": team,
                "user_id": self.bot_user_id, "bot_id": self.bot_id, "is_enterprise_install": False}

    def _message(self, args: dict[str, Any]) -> dict[str, Any] | str:
        if "blocks" in args and (problems := block_kit_problems(args["blocks"])):
            return "invalid_blocks: " + "; ".join(problems)
        text = args.get("text") or ""
        if len(text) > 40_000:
            return "msg_too_long"
        return {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "text": text,
                "blocks": args.get("blocks", [])}

    def _chat_postMessage(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.is_im and self.bot_user_id not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        message = self._message(args)
        if isinstance(message, str):
            return {"ok": False, "error": message.split(":")[0], "detail": message}
        message["ts"] = self.next_ts()
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        if args.get("metadata"):
            message["metadata"] = args["metadata"]
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}

    def _chat_update(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = self.channels.get(args.get("channel", ""))
        found = [m for m in (channel.messages if channel else []) if m["ts"] == args.get("ts")]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        if found[0].get("streaming"):
            return {"ok": False, "error": "cant_update_message"}  # a message being streamed is not editable
        message = self._message(args)
        if isinstance(message, str):
            return {"ok": False, "error": message.split(":")[0], "detail": message}
        found[0].update(text=message["text"], blocks=message["blocks"])
        if args.get("metadata"):
            found[0]["metadata"] = args["metadata"]
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": message["text"]}

    def _chat_delete(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = self.channels.get(args.get("channel", ""))
        found = [m for m in (channel.messages if channel else []) if m["ts"] == args.get("ts")]
        if channel is None or not found:
            return {"ok": False, "error": "message_not_found"}
        channel.messages.remove(found[0])
        return {"ok": True, "channel": channel.id, "ts": args["ts"]}

    # streaming: chat.startStream / appendStream / stopStream -------------------------------------

    @staticmethod
    def _stream_text(args: dict[str, Any]) -> str | None:
        """The markdown a stream call adds: `markdown_text`, or the text of its `markdown_text` chunks;
        None when a chunk is not a chunk Slack knows (`invalid_chunks`)."""
        text = str(args.get("markdown_text") or "")
        for chunk in args.get("chunks") or []:
            if not isinstance(chunk, dict) or chunk.get("type") not in ("markdown_text", "task_update", "plan_update",
                                                                         "blocks"):
                return None
            if chunk["type"] == "markdown_text":
                text += str(chunk.get("text") or "")
        return text

    def _streamed(self, args: dict[str, Any]) -> dict[str, Any] | str:
        channel = self.channels.get(args.get("channel", ""))
        found = [m for m in (channel.messages if channel else []) if m["ts"] == args.get("ts")]
        if not found:
            return "message_not_found"
        if not found[0].get("streaming"):
            return "message_not_in_streaming_state"
        return found[0]

    def _chat_startStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.is_im and self.bot_user_id not in channel.members:
            return {"ok": False, "error": "not_in_channel"}
        if not channel.is_im and not (args.get("recipient_user_id") and args.get("recipient_team_id")):
            return {"ok": False, "error": "invalid_arguments", "detail": "recipient_user_id and recipient_team_id "
                                                                        "are required when streaming to channels"}
        text = self._stream_text(args)
        if text is None:
            return {"ok": False, "error": "invalid_chunks"}
        if len(text) > 12_000:
            return {"ok": False, "error": "msg_too_long"}
        message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "text": text, "blocks": [],
                   "ts": self.next_ts(), "streaming": True}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"]}

    def _chat_appendStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        message = self._streamed(args)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        text = self._stream_text(args)
        if text is None:
            return {"ok": False, "error": "invalid_chunks"}
        if not text:
            return {"ok": False, "error": "invalid_arguments", "detail": "markdown_text is required"}
        message["text"] += text
        return {"ok": True, "channel": args["channel"], "ts": message["ts"]}

    def _chat_stopStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        message = self._streamed(args)
        if isinstance(message, str):
            return {"ok": False, "error": message}
        text = self._stream_text(args)
        if text is None:
            return {"ok": False, "error": "invalid_chunks"}
        if "blocks" in args and (problems := block_kit_problems(args["blocks"])):
            return {"ok": False, "error": "invalid_blocks", "detail": "; ".join(problems)}
        message["text"] += text
        message["blocks"] = args.get("blocks") or []
        if args.get("metadata"):
            message["metadata"] = args["metadata"]
        del message["streaming"]
        return {"ok": True, "channel": args["channel"], "ts": message["ts"],
                "message": {k: v for k, v in message.items() if k != "metadata"}}

    # the assistant view: assistant.threads.* ------------------------------------------------------

    def _assistant_channel(self, args: dict[str, Any], *, thread: bool = True, dm_only: bool = True) -> str | None:
        """Why Slack refuses an assistant.threads call on this channel and thread, or None (setStatus also
        works in channel threads since it takes `chat:write`; prompts and titles are the DM's)."""
        channel = self.channels.get(str(args.get("channel_id") or ""))
        if channel is None or (dm_only and not channel.is_im):
            return "channel_not_found"
        if thread and not args.get("thread_ts"):
            return "invalid_arguments"
        return None

    def _assistant_threads_setStatus(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        error = self._assistant_channel(args, dm_only=False)
        if error is None and not isinstance(args.get("status"), str):
            error = "invalid_arguments"
        return {"ok": False, "error": error} if error else {"ok": True}

    def _assistant_threads_setTitle(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        error = self._assistant_channel(args)
        if error is None and not args.get("title"):
            error = "invalid_arguments"
        return {"ok": False, "error": error} if error else {"ok": True}

    def _assistant_threads_setSuggestedPrompts(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        error = self._assistant_channel(args, thread=False)  # the agent view puts prompts atop the DM, no thread
        prompts = args.get("prompts")
        if error is None and (not isinstance(prompts, list) or not 1 <= len(prompts) <= 4 or not all(
                isinstance(p, dict) and set(p) == {"title", "message"} and p["title"] and p["message"]
                for p in prompts)):
            error = "invalid_arguments"
        return {"ok": False, "error": error} if error else {"ok": True}

    def _chat_postEphemeral(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        """Only `user` sees it; Slack refuses a channel it cannot find or a user who is not in it."""
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel.members and args.get("user") not in channel.members:
            return {"ok": False, "error": "user_not_in_channel"}
        message = self._message(args)
        if isinstance(message, str):
            return {"ok": False, "error": message.split(":")[0], "detail": message}
        return {"ok": True, "message_ts": self.next_ts()}

    def _chat_getPermalink(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("message_ts", "")
        return {"ok": True, "channel": channel,
                "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"}

    def _conversations_info(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        c = self.channels.get(args.get("channel", ""))
        if c is None or (c.is_private and self.bot_user_id not in c.members):
            return {"ok": False, "error": "channel_not_found"}
        info: dict[str, Any] = {"id": c.id, "is_channel": not (c.is_im or c.is_mpim), "is_private": c.is_private,
                                "is_im": c.is_im, "is_mpim": c.is_mpim, "topic": {"value": ""}}
        if c.is_im:
            info["user"] = c.user
        else:
            info["name"] = c.name
            if c.creator:
                info["creator"] = c.creator
        return {"ok": True, "channel": info}

    @staticmethod
    def _page(items: list[Any], args: dict[str, Any]) -> tuple[list[Any], str]:
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = items[start:start + limit]
        more = start + limit < len(items)
        return page, (str(start + limit) if more else "")

    def _conversations_members(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        c = self.channels.get(args.get("channel", ""))
        if c is None:
            return {"ok": False, "error": "channel_not_found"}
        page, cursor = self._page(c.members, args)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_history(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        c = self.channels.get(args.get("channel", ""))
        if c is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(args.get("oldest") or 0)
        top = [m for m in c.messages if float(m["ts"]) >= oldest
               and (not m.get("thread_ts") or m.get("thread_ts") == m["ts"])]
        newest_first = list(reversed(top))
        page, cursor = self._page(newest_first, args)
        if str(args.get("include_all_metadata")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        return {"ok": True, "messages": page, "has_more": bool(cursor),
                "response_metadata": {"next_cursor": cursor}}

    def _conversations_replies(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        c = self.channels.get(args.get("channel", ""))
        if c is None:
            return {"ok": False, "error": "channel_not_found"}
        root = args.get("ts")
        thread = [m for m in c.messages if m["ts"] == root or m.get("thread_ts") == root]
        page, cursor = self._page(thread, args)
        return {"ok": True, "messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}

    def _users_info(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        user = self.users.get(args.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _users_list(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        page, cursor = self._page(list(self.users.values()), args)
        return {"ok": True, "members": page, "cache_ts": int(self._clock),
                "response_metadata": {"next_cursor": cursor}}

    def _views_publish(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        """Publish a user's Home tab. `hash`, when given, must match what the tab holds (race protection)."""
        user, view = args.get("user_id"), args.get("view")
        problems = ["missing required field: user_id"] if not user else []
        problems += view_problems(view, kind="home")
        if problems:
            return {"ok": False, "error": "invalid_arguments",
                    "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]}}
        if not self.home_tab_enabled:
            return {"ok": False, "error": "not_enabled"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        current = self.home_views.get(str(user))
        if args.get("hash") and (current is None or current["hash"] != args["hash"]):
            return {"ok": False, "error": "hash_conflict"}
        self._views += 1
        view_id = current["id"] if current else f"V{self._views:08d}"
        stored = {"id": view_id, "team_id": team, "type": "home", "blocks": view["blocks"],
                  "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
                  "state": {"values": {}}, "hash": f"{int(self._clock)}.{self._views:08d}", "clear_on_close": False,
                  "notify_on_close": False, "close": None, "submit": None, "previous_view_id": None,
                  "root_view_id": view_id, "app_id": "A0FAKE", "external_id": view.get("external_id", ""),
                  "app_installed_team_id": team, "bot_id": self.bot_id}
        self.home_views[str(user)] = stored
        return {"ok": True, "view": stored}

    def _oauth(self, args: dict[str, Any]) -> dict[str, Any]:
        grant = self.oauth_codes.get(args.get("code", ""))
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        self.tokens[grant["access_token"]] = grant["team"]["id"]
        return {"ok": True, **grant}

    # Socket Mode -------------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        self._changed.set()
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                            "connection_info": {"app_id": "A0FAKE"}})
        async for message in ws:
            if message.type.name == "TEXT":
                self.socket_acks.append(json.loads(message.data))
                self._changed.set()
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any], *, envelope_id: str,
                            retry_attempt: int = 0) -> None:
        """Deliver an event, command or click over the open Socket Mode connection."""
        await self.wait_for(lambda: bool(self.sockets))
        await self.sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                          "accepts_response_payload": kind != "events_api",
                                          "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt
                                          else ""})

    # response_url ------------------------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "blocks" in body and (problems := block_kit_problems(body["blocks"])):
            self.responses.append({"_path": request.match_info["hook"], "_rejected": problems, **body})
            self._changed.set()
            return web.Response(status=400, text="invalid_blocks")
        self.responses.append({"_path": request.match_info["hook"], **body})
        self._changed.set()
        return web.Response(text="ok")


# signing requests as Slack does -------------------------------------------------------------------


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/json", retry: int | None = None) -> dict[str, str]:
    """Headers of a real v0-signed Slack request (signature computed by slack_sdk's SignatureVerifier)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or "", "Content-Type": content_type}
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def event_body(event: dict[str, Any], *, event_id: str, team: str = TEAM) -> dict[str, Any]:
    return {"token": "legacy", "team_id": team, "api_app_id": "A0FAKE", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True,
                                "is_enterprise_install": False}]}


def form(fields: dict[str, str]) -> str:
    return urlencode(fields)


def action_form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})

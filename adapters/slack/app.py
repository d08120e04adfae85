"""Wires slack-bolt's AsyncApp into the one aiohttp server: POST /slack/events (events, slash commands
and interactivity), the OAuth install pages, and Socket Mode when SLACK_APP_TOKEN is set.

Bolt verifies signatures, answers url_verification, resolves tokens and ignores the bot's own
events. It runs with process_before_response: each listener (ingress.py) commits its turn to the
inbox, and only then does the 200 leave, so an acknowledged question is never lost; answering is a
worker's job (surface.py). We check the signature before parsing anything, and answer a correctly
signed body that is not a Slack payload with a 400 (not Bolt's 500).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.signature import SignatureVerifier

from adapters.slack import home, oauth, render
from adapters.slack.backfill import BackfillLimits
from adapters.slack.client import ChannelPacer, build_client
from adapters.slack.ingress import SlackIngress
from adapters.slack.poster import Poster
from adapters.slack.surface import SlackSurface
from bot import safe_json
from bot.inbox import InboxUnavailable
from bot.services import Services

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError)  # code reading a payload's fields


def parse_body(text: str, content_type: str | None) -> Any:
    """The body as Bolt will read it (same JSON-or-form rule as `slack_bolt.request.internals.parse_body`),
    parsed with the safe parser: ValueError for deep nesting, lone surrogates, huge numbers, bad JSON."""
    if not text:
        return {}
    if (content_type or "").split(";")[0].strip() == "application/json" or text.startswith("{"):
        return safe_json.loads(text)
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return safe_json.loads(payload) if payload is not None else {}
    return dict(parse_qsl(text, keep_blank_values=True))


def shape_problem(body: Any) -> str | None:
    """Why a parsed body is not a Slack payload we can hand to Bolt, or None if it looks like one."""
    if not isinstance(body, dict) or not body:
        return "the body is empty or not an object"
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "`type` is not a string"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event_callback without an event object"
        if not isinstance(body.get("event_id", ""), str):
            return "`event_id` is not a string"
    elif kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return "block_actions without a list of actions"
        for action in actions:
            if not isinstance(action.get("action_id"), str) or not isinstance(action.get("block_id", ""), str):
                return "an action whose `action_id` or `block_id` is not a string"
    elif kind is None and not isinstance(body.get("command"), str) and "ssl_check" not in body:
        return "neither an event, a slash command nor an interaction"
    return None


async def on_messages_tab(event: dict[str, Any]) -> bool:
    """`app_home_opened` on the Messages tab opens the agent view's DM; the Home tab is App Home's."""
    return isinstance(event, dict) and event.get("tab") == "messages"


async def on_home_tab(event: dict[str, Any]) -> bool:
    return isinstance(event, dict) and event.get("tab") == "home"


class SlackAdapter:
    name = "slack"

    def __init__(self, services: Services, *, pacer_interval: float = 1.0,
                 backfill_limits: BackfillLimits | None = None, stream_interval: float = 1.0) -> None:
        settings = services.settings
        self.services = services
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
        self.signing_secret = secret
        bot_token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        self.store: AsyncSQLAlchemyInstallationStore | None = None
        app_kwargs: dict[str, Any] = {}
        if bot_token is None and oauth.oauth_configured(settings):
            self.store = oauth.installation_store(settings, services.storage.db)
            app_kwargs["oauth_settings"] = oauth.oauth_settings(settings, services.storage.db, self.store)
        self.client = build_client(settings.slack_api_url, bot_token)
        self.app = AsyncApp(name="whybot", client=self.client, signing_secret=secret,
                            request_verification_enabled=secret is not None, process_before_response=True,
                            logger=logging.getLogger("whybot.slack.bolt"), **app_kwargs)
        self.poster = Poster(services.storage, ChannelPacer(pacer_interval))
        self.ingress = SlackIngress(services)
        self._surface = SlackSurface(services, self.poster, oauth.TokenSource(bot_token=bot_token, store=self.store),
                                     installation_store=self.store, backfill_limits=backfill_limits,
                                     stream_interval=stream_interval)
        self._register()
        self.app.error(self._on_bolt_error)
        self.app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        self.socket_mode: AsyncSocketModeHandler | None = None  # made in start(): it opens an HTTP session

    @property
    def surface(self) -> SlackSurface:
        return self._surface

    def _register(self) -> None:
        app, i = self.app, self.ingress
        g = i.guarded
        app.event("app_mention")(g(i.on_mention))
        app.event("message")(g(i.on_message))
        app.event("member_joined_channel")(g(i.on_member_joined))
        app.event("member_left_channel")(g(i.on_member_left))
        app.event("app_uninstalled")(g(i.on_app_uninstalled))
        app.event("tokens_revoked")(g(i.on_tokens_revoked))
        app.event("assistant_thread_started")(g(i.on_assistant_thread_started))
        app.event("assistant_thread_context_changed")(g(i.on_assistant_context_changed))
        app.event("app_context_changed")(g(i.on_app_context_changed))
        app.event("app_home_opened", matchers=[on_messages_tab])(g(i.on_messages_tab_opened))
        app.event("app_home_opened", matchers=[on_home_tab])(g(i.on_home_opened))
        app.event(re.compile(r".*"))(i.on_other_event)  # last: everything else is acked and ignored
        app.command("/whybot")(g(i.on_command))
        app.action(render.WHY)(g(i.on_why))
        app.action(render.HIDE)(g(i.on_hide))
        app.action(render.ADMIN)(g(i.on_admin))
        app.action(render.HELPFUL)(g(i.on_helpful))
        app.action(render.UNHELPFUL)(g(i.on_unhelpful))
        app.action(render.ITEM_FEEDBACK)(g(i.on_item_feedback))
        app.action(re.compile("^" + re.escape(render.FOLLOW_UP) + r"_\d+$"))(g(i.on_follow_up))
        app.action(home.HOME_WHY)(g(i.on_home_why))
        app.action(home.HOME_HIDE)(g(i.on_home_hide))
        app.action(home.HOME_ADD)(g(i.on_home_add))
        app.action(home.HOME_SCHEDULE)(g(i.on_home_schedule))
        app.action(home.HOME_OFF)(g(i.on_home_off))
        app.action(home.HOME_RULES)(g(i.on_home_rules))

    @staticmethod
    async def _on_bolt_error(error: Exception) -> BoltResponse | None:
        """Bolt's middleware (self-event filter, authorization) reads payload fields assuming Slack's
        shapes; a signed payload with other shapes makes it raise, and Bolt would answer 500. A shape error
        is a 400; anything else (the inbox, the Web API) keeps Bolt's 500, so Slack retries."""
        if isinstance(error, InboxUnavailable) or not isinstance(error, SHAPE_ERRORS):
            return None
        log.warning("signed Slack request with a malformed body: Bolt cannot read it (%s: %s)",
                    type(error).__name__, str(error)[:120])
        return BoltResponse(status=400, body=json.dumps({"error": "malformed body"}),
                            headers={"content-type": "application/json"})

    # HTTP ------------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        if self.signing_secret is not None:
            app.router.add_post(EVENTS_PATH, self.events)
        flow = self.app.oauth_flow
        if flow is not None:
            app.router.add_get(flow.install_path, self.install)
            app.router.add_get(flow.redirect_uri_path, self.oauth_redirect)

    async def events(self, request: web.Request) -> web.Response:
        """Verify first, parse second: an unsigned body is a 401 whatever it contains, and nothing a
        stranger sends is ever parsed. Signed bodies are parsed with a depth-limited parser before Bolt
        (which uses `json.loads`) sees them, so a signed but unreadable body is a 400, never a 500."""
        assert self.signing_secret is not None
        raw = await request.read()
        if not self._signed(raw, request):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            text = raw.decode("utf-8")
            body = parse_body(text, request.headers.get("Content-Type"))
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            return self._malformed(f"unparseable body ({type(exc).__name__}: {str(exc)[:120]})")
        problem = shape_problem(body)
        if problem is not None:
            return self._malformed(problem)
        try:
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
            response = await self.app.async_dispatch(bolt_request)
        except SHAPE_ERRORS as exc:
            # Bolt reads team, user, channel, enterprise and action fields while building its context and
            # matching listeners, assuming Slack's shapes; a signed body with other shapes fails in there.
            # Listener failures never get here (Bolt answers them itself; ours raise only InboxUnavailable).
            return self._malformed(f"Bolt cannot read it ({type(exc).__name__}: {str(exc)[:120]})")
        return await to_aiohttp_response(response)

    def _signed(self, raw: bytes, request: web.Request) -> bool:
        """slack_sdk's verifier, with its ValueError on a timestamp that is not an integer read as 'no'."""
        assert self.signing_secret is not None
        try:
            return SignatureVerifier(self.signing_secret).is_valid_request(raw, dict(request.headers))
        except (ValueError, TypeError, OverflowError):
            return False

    @staticmethod
    def _malformed(problem: str) -> web.Response:
        """Signed, but not a Slack payload: 400 (Slack does not retry 4xx; the same bytes would fail again)."""
        log.warning("signed Slack request with a malformed body: %s", problem)
        return web.json_response({"error": f"malformed body: {problem}"}, status=400)

    async def install(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.app_token is not None:
            self.socket_mode = AsyncSocketModeHandler(self.app, self.app_token)
            await self.socket_mode.connect_async()
            log.info("Slack Socket Mode connected")

    async def stop(self) -> None:
        if self.socket_mode is not None:
            await self.socket_mode.close_async()
            self.socket_mode = None

"""Wires slack-bolt's AsyncApp into the one aiohttp server: POST /slack/events (events, slash commands
and interactivity), the OAuth install pages, and Socket Mode when SLACK_APP_TOKEN is set.

Bolt verifies signatures, answers url_verification, resolves tokens and ignores the bot's own
events. We add: exactly-once handling of event deliveries through the database (claimed after the
ack, so acking never waits for the database), a bound on how many events are handled at once, and a
400 (not Bolt's 500) for a correctly signed body that is not a Slack payload.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.signature import SignatureVerifier

from adapters.slack import oauth
from adapters.slack.backfill import BackfillLimits
from adapters.slack.client import ChannelPacer, build_client
from adapters.slack.delivery import SlackDelivery
from adapters.slack.handlers import SlackHandlers
from adapters.slack.poster import Poster
from adapters.slack.render import ACTION_PREFIX
from bot.services import Services

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SHUTDOWN_GRACE_S = 10.0
MAX_CONCURRENT = 32  # events handled at once after their ack; the rest wait their turn in memory


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
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            return "block_actions without a list of actions"
    elif kind is None and not isinstance(body.get("command"), str) and "ssl_check" not in body:
        return "neither an event, a slash command nor an interaction"
    return None


class SlackAdapter:
    name = "slack"

    def __init__(self, services: Services, *, pacer_interval: float = 1.0,
                 backfill_limits: BackfillLimits | None = None, max_concurrent: int = MAX_CONCURRENT) -> None:
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
                            request_verification_enabled=secret is not None, process_before_response=False,
                            logger=logging.getLogger("whybot.slack.bolt"), **app_kwargs)
        self.poster = Poster(services.storage, ChannelPacer(pacer_interval))
        self.handlers = SlackHandlers(services, self.poster, installation_store=self.store,
                                      backfill_limits=backfill_limits)
        self._delivery = SlackDelivery(settings.slack_api_url, self.poster,
                                       oauth.TokenSource(bot_token=bot_token, store=self.store))
        self._inflight: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._register()
        self.app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        self.socket_mode: AsyncSocketModeHandler | None = None  # made in start(): it opens an HTTP session

    @property
    def delivery(self) -> SlackDelivery:
        return self._delivery

    def _register(self) -> None:
        app, h, t = self.app, self.handlers, self._tracked
        app.event("app_mention")(t(h.on_mention))
        app.event("message")(t(h.on_message))
        app.event("member_joined_channel")(t(h.on_member_joined))
        app.event("member_left_channel")(t(h.on_member_left))
        app.event("app_uninstalled")(t(h.on_app_uninstalled))
        app.event("tokens_revoked")(t(h.on_tokens_revoked))
        app.event(re.compile(r".*"))(h.on_other_event)  # last: everything else is acked and ignored
        app.command("/whybot")(t(h.on_command))
        app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(t(h.on_action))

    def _tracked(self, listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Run a listener after the ack: deduplicated, at most `max_concurrent` at a time, and remembered
        while it runs (Bolt starts it untracked) so stop() can let answers in flight finish.

        The bound keeps a burst of events queued in memory instead of thousands of tasks competing for a
        handful of database connections (and timing out on the pool after 30 s, answer lost)."""

        @functools.wraps(listener)  # Bolt reads the wrapped signature to inject arguments
        async def run(*args: Any, **kwargs: Any) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._inflight.add(task)
            try:
                async with self._slots:
                    if await self._claim(kwargs.get("body")):
                        await listener(*args, **kwargs)
            finally:
                if task is not None:
                    self._inflight.discard(task)

        return run

    async def _claim(self, body: Any) -> bool:
        """One handling per event_id across restarts and replicas; Slack's retries are dropped.

        Runs after the ack, in the listener's task: a claim is a database write, and before the ack it
        would make Slack wait for a pooled connection whenever answers in progress hold them all.
        """
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return True
        event_id = body.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return True
        if await self.services.storage.events.claim(f"slack:{event_id}"):
            return True
        log.info("event %s already handled; ignoring this delivery", event_id)
        self.services.metrics.duplicates.labels("slack").inc()
        return False

    # HTTP ------------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        if self.signing_secret is not None:
            app.router.add_post(EVENTS_PATH, self.events)
        flow = self.app.oauth_flow
        if flow is not None:
            app.router.add_get(flow.install_path, self.install)
            app.router.add_get(flow.redirect_uri_path, self.oauth_redirect)

    async def events(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, AttributeError, TypeError) as exc:  # bad JSON, bad UTF-8, JSON that is not an object
            return self._malformed(raw, request, f"unparseable body ({type(exc).__name__})")
        problem = shape_problem(bolt_request.body)
        if problem is not None:
            return self._malformed(raw, request, problem)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _malformed(self, raw: bytes, request: web.Request, problem: str) -> web.Response:
        """401 if the signature is wrong (as Bolt would say), else 400: signed, but not a Slack payload."""
        assert self.signing_secret is not None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # Slack only sends UTF-8; nothing to verify a signature over
            return web.json_response({"error": "malformed body: not UTF-8"}, status=400)
        if not SignatureVerifier(self.signing_secret).is_valid_request(text, dict(request.headers)):
            return web.json_response({"error": "invalid request"}, status=401)
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
        pending = [t for t in self._inflight if not t.done() and t is not asyncio.current_task()]
        if pending:
            log.info("waiting up to %.0fs for %d Slack answer(s) in flight", SHUTDOWN_GRACE_S, len(pending))
            _, late = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_S)
            for task in late:
                task.cancel()

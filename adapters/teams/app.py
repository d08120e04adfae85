"""`POST /api/messages`: Bot Framework's CloudAdapter behind input validation, on the one aiohttp server.

We call `CloudAdapter.process_activity` ourselves rather than `CloudAdapter.process`, because the
latter answers malformed JSON, a missing Content-Type or a missing `conversation` with a 500; here
they are 400s, a missing, forged or broken token is a 401 (we authenticate first, separately, because
botframework's validation raises anything from PermissionError to IndexError), and an invoke's
`InvokeResponse` body is written as the JSON we built (see bot.py for why we build it ourselves).

With no MICROSOFT_APP_ID the adapter runs in local emulator mode: botbuilder disables authentication
and posts replies, unauthenticated, to each activity's `serviceUrl` (the Bot Framework Emulator, or a
test's fake connector). That must never face the internet, and the startup log says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, InvokeResponse
from msrest.exceptions import DeserializationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.teams.bot import WhyBot, invoke_error
from adapters.teams.signing_keys import SigningKeys, SigningKeysUnavailable, metadata_urls
from adapters.teams.surface import TeamsSurface
from bot import safe_json
from bot.inbox import InboxUnavailable
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

ROUTE = "/api/messages"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SORRY = "Sorry, something went wrong on my side while answering. It has been logged; please try again."


class TeamsConfigurationError(ValueError):
    """The MICROSOFT_APP_* settings do not describe a usable Azure Bot registration."""


@dataclass(frozen=True)
class BotFrameworkConfig:
    """The attribute names botbuilder's configuration classes read (`APP_ID`, `APP_TENANTID`, ...)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TENANTID: str | None
    APP_TYPE: str

    @classmethod
    def from_settings(cls, settings: Settings) -> BotFrameworkConfig:
        password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
        return cls(APP_ID=settings.microsoft_app_id or "", APP_PASSWORD=password,
                   APP_TENANTID=settings.microsoft_app_tenant_id or None,
                   APP_TYPE=settings.microsoft_app_type or "MultiTenant")


class _Conversation(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    tenantId: str | None = None


class _Account(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    name: str | None = None


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None
    mentioned: _Account | None = None


class ActivityEnvelope(BaseModel):
    """The least an activity must carry for us to answer it, and the shapes of the fields our handlers read
    (botbuilder deserializes leniently: a `null` entity or member would otherwise fail inside the turn)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field(min_length=1)
    serviceUrl: str
    conversation: _Conversation
    channelData: dict[str, Any] | None = None
    id: str | None = None
    text: str | None = None
    from_: _Account | None = Field(default=None, alias="from")
    recipient: _Account | None = None
    entities: list[_Entity] | None = None
    membersAdded: list[_Account] | None = None
    membersRemoved: list[_Account] | None = None
    replyToId: str | None = None
    name: str | None = None

    @field_validator("serviceUrl")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("serviceUrl must be an http(s) URL")
        return value


def bad_request(reason: str) -> web.Response:
    return web.json_response({"error": "bad_request", "detail": reason}, status=400)


def parse_activity(raw: bytes) -> Activity:
    """The activity in a request body, or ValueError saying what is wrong with it."""
    try:
        body = safe_json.loads(raw)  # not json.loads: 100,000 nested brackets would be a RecursionError
    except ValueError as exc:
        raise ValueError(f"body is not JSON we accept: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object (an activity)")
    try:
        envelope = ActivityEnvelope.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ValueError(f"activity is missing or has invalid: {fields}") from exc
    # botbuilder-schema does not deserialize conversation.tenantId: carry it where Teams puts it too.
    tenant = envelope.conversation.tenantId
    raw_data = body.get("channelData")
    channel_data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    if tenant and not (isinstance(channel_data.get("tenant"), dict) and channel_data["tenant"].get("id")):
        body["channelData"] = {**channel_data, "tenant": {"id": tenant}}
    try:
        activity: Activity = Activity().deserialize(body)
    except DeserializationError as exc:
        raise ValueError(f"activity does not match the Bot Framework schema: {exc}") from exc
    return activity


class TeamsAdapter:
    name = "teams"

    def __init__(self, services: Services) -> None:
        self.services = services
        self.config = BotFrameworkConfig.from_settings(services.settings)
        self.emulator_mode = not self.config.APP_ID
        try:
            auth = ConfigurationBotFrameworkAuthentication(self.config)
        except Exception as exc:  # botbuilder raises bare Exception for missing settings
            raise TeamsConfigurationError(
                f"Teams settings are incomplete ({exc}); for MICROSOFT_APP_TYPE=SingleTenant set "
                "MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID") from exc
        self.cloud = CloudAdapter(auth)
        self.cloud.on_turn_error = self._on_turn_error
        self.bot = WhyBot(services)
        self._surface = TeamsSurface(services, self.cloud, self.config.APP_ID)
        self.keys = None if self.emulator_mode else SigningKeys(metadata_urls(self.config))

    def mount(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self.handle)

    async def start(self) -> None:
        if self.emulator_mode and self.services.settings.host not in LOOPBACK_HOSTS:
            log.error("Teams adapter in LOCAL EMULATOR MODE while listening on %s: anyone who can reach %s can "
                      "make whybot post to a URL of their choosing. Set MICROSOFT_APP_ID (and the password) or "
                      "bind WHYBOT_HOST to 127.0.0.1.", self.services.settings.host, ROUTE)
        elif self.emulator_mode:
            log.warning("Teams adapter in LOCAL EMULATOR MODE: MICROSOFT_APP_ID is not set, so requests to %s "
                        "are NOT authenticated and replies go to each activity's serviceUrl. Use this with the "
                        "Bot Framework Emulator on localhost only.", ROUTE)
        else:
            log.info("Teams adapter on %s for app %s (%s)", ROUTE, self.config.APP_ID, self.config.APP_TYPE)
        if self.keys is not None:
            self.keys.start()

    async def stop(self) -> None:
        if self.keys is not None:
            await self.keys.stop()

    @property
    def surface(self) -> TeamsSurface:
        return self._surface

    async def handle(self, request: web.Request) -> web.Response:
        try:
            activity = parse_activity(await request.read())
        except ValueError as exc:
            log.info("rejected a Bot Framework request: %s", exc)
            return bad_request(str(exc))
        try:
            authorization = request.headers.get("Authorization", "")
            if self.keys is not None:
                await self.keys.ensure_fresh(authorization)
            authenticated = await self.cloud.bot_framework_authentication.authenticate_request(
                activity, authorization)
        except (SigningKeysUnavailable, requests.RequestException) as exc:
            log.error("could not verify a Bot Framework token: %s", exc)
            return web.json_response({"error": "token_verification_unavailable"}, status=503)
        except Exception as exc:  # botframework's validation raises PermissionError, jwt errors,
            # bare Exception (disallowed algorithm, endorsements), IndexError (unknown key id), KeyError and
            # AttributeError (a header without `kid`): for a forged or broken token, all of them mean 401.
            log.info("unauthorized Bot Framework request (%s: %s)", type(exc).__name__, exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            invoke: InvokeResponse | None = await self.cloud.process_activity(authenticated, activity,
                                                                              self.bot.on_turn)
        except InboxUnavailable as exc:  # not durable, so not acknowledged: Bot Framework redelivers
            log.error("could not queue a Teams activity: %s", exc)
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        if invoke is None:
            return web.Response(status=201)
        if invoke.body is None:
            return web.Response(status=int(invoke.status))
        return web.json_response(invoke.body, status=int(invoke.status))

    async def _on_turn_error(self, turn_context: TurnContext, error: Exception) -> None:
        """Log with context, and tell the person rather than leave them waiting. An inbox failure is not
        handled here: it must reach `handle` and become a 503, so the activity is redelivered."""
        if isinstance(error, InboxUnavailable):
            raise error
        activity = turn_context.activity
        log.error("Teams turn failed for %s activity %s in %s", activity.type, activity.id,
                  activity.conversation.id if activity.conversation else "?", exc_info=error)
        self.services.metrics.errors.labels(where="teams").inc()
        if activity.type == ActivityTypes.invoke:
            await turn_context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                      value=invoke_error(500, SORRY)))
        elif activity.type == ActivityTypes.message and not turn_context.responded:
            try:
                await turn_context.send_activity(SORRY)
            except Exception as exc:  # the connector itself may be what failed; the log above has the cause
                log.warning("could not tell the user about the failure: %s", exc)

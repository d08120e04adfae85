"""A whybot server with the real Slack adapter (bolt AsyncApp) on loopback, pointed at a loopback fake
Slack Web API, and helpers that send it signed events, slash commands and clicks as Slack would."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SlackAdapter
from bot.app import create_app
from bot.backends.llm.base import Draft, Passage, TextSink
from bot.backends.llm.extractive import ExtractiveGenerator
from bot.services import Services, build_services
from storage import Storage, tenant_key
from tests.conftest import make_settings
from tests.peers.slack import (
    BOT_TOKEN,
    BOT_USER,
    SIGNING_SECRET,
    TEAM,
    FakeChannel,
    FakeSlack,
    action_form,
    event_body,
    form,
    signed_headers,
)

ALICE, BOB, CAROL = "UALICE", "UBOB", "UCAROL"
GENERAL, SECRET, DM_ALICE = "CGENERAL", "CSECRET", "DALICE"


class SlowGenerator:
    """The extractive generator behind a delay, standing in for a slow model so ack timing is visible."""

    def __init__(self, delay: float) -> None:
        self.inner = ExtractiveGenerator()
        self.name = self.inner.name
        self.delay = delay

    async def answer(self, question: str, passages: list[Passage], *, on_text: TextSink | None = None) -> Draft:
        await asyncio.sleep(self.delay)
        return await self.inner.answer(question, passages)

    async def summarize(self, passages: list[Passage], *, focus: str = "", max_points: int = 6) -> Draft:
        await asyncio.sleep(self.delay)
        return await self.inner.summarize(passages, focus=focus, max_points=max_points)

    async def headline(self, passages: list[Passage]) -> Draft:
        await asyncio.sleep(self.delay)
        return await self.inner.headline(passages)


def populate(fake: FakeSlack) -> None:
    fake.add_user(ALICE, "Alice", tz="Europe/Berlin")
    fake.add_user(BOB, "Bob", tz="America/New_York")
    fake.add_user(CAROL, "Carol", tz="Asia/Tokyo")
    fake.add_channel(FakeChannel(GENERAL, "general", members=[ALICE, BOB, CAROL, BOT_USER]))
    fake.add_channel(FakeChannel(SECRET, "secret-plans", is_private=True, members=[ALICE, BOT_USER]))
    fake.add_channel(FakeChannel(DM_ALICE, "", is_im=True, user=ALICE, members=[ALICE, BOT_USER]))


@dataclass
class SlackRig:
    fake: FakeSlack
    services: Services
    http: TestClient[Any, Any]
    adapter: SlackAdapter
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        return f"Ev{next(self._ids):06d}"

    async def send(self, body: str, *, content_type: str = "application/json", retry: int | None = None,
                   secret: str = SIGNING_SECRET, timestamp: int | None = None) -> ClientResponse:
        headers = signed_headers(body, secret=secret, timestamp=timestamp, content_type=content_type, retry=retry)
        return await self.http.post("/slack/events", data=body.encode(), headers=headers)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None,
                    team: str = TEAM) -> ClientResponse:
        body = json.dumps(event_body(event, event_id=event_id or self.next_id(), team=team))
        return await self.send(body, retry=retry)

    async def message(self, channel: str, user: str, text: str, *, ts: str | None = None,
                      thread_ts: str | None = None, channel_type: str = "channel") -> str:
        ts = ts or self.fake.next_ts()
        event: dict[str, Any] = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                                 "event_ts": ts, "channel_type": channel_type}
        if thread_ts:
            event["thread_ts"] = thread_ts
        response = await self.event(event)
        assert response.status == 200, await response.text()
        await eventually(lambda: self._stored(channel, ts), True)  # stored after the ack, in the background
        return ts

    async def _stored(self, channel: str, ts: str) -> bool:
        found = await self.services.storage.messages.find(tenant_key("slack", TEAM), channel, ts)
        return found is not None

    async def mention(self, channel: str, user: str, text: str, *, ts: str | None = None,
                      thread_ts: str | None = None, event_id: str | None = None,
                      retry: int | None = None, team: str = TEAM) -> ClientResponse:
        ts = ts or self.fake.next_ts()
        event: dict[str, Any] = {"type": "app_mention", "channel": channel, "user": user,
                                 "text": f"<@{BOT_USER}> {text}", "ts": ts, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return await self.event(event, event_id=event_id, retry=retry, team=team)

    async def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL,
                      channel_name: str = "general", hook: str = "cmd") -> ClientResponse:
        body = form({"token": "legacy", "team_id": TEAM, "team_domain": "fake", "channel_id": channel,
                     "channel_name": channel_name, "user_id": user, "user_name": user.lower(),
                     "command": "/whybot", "text": text, "api_app_id": "A0FAKE",
                     "response_url": self.fake.response_url(hook), "trigger_id": f"trig.{self.next_id()}"})
        return await self.send(body, content_type="application/x-www-form-urlencoded")

    async def click(self, action_id: str, value: str, *, user: str = ALICE, channel: str = GENERAL,
                    message_ts: str | None = None, ephemeral: bool = False, hook: str = "click",
                    team: str = TEAM, thread_ts: str | None = None, menu: bool = False) -> ClientResponse:
        """A button click, or with `menu` the choice of an overflow-menu option whose value is `value`."""
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": team, "domain": "fake"},
            "user": {"id": user, "team_id": team}, "api_app_id": "A0FAKE", "token": "legacy",
            "container": {"type": "message", "message_ts": message_ts or "1.0",
                          "channel_id": channel, "is_ephemeral": ephemeral},
            "trigger_id": f"trig.{self.next_id()}", "channel": {"id": channel, "name": "x"},
            "response_url": self.fake.response_url(hook),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "whybot:x", "value": value,
                         "action_ts": "1.0", "text": {"type": "plain_text", "text": "x"}}],
        }
        if menu:
            payload["actions"] = [{"type": "overflow", "action_id": action_id, "block_id": "item:x",
                                   "action_ts": "1.0",
                                   "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}}]
        if not ephemeral and message_ts:
            payload["message"] = {"type": "message", "ts": message_ts, "bot_id": "BBOT", "text": "x"}
            if thread_ts:
                payload["message"]["thread_ts"] = thread_ts
        return await self.send(action_form(payload), content_type="application/x-www-form-urlencoded")

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted (chat.postMessage arguments), oldest first."""
        return [c.args for c in self.fake.called("chat.postMessage")
                if channel is None or c.args.get("channel") == channel]


RigFactory = Callable[..., Awaitable[SlackRig]]


async def eventually(probe: Callable[[], Awaitable[Any]], expected: Any, within: float = 5.0) -> None:
    """Wait until `probe()` returns `expected` (or contains it, for strings): work happens after the ack."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await probe()
        if (expected in value) if isinstance(expected, str) else value == expected:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{value!r} never became {expected!r}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def make_rig(sqlite_url: str) -> AsyncIterator[RigFactory]:
    """Build rigs; several may share one database (replicas) and one fake Slack."""
    opened: list[tuple[SlackRig, bool]] = []

    async def make(*, db_url: str | None = None, fake: FakeSlack | None = None, generator: Any = None,
                   pacer_interval: float = 0.0, stream_interval: float = 0.0, **env: Any) -> SlackRig:
        own_fake = fake is None
        if fake is None:
            fake = FakeSlack()
            populate(fake)
            await fake.start()
        url = db_url or sqlite_url
        storage = await Storage.open(url, auto_upgrade=True)
        values = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN,
                  "SLACK_API_URL": fake.api_url, "WHYBOT_PLAYGROUND": "false", **env}
        values = {k: v for k, v in values.items() if v is not None}
        services = await build_services(make_settings(url, **values), storage=storage, generator=generator)
        holder: dict[str, SlackAdapter] = {}

        def factory(svc: Services) -> SlackAdapter:
            holder["adapter"] = SlackAdapter(svc, pacer_interval=pacer_interval, stream_interval=stream_interval)
            return holder["adapter"]

        app = create_app(services, factories={"slack": factory})
        http = TestClient(TestServer(app, host="127.0.0.1"))
        await http.start_server()
        rig = SlackRig(fake=fake, services=services, http=http, adapter=holder["adapter"])
        opened.append((rig, own_fake))
        return rig

    yield make
    for rig, own_fake in reversed(opened):
        await asyncio.sleep(0)  # let acked background work settle before the loop closes
        await rig.http.close()
        if own_fake:
            await rig.fake.close()


@pytest.fixture
async def rig(make_rig: RigFactory) -> SlackRig:
    return await make_rig()

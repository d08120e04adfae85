"""Channel rules in the playground, over real HTTP: anyone may change them there, an excluded channel keeps
nothing and says why in a note for the asker, and a channel that answers questions answers a plain one."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.playground import create_adapter
from bot.app import create_app
from bot.demo import DEMO_TENANT
from bot.services import Services
from storage import tenant_key

Serve = Callable[[web.Application], Awaitable[str]]
TENANT = tenant_key("playground", DEMO_TENANT)
FREEZE = "Thursday at 18:00 UTC"


@pytest.fixture
async def base(demo: Services, serve: Serve) -> str:
    return await serve(create_app(demo, factories={"playground": create_adapter}))


async def say(base: str, channel: str, text: str, *, user: str = "frank") -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
            base + "/api/playground/messages", json={"channel": channel, "user": user, "text": text},
            headers={"Origin": base}) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def test_an_excluded_channel_keeps_nothing_and_says_why(base: str, demo: Services) -> None:
    asked = await say(base, "incidents", "@whybot when does the release freeze start?")
    assert FREEZE in asked["reply"]["reply_html"], "answered from #engineering while it is read"

    excluded = await say(base, "engineering", "/whybot settings exclude", user="erin")
    html = excluded["reply"]["reply_html"]
    deleted = re.search(r"deleted the (\d+) messages", html)
    assert "Excluded #engineering" in html and deleted and int(deleted.group(1)) >= 5, html
    history = [m for m in await demo.storage.messages.channel_messages(TENANT, "engineering") if not m.decision_id]
    assert history == [], "only whybot's own replies are left there"

    plain = await say(base, "engineering", "The release freeze moves to Friday.")
    assert plain["message"] is None and "doesn't read this channel" in plain["note"]
    mention = await say(base, "engineering", "@whybot when does the release freeze start?")
    assert mention["reply"] is None and mention["message"] is None
    assert "I don't read #engineering" in mention["note"] and "settings include" in mention["note"]
    elsewhere = await say(base, "incidents", "@whybot when does the release freeze start?")
    assert FREEZE not in elsewhere["reply"]["reply_html"] and "Friday" not in elsewhere["reply"]["reply_html"]
    assert elsewhere["note"] is None


async def test_a_channel_that_answers_questions_answers_a_plain_one(base: str) -> None:
    assert (await say(base, "engineering", "When does the release freeze for 3.2 start?"))["reply"] is None
    changed = await say(base, "engineering", "/whybot settings answer questions")
    assert "answering questions" in changed["reply"]["reply_html"]
    asked = await say(base, "engineering", "When does the release freeze for 3.2 start?")
    assert asked["reply"]["thread_id"] == asked["message"]["id"] and FREEZE in asked["reply"]["reply_html"]
    assert (await say(base, "engineering", "The release freeze is long this time."))["reply"] is None
    shown = await say(base, "engineering", "/whybot settings")
    assert "questions asked here without a mention" in shown["reply"]["reply_html"]
    assert "anyone in the playground" in shown["reply"]["reply_html"]

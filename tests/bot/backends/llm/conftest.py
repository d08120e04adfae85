"""A demo workspace answered by the real `openai` client talking to the loopback fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.demo import seed_demo
from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.services import Services, build_services
from storage import Storage
from tests.conftest import make_settings
from tests.peers.fake_openai import FakeOpenAI

ADMIN_TOKEN = "xoxb-111-222-AdminTokenNeverLeaves"
OPENAI_KEY = "sk-test-0123456789abcdefghijklmnop"

LLMServices = Callable[..., Awaitable[Services]]


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def llm_services(fake_openai: FakeOpenAI, sqlite_storage: Storage,
                       sqlite_url: str) -> AsyncIterator[LLMServices]:
    """Builds the services through settings (as `whybot serve` does), with the demo workspace seeded."""
    built: list[Services] = []

    async def build(**env: Any) -> Services:
        settings = make_settings(sqlite_url, OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY=OPENAI_KEY,
                                 WHYBOT_LLM_MODEL="test-model", SLACK_BOT_TOKEN=ADMIN_TOKEN, **env)
        services = await build_services(settings, storage=sqlite_storage)
        await seed_demo(services.ingest, services.storage, clock=services.clock)
        built.append(services)
        return services

    yield build


async def ask(services: Services, question: str, *, channel: str = "engineering", user: str = "frank") -> Reply:
    event = ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user=user,
                      trigger=Trigger.COMMAND, command="ask", args=question)
    return await services.router.handle(event)


def source_number(prompt: str, needle: str) -> int:
    """The [n] the prompt gave the source containing `needle` (what a faithful model would cite)."""
    for block in prompt.split("<source ")[1:]:
        if needle in block:
            return int(block.split('n="', 1)[1].split('"', 1)[0])
    raise AssertionError(f"{needle!r} is not among the sources sent")

"""A model's answer streamed to the reader while it is written, through the real `openai` client
reading server-sent events from the loopback server."""

from __future__ import annotations

from typing import Any

from bot.backends.llm import prompts
from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.services import Services
from tests.bot.backends.llm.conftest import LLMServices, source_number
from tests.peers.fake_openai import FakeOpenAI

STAGING = "how do I get access to the staging environment?"


class Watched:
    """What a surface would show: every status line and every text-so-far, in order."""

    streams = True

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.texts: list[str] = []

    async def status(self, text: str) -> None:
        self.statuses.append(text)

    async def text(self, so_far: str) -> None:
        self.texts.append(so_far)

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        return None


async def answer(services: Services, question: str, progress: Watched) -> Reply:
    event = ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="engineering", user="frank",
                      trigger=Trigger.COMMAND, command="ask", args=question)
    tenant_id = await services.storage.workspace.ensure_tenant("playground", "demo")
    return await services.router.answer(event, tenant_id, progress=progress)


async def test_answer_streams_growing_text_then_the_checked_reply(fake_openai: FakeOpenAI,
                                                                 llm_services: LLMServices) -> None:
    services = await llm_services()

    def long_answer(body: dict[str, Any]) -> str:
        n = source_number(body["messages"][1]["content"], "access form")
        return (f"Request staging access with the access form [{n}]. Bob approves requests the same day, "
                f"usually within an hour of the request [{n}].")

    fake_openai.answer(long_answer)
    watched = Watched()
    reply = await answer(services, STAGING, watched)

    assert fake_openai.received[0].body["stream"] is True
    assert len(watched.texts) >= 5  # word by word, not one block at the end
    assert all(b.startswith(a) for a, b in zip(watched.texts, watched.texts[1:], strict=False))
    assert watched.texts[-1].strip() == reply.body.strip()
    assert watched.statuses[0].startswith("Searching what you can see in ")
    assert "writing the answer" in watched.statuses[-1]
    g = reply.rationale.generator
    assert g.kind == "llm" and g.prompt_tokens and g.completion_tokens  # usage read from the last chunk


async def test_not_found_sentinel_is_never_streamed(fake_openai: FakeOpenAI, llm_services: LLMServices) -> None:
    services = await llm_services()
    fake_openai.answer(prompts.NOT_FOUND)
    watched = Watched()
    reply = await answer(services, STAGING, watched)
    assert watched.texts == []
    assert "couldn't find" in reply.body


async def test_a_stream_cut_by_a_server_error_falls_back_and_the_reply_is_whole(
        fake_openai: FakeOpenAI, llm_services: LLMServices) -> None:
    services = await llm_services(WHYBOT_LLM_MAX_ATTEMPTS="1")
    fake_openai.error(500)
    watched = Watched()
    reply = await answer(services, STAGING, watched)
    assert reply.rationale.generator.kind == "extractive" and "access form" in reply.body

"""Follow-ups with an LLM: rewritten into a standalone question (rewrite-v1), or the offline rewrite
when the model fails; both against the loopback OpenAI server."""

from __future__ import annotations

from typing import Any

from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.render import full_text, why_lines
from bot.services import Services
from tests.bot.backends.llm.conftest import LLMServices, source_number
from tests.peers.fake_openai import FakeOpenAI

FIRST = "how do I get access to the staging environment?"
THREAD = "t-staging"


async def say(services: Services, text: str, *, command: str | None = None) -> Reply:
    event = ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="engineering", user="frank",
                      thread_id=THREAD, trigger=Trigger.MENTION, text=text, command=command,
                      args=text if command else "")
    return await services.router.handle(event)


def cites_access_form(body: dict[str, Any]) -> str:
    n = source_number(body["messages"][1]["content"], "access form")
    return f"Request staging access with the access form [{n}]."


async def test_follow_up_is_rewritten_by_the_model(fake_openai: FakeOpenAI, llm_services: LLMServices) -> None:
    services = await llm_services()
    fake_openai.answer(cites_access_form)
    await say(services, FIRST, command="ask")
    fake_openai.answer("Who approves staging environment access requests?").answer(cites_access_form)
    reply = await say(services, "and who approves that?")

    rewrite = fake_openai.received[1]
    assert "<conversation>" in rewrite.content("user") and FIRST in rewrite.content("user")
    assert "Follow-up: and who approves that?" in rewrite.content("user")
    note = reply.rationale.conversation
    assert note is not None and note.continues == FIRST
    assert note.searched_as == "Who approves staging environment access requests?"
    assert note.method == "llm test-model (rewrite-v1)"
    assert "access form" in reply.body
    assert any(line.startswith("**Continues:**") and "searched as: Who approves staging" in line
               for line in why_lines(reply))
    assert "rewrite: llm test-model (rewrite-v1)" in full_text(reply.rationale)


async def test_failed_rewrite_falls_back_to_the_offline_one(fake_openai: FakeOpenAI,
                                                            llm_services: LLMServices) -> None:
    services = await llm_services(WHYBOT_LLM_MAX_ATTEMPTS="1")
    fake_openai.answer(cites_access_form)
    await say(services, FIRST, command="ask")
    fake_openai.error(500).answer(cites_access_form)
    reply = await say(services, "and who approves that?")
    note = reply.rationale.conversation
    assert note is not None and note.method.startswith("offline")
    assert note.searched_as.startswith("and who approves that?") and "staging" in note.searched_as
    assert any("rewrite by test-model (rewrite-v1) failed" in c and "HTTP 500" in c
               for c in reply.rationale.caveats)
    assert "access form" in reply.body

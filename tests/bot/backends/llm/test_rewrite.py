"""Follow-ups with an LLM: rewritten into a standalone question (rewrite-v1), or the offline rewrite
when the model fails; both against the loopback OpenAI server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.render import full_text, why_lines
from bot.services import Services
from storage import NewMessage
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


async def test_the_model_is_not_shown_an_earlier_answer_the_new_asker_may_not_see(
        fake_openai: FakeOpenAI, llm_services: LLMServices) -> None:
    """The earlier answer in a private channel quoted another private channel of its only reader. After a
    second person joins and follows up, that answer is not quoted to the model for the rewrite (whose
    words would be searched and shown in Why?), and its thread is not preferred."""
    services = await llm_services()
    tenant = "playground:demo"
    secret = "bluebird"
    for channel in ("plans", "deals"):
        await services.storage.workspace.upsert_channel(tenant, channel, name=channel, is_private=True)
        await services.storage.workspace.set_members(tenant, channel, ["alice"])
    await services.ingest.messages(tenant, [NewMessage(
        "deals", "5.0", f"The acquisition codename is {secret}, carol signed it off.",
        services.clock() - timedelta(days=1), "carol")])

    def event(user: str, text: str, command: str | None = None) -> ChatEvent:
        return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="plans", user=user, thread_id="t-deal",
                         trigger=Trigger.MENTION, text=text, command=command, args=text if command else "")

    fake_openai.answer(lambda body: f"It is {secret} [{source_number(body['messages'][1]['content'], secret)}].")
    first = await services.router.handle(event("alice", "what is the acquisition codename?", command="ask"))
    assert secret in first.body and first.citations

    await services.storage.workspace.add_member(tenant, "plans", "bob")
    fake_openai.answer("Who chose the acquisition codename?").answer("Nothing I can cite says so.")
    reply = await services.router.handle(event("bob", "and who said that?"))
    rewrite = fake_openai.received[1]
    assert "Follow-up: and who said that?" in rewrite.content("user")
    assert "what is the acquisition codename?" in rewrite.content("user")
    assert secret not in rewrite.content("user") and secret not in rewrite.content("system")
    assert all(secret not in r.content("user") for r in fake_openai.received[1:])
    assert secret not in reply.model_dump_json() and "deals" not in reply.model_dump_json()

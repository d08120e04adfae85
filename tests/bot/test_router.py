"""Routing, decision storage and who may read a decision."""

from __future__ import annotations

import pytest

from bot.models import ChatEvent, Platform, Reader, Reply, RouteKind, Trigger
from bot.services import Services


def event(text: str = "", *, command: str | None = None, channel: str = "engineering", user: str = "frank",
          private: bool = False) -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user=user, text=text,
                     command=command, args=text if command else "", private_reply=private,
                     trigger=Trigger.COMMAND if command else Trigger.MENTION)


@pytest.mark.parametrize(("text", "command", "skill", "kind"), [
    ("when is the freeze?", "ask", "ask", RouteKind.EXPLICIT),
    ("ask who owns billing", None, "ask", RouteKind.EXPLICIT),
    ("summarize #incidents last 24h", None, "summarize", RouteKind.EXPLICIT),
    ("tl;dr of this channel please", None, "summarize", RouteKind.KEYWORD),
    ("what are the most important threads today", None, "digest", RouteKind.CLASSIFIER),
    ("what can you do", None, "help", RouteKind.KEYWORD),
    ("who approved the postgres decision?", None, "people", RouteKind.KEYWORD),
    ("who is on call for billing?", None, "ask", RouteKind.CLASSIFIER),
    ("is the postgres decision final?", None, "ask", RouteKind.CLASSIFIER),
    ("anything about zebrafish?", None, "ask", RouteKind.KEYWORD),
    ("boil this long thread down for me", None, "summarize", RouteKind.CLASSIFIER),
    ("banana", None, "help", RouteKind.FALLBACK),
    ("", None, "help", RouteKind.FALLBACK),
])
async def test_route(demo: Services, text: str, command: str | None, skill: str, kind: RouteKind) -> None:
    chosen, _args, route = demo.router.route(event(text, command=command))
    assert (chosen.name, route.kind) == (skill, kind)
    if kind == RouteKind.KEYWORD:
        assert route.scores[skill] >= 1.0 and route.top_features[skill]
    if kind == RouteKind.CLASSIFIER:
        assert route.scores[skill] >= 0.5 and route.top_features[skill], "the classifier must say which words"


async def test_every_reply_has_a_stored_rationale(demo: Services) -> None:
    reply = await demo.router.handle(event("when does the release freeze start?"))
    assert reply.decision_id.startswith("d_")
    stored = await demo.storage.decisions.get(reply.decision_id)
    assert stored is not None and stored.skill == "ask" and stored.channel_external_id == "engineering"
    assert stored.rationale["route"]["kind"] in ("keyword_rule", "classifier")
    assert stored.rationale["route"]["scores"]["ask"] > 0
    assert Reply.model_validate(stored.reply).rationale.decision_id == reply.decision_id
    assert "total" in reply.rationale.timings_ms


async def test_unknown_request_gets_help_with_suggestions(demo: Services) -> None:
    reply = await demo.router.handle(event("sumarise the incidents"))  # misspelt, but close
    assert reply.rationale.skill == "summarize"
    reply = await demo.router.handle(event("frobnicate the widgets"))
    assert reply.rationale.skill == "help" and reply.rationale.route.kind == RouteKind.FALLBACK
    assert "ask frobnicate the widgets" in reply.body
    assert [f.command for f in reply.follow_ups][:1] == ["ask frobnicate the widgets"]


async def test_skill_errors_become_a_helpful_reply(demo: Services) -> None:
    reply = await demo.router.handle(event("", command="ask"))
    assert reply.title == "I couldn't do that" and "ask when is the release freeze" in reply.body
    reply = await demo.router.handle(event("weekly someday 25:00", command="digest"))
    assert "didn't understand" in reply.body or "not a day" in reply.body


@pytest.mark.parametrize("text", ["x" * 10_000, "🚀 ünïcødé — ¿qué? 你好", "<script>alert(1)</script> **bold**",
                                  "   ", "/whybot /whybot", "@@@@"])
async def test_bad_input_never_raises(demo: Services, text: str) -> None:
    reply = await demo.router.handle(event(text))
    assert reply.decision_id and (reply.title or reply.body)


async def test_explain_respects_tenant_privacy_and_channel(demo: Services) -> None:
    public = await demo.router.handle(event("when does the release freeze start?"))
    reader = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="erin", channel="engineering")
    assert await demo.router.explain(public.decision_id, reader) is not None
    other_tenant = reader.model_copy(update={"tenant": "someone-else"})
    assert await demo.router.explain(public.decision_id, other_tenant) is None
    assert await demo.router.explain("d_does_not_exist", reader) is None

    private = await demo.router.handle(event("what is the reorg plan?", channel="leadership", user="alice"))
    outsider = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="frank", channel="engineering")
    assert await demo.router.explain(private.decision_id, outsider) is None, "a private channel's answer leaked"
    member = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="carol", channel="leadership")
    assert await demo.router.explain(private.decision_id, member) is not None

    ephemeral = await demo.router.handle(event("when does the release freeze start?", private=True))
    someone = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="bob", channel="engineering")
    assert await demo.router.explain(ephemeral.decision_id, someone) is None
    owner = someone.model_copy(update={"user": "frank"})
    assert await demo.router.explain(ephemeral.decision_id, owner) is not None


async def test_feedback_is_stored_once_per_person(demo: Services) -> None:
    reply = await demo.router.handle(event("when does the release freeze start?"))
    reader = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="erin", channel="engineering")
    assert await demo.router.feedback(reply.decision_id, reader, True)
    assert await demo.router.feedback(reply.decision_id, reader, False)
    assert await demo.storage.decisions.feedback(reply.decision_id) == [("erin", "", False)]
    stranger = reader.model_copy(update={"tenant": "other"})
    assert not await demo.router.feedback(reply.decision_id, stranger, True)

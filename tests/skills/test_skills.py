"""The embedded (non-LLM) skills on the demo workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.services import Services
from skills.digest import next_run, parse_schedule
from storage import NewMessage


def ask(text: str, *, channel: str = "engineering", user: str = "frank", command: str | None = None,
        thread_id: str | None = None, private: bool = False) -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user=user, text=text,
                     command=command, args=text if command else "", thread_id=thread_id, private_reply=private,
                     trigger=Trigger.COMMAND if command else Trigger.MENTION)


def cited_text(reply: Reply) -> str:
    return " ".join(c.snippet for c in reply.citations)


async def test_ask_answers_with_a_citation_and_explains_it(demo: Services) -> None:
    reply = await demo.router.handle(ask("when does the release freeze start?"))
    assert "Thursday at 18:00 UTC" in reply.body
    assert reply.citations and "release freeze" in cited_text(reply)
    first = reply.citations[0]
    assert f"[{first.number}]" in reply.body and first.permalink and first.channel == "engineering"
    top = reply.rationale.evidence[0]
    assert top.used and {"release", "freeze"} <= set(top.matched_terms) and top.score > 0
    assert reply.rationale.generator.kind == "extractive" and reply.rationale.generator.reason


async def test_ask_uses_documents(demo: Services) -> None:
    reply = await demo.router.handle(ask("what do 502s from the load balancer mean?", command="ask"))
    assert any(c.title == "On-call runbook" for c in reply.citations)
    assert "connection pool" in reply.body


async def test_ask_brings_the_answer_from_the_thread(demo: Services) -> None:
    reply = await demo.router.handle(ask("refund policy for annual plans", command="ask", channel="support"))
    assert "30 days" in reply.body


async def test_ask_says_it_does_not_know_and_shows_what_it_searched(demo: Services) -> None:
    reply = await demo.router.handle(ask("what is the parking policy for bicycles?", command="ask"))
    assert reply.title == "I couldn't find this"
    assert "messages" in reply.body and "`parking`" in reply.body
    assert any(c.startswith("declined") for c in reply.rationale.caveats)


async def test_an_unanswered_question_is_not_an_answer(demo: Services) -> None:
    reply = await demo.router.handle(ask("does the mobile app still support iOS 15?"))
    assert reply.title == "I couldn't find this"
    # Said either way: no source but the question itself, or only weak ones beside the question.
    assert "nobody answered" in reply.body or "only asks it" in reply.body


async def test_private_facts_never_leave_their_channel(demo: Services) -> None:
    for channel, user in (("engineering", "alice"), ("random", "carol"), ("support", "dan")):
        reply = await demo.router.handle(ask("what is the Q3 reorg plan for support and success?", channel=channel,
                                             user=user))
        rendered = reply.model_dump_json()
        assert "director" not in rendered and "leadership" not in rendered, f"leak into #{channel}"
    # Asked privately by a member, it may be answered.
    reply = await demo.router.handle(ask("what is the Q3 reorg plan?", channel="engineering", user="alice",
                                         private=True))
    assert "director" in reply.body


async def test_summarize_thread_and_channel(demo: Services) -> None:
    incidents = await demo.storage.messages.channel_messages("playground:demo", "incidents")
    root = next(m.external_id for m in incidents if m.text.startswith("🚨 Incident: checkout API"))
    reply = await demo.router.handle(ask("", command="summarize", channel="incidents", thread_id=root))
    assert reply.title.startswith("Thread in #incidents: 5 messages")
    assert "Rolled back" in reply.body or "Root cause" in reply.body
    assert all(f"[{c.number}]" in reply.body for c in reply.citations)

    reply = await demo.router.handle(ask("summarize #incidents last 48h"))
    assert reply.title.startswith("#incidents, last 48h")
    assert reply.sections[0].items and reply.sections[0].items[0].why
    assert reply.rationale.evidence[0].contributions


async def test_summarize_refuses_a_private_channel_from_outside(demo: Services) -> None:
    reply = await demo.router.handle(ask("summarize #leadership last 7d", user="alice"))
    assert "can't find a channel #leadership" in reply.body
    assert "director" not in reply.model_dump_json()


async def test_summarize_an_empty_window(demo: Services) -> None:
    reply = await demo.router.handle(ask("summarize #random last 30m"))
    assert "nothing to summarize" in reply.title


async def test_digest_now_ranks_and_explains(demo: Services) -> None:
    reply = await demo.router.handle(ask("now", command="digest", channel="engineering"))
    items = reply.sections[0].items
    assert reply.title.startswith("Digest for #engineering, last 24h")
    assert len(items) >= 3 and all(i.why and i.item_id and i.link for i in items)
    scores = [e.score for e in reply.rationale.evidence]
    assert scores == sorted(scores, reverse=True)
    assert "freeze" in items[0].text
    assert all(e.contributions for e in reply.rationale.evidence)


async def test_digest_subscription_grammar(demo: Services) -> None:
    reply = await demo.router.handle(ask("daily 09:00 tz=Europe/Berlin", command="digest"))
    assert reply.title == "Digest scheduled" and "Europe/Berlin" in reply.body
    sub = await demo.storage.subscriptions.for_channel("playground:demo", "engineering")
    assert sub is not None and sub.cron == "0 9 * * *" and sub.tz == "Europe/Berlin"
    reply = await demo.router.handle(ask("weekly mon 08:30", command="digest", user="frank"))
    sub = await demo.storage.subscriptions.for_channel("playground:demo", "engineering")
    assert sub is not None and sub.cron == "30 8 * * 1" and sub.tz == "Europe/Paris", "the asker's zone is used"
    assert (await demo.router.handle(ask("status", command="digest"))).title == "Digest status"
    assert (await demo.router.handle(ask("off", command="digest"))).title == "Digest off"
    assert (await demo.router.handle(ask("status", command="digest"))).title == "No digest here"
    bad = await demo.router.handle(ask("daily 25:00", command="digest"))
    assert bad.title == "I couldn't do that"
    bad = await demo.router.handle(ask("daily 09:00 tz=Mars/Olympus", command="digest"))
    assert "not a time zone" in bad.body


def test_schedule_maths_keeps_local_time_across_dst() -> None:
    from datetime import UTC, datetime

    cron, _ = parse_schedule(["daily", "09:00"])
    before = next_run(cron, "Europe/Berlin", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    after = next_run(cron, "Europe/Berlin", before + timedelta(minutes=1))
    assert (before.hour, after.hour) == (8, 7), "09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer"
    weekly, _ = parse_schedule(["weekly", "Fri", "17:30"])
    friday = next_run(weekly, "America/New_York", datetime(2026, 11, 25, tzinfo=UTC))
    assert friday.weekday() == 4 and (friday.hour, friday.minute) == (22, 30)


async def test_help_lists_skills(demo: Services) -> None:
    reply = await demo.router.handle(ask("help"))
    names = [i.text for i in reply.sections[0].items]
    assert any("**ask**" in n for n in names) and any("**digest**" in n for n in names)


async def test_a_matching_question_does_not_vouch_for_an_unrelated_quote(services: Services) -> None:
    """The best hit only asks the question; quoting a weak sentence from elsewhere is no answer
    (found by `whybot eval`: unanswerable questions answered with one shared word)."""
    tenant = await services.ingest.tenant("playground", "demo", "Demo")
    await services.storage.workspace.upsert_channel(tenant, "C1", name="engineering")
    at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    await services.ingest.messages(tenant, [
        NewMessage("C1", "1.0", "does anyone know what was the NPS score for audit logs in the spring survey?", at,
                   "U1"),
        NewMessage("C1", "2.0", "not convinced, the last time we tried this it took all spring", at, "U2"),
        NewMessage("C1", "3.0", "the deploy pipeline is green again", at, "U3"),
    ])
    reply = await services.router.handle(ask("what was the NPS score for audit logs in the spring survey",
                                             channel="C1", command="ask"))
    assert reply.title == "I couldn't find this", reply.body
    assert any("only asks it" in c for c in reply.rationale.caveats)


async def test_a_question_for_an_amount_is_not_answered_by_another_number(services: Services) -> None:
    """"What is the budget for X?" wants a sum of money: a version number or a rate in X's thread is no answer
    (found by `whybot eval`: "Go 1.22 since the rewrite" quoted for a rewrite's budget)."""
    tenant = await services.ingest.tenant("playground", "demo", "Demo")
    await services.storage.workspace.upsert_channel(tenant, "C1", name="engineering")
    at = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    await services.ingest.messages(tenant, [
        NewMessage("C1", "1.0", "what is ledger-api written in these days?", at, "U1"),
        NewMessage("C1", "2.0", "Go 1.22 since the ledger-api rewrite", at, "U2", thread_external_id="1.0"),
    ])
    question = ask("what is the budget for the ledger-api rewrite", channel="C1", command="ask")
    reply = await services.router.handle(question)
    assert reply.title == "I couldn't find this", reply.body
    assert "asks for an amount" in reply.body
    judged = reply.rationale.answerability
    assert judged is not None and not judged.answered and "asks for an amount" in judged.reasons[0]
    await services.ingest.messages(tenant, [
        NewMessage("C1", "3.0", "the ledger-api rewrite has a budget of $40k for the quarter", at, "U3")])
    reply = await services.router.handle(question)
    assert reply.title != "I couldn't find this" and "$40k" in reply.body, reply.body


async def test_ask_finds_the_answer_inside_a_matching_thread(demo: Services) -> None:
    # The question's words match the incident announcement; the answer is a reply that says "Root cause".
    reply = await demo.router.handle(ask("what caused the checkout API 502s?"))
    assert reply.body.startswith("> Root cause: v2.14 lowered the database connection pool")
    assert "connection pool" in reply.citations[0].snippet
    assert any(e.used and e.note.startswith("the reply that best answers") for e in reply.rationale.evidence)
    reply = await demo.router.handle(ask("how was the checkout API brought back?"))
    assert "Rolled back payments-gateway to v2.13" in reply.body


async def test_talk_with_whybot_is_context_not_news(demo: Services) -> None:
    """Questions to whybot and slash-command echoes stay stored but are never digest or summary items,
    and the Why? says they were left out (issue 16.6)."""
    tenant = "playground:demo"
    await demo.storage.workspace.upsert_user(tenant, "UBOT", name="helperbot", is_bot=True)
    now = demo.clock() - timedelta(minutes=5)
    to_bot = ["@whybot when does the release freeze start? deadline?", "/whybot summarize #incidents last 24h",
              "<@UBOT> digest now please, incident postmortem due tomorrow"]
    await demo.ingest.messages(tenant, [
        NewMessage("incidents", f"9{i}.0", text, now, "frank", reaction_count=9, mention_count=3)
        for i, text in enumerate(to_bot)])
    stored = [m.text for m in await demo.storage.messages.channel_messages(tenant, "incidents")]
    assert all(t in stored for t in to_bot)
    for reply in (await demo.router.handle(ask("now", command="digest", channel="incidents")),
                  await demo.router.handle(ask("summarize #incidents last 24h"))):
        shown = " ".join(i.text for s in reply.sections for i in s.items) + " ".join(c.snippet for c in
                                                                                      reply.citations)
        assert not any(t.split()[0] in shown for t in to_bot), shown
        assert any("3 messages to or from whybot" in x for x in reply.rationale.left_out)

"""Follow-ups with the embedded generator: what a thread carries to its next question, and to whom."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import ChatEvent, Platform, Reply, Trigger
from bot.render import full_text, why_lines
from bot.services import Services
from storage import NewMessage

AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
SECRET = "bluebird"


def say(text: str, *, user: str = "frank", channel: str = "eng", thread: str = "t1", command: str | None = None
        ) -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user=user, text=text,
                     command=command, args=text if command else "", thread_id=thread,
                     trigger=Trigger.COMMAND if command else Trigger.MENTION)


def everything(reply: Reply) -> str:
    return reply.model_dump_json() + "\n".join(why_lines(reply)) + full_text(reply.rationale)


async def workspace(services: Services) -> str:
    tenant = await services.ingest.tenant("playground", "demo", "Demo")
    await services.storage.workspace.upsert_channel(tenant, "eng", name="engineering")
    await services.ingest.messages(tenant, [
        NewMessage("eng", "1.0", "Sharding ledger-worker: Dana wrote up the options in the wiki.", AT, "dana",
                   reply_count=1),
        NewMessage("eng", "1.5", "I will review the sharding options for ledger-worker by Friday.", AT, "erin",
                   thread_external_id="1.0"),
        NewMessage("eng", "2.0", "the deploy pipeline is green again", AT, "gus"),
        NewMessage("eng", "3.0", "the billing dashboard shows a spike in refunds", AT, "gus"),
    ])
    return tenant


async def test_after_a_decline_that_means_the_closest_matches_it_listed(services: Services) -> None:
    """A declined answer lists its closest matches; "and who said that?" can only point at them. The
    follow-up is answered from them, and its title and Why? say it is about those, not an answer."""
    await workspace(services)
    first = await services.router.handle(say("which vendor did we pick for the ledger-worker sharding migration?",
                                             command="ask"))
    assert first.title == "I couldn't find this" and "Closest matches" in first.body

    reply = await services.router.handle(say("and who said that?", user="gus"))
    assert reply.title.startswith("About the closest matches I listed for “which vendor did we pick")
    assert "sharding" in reply.body and {c.snippet for c in reply.citations} & {c.snippet for c in first.citations}
    assert not any(c.startswith("declined") for c in reply.rationale.caveats)
    assert any("closest matches a declined earlier answer listed" in c for c in reply.rationale.caveats)
    [line] = [w for w in why_lines(reply) if w.startswith("**Continues:**")]
    assert "which vendor did we pick for the ledger-worker" in line and "read as the closest match I listed" in line
    assert any("listed as a closest match" in e.note for e in reply.rationale.evidence if e.used)
    assert "preferred: I had not found an answer" in full_text(reply.rationale)


async def test_asking_the_declined_question_again_in_the_thread_is_declined_again(services: Services) -> None:
    """Only a follow-up that points back ("who said that?") reads the closest matches as its subject; a
    rephrase of the declined question is held to the same gate as the first time."""
    await workspace(services)
    first = await services.router.handle(say("which vendor did we pick for the ledger-worker sharding migration?",
                                             command="ask"))
    assert first.title == "I couldn't find this"
    again = await services.router.handle(say("so which vendor was picked for the ledger-worker sharding migration?"))
    assert again.title == "I couldn't find this"
    assert again.rationale.conversation is not None and again.rationale.conversation.preferred == ""


async def test_an_answered_question_is_followed_from_the_thread_it_cited(services: Services) -> None:
    await workspace(services)
    first = await services.router.handle(say("who will review the sharding options for ledger-worker?",
                                             command="ask"))
    assert first.citations and "review the sharding options" in first.body
    reply = await services.router.handle(say("when was that?"))
    assert "review the sharding options" in reply.body and reply.title == "About “when was that?”"
    [line] = [w for w in why_lines(reply) if w.startswith("**Continues:**")]
    assert "preferring the thread my earlier answer cited" in line


async def test_a_follow_up_inherits_only_what_its_own_readers_may_see(services: Services) -> None:
    """Alice asks in a private channel she alone reads; the answer comes from another private channel of
    hers. Bob joins and follows up in the same thread: nothing of that channel reaches him, not its
    thread as a preference, its words, its name, nor a count."""
    tenant = await workspace(services)
    for channel in ("plans", "deals"):
        await services.storage.workspace.upsert_channel(tenant, channel, name=channel, is_private=True)
        await services.storage.workspace.set_members(tenant, channel, ["alice"])
    await services.ingest.messages(tenant, [
        NewMessage("deals", "5.0", f"The acquisition codename is {SECRET}, carol signed it off.", AT, "carol"),
        NewMessage("eng", "6.0", "The acquisition codename list lives in the legal wiki.", AT, "gus"),
    ])
    first = await services.router.handle(say("what is the acquisition codename?", user="alice", channel="plans",
                                             command="ask"))
    assert SECRET in first.body, "alice alone reads #plans, and she is in #deals"
    conversation = await services.router.conversation(say("and who said that?", user="alice", channel="plans"),
                                                      tenant)
    assert conversation is not None and conversation.last is not None
    assert ("deals", "5.0") in conversation.last.cited_threads

    await services.storage.workspace.add_member(tenant, "plans", "bob")
    follow = say("and who said that?", user="bob", channel="plans")
    conversation = await services.router.conversation(follow, tenant)
    assert conversation is not None and conversation.last is not None
    last = conversation.last
    assert all(channel != "deals" for channel, _ in last.cited_threads) and last.cited_threads
    assert SECRET not in last.answer, "an answer quoting what bob may not see is not carried for him"
    reply = await services.router.handle(follow)
    assert reply.rationale.conversation is not None
    assert reply.rationale.conversation.continues == "what is the acquisition codename?"
    shown = everything(reply)
    assert SECRET not in shown and "deals" not in shown and "carol" not in shown
    assert not any(c.channel == "deals" for c in reply.citations)


async def test_a_people_answer_is_continued_like_an_ask_answer(demo: Services) -> None:
    """"Who knows about X?" is answered by people; "and when was that?" in its thread is about X, answered
    from the threads that answer cited."""
    first = await demo.router.handle(say("who knows about the checkout API?", channel="engineering", thread="t9"))
    assert first.rationale.skill == "people" and first.citations
    reply = await demo.router.handle(say("and when was that?", channel="engineering", thread="t9"))
    note = reply.rationale.conversation
    assert reply.rationale.skill == "ask" and note is not None and "checkout api" in note.searched_as.lower()
    assert {c.source_id for c in reply.citations} <= {c.source_id for c in first.citations} and reply.citations
    assert note.preferred.startswith("preferring the") and "my earlier answer cited" in note.preferred
    # The on-call runbook shares "checkout API" but is not what "that" means: listed, said so, not quoted.
    aside = [e for e in reply.rationale.evidence if "not in the thread “that” refers to" in e.note]
    assert aside and not any(e.used for e in aside)


async def test_who_said_that_is_answered_by_what_the_earlier_answer_quoted(services: Services) -> None:
    """The reply the first answer quoted shares no word with "and who said that?" nor with the question it
    answers; it is still what "that" means, so it is quoted again with its author, not declined because the
    only messages sharing the question's words are the question itself."""
    tenant = await workspace(services)
    await services.ingest.messages(tenant, [
        NewMessage("eng", "4.0", "how do releases of quotes-consumer go out?", AT, "dana", reply_count=1),
        NewMessage("eng", "4.5", "use ./scripts/deploy.sh from a bastion, then watch the canary", AT, "erin",
                   thread_external_id="4.0"),
    ])
    first = await services.router.handle(say("how do releases of quotes-consumer go out", command="ask"))
    assert "deploy.sh" in first.body, first.body
    reply = await services.router.handle(say("and who said that?"))
    assert not reply.rationale.declined, reply.rationale.caveats
    assert "deploy.sh" in reply.body and "erin" in reply.body
    assert {c.snippet for c in reply.citations} & {c.snippet for c in first.citations}

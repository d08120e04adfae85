"""The offline rewrite of follow-ups: what is carried, what counts as a new question."""

from __future__ import annotations

from bot import followup
from bot import text as textlib
from bot.models import Conversation, ConversationTurn


def conversation(query: str, cited: list[tuple[str, str]] | None = None) -> Conversation:
    return Conversation(thread_id="t1", turns=[ConversationTurn(question=query, query=query,
                                                                cited_threads=cited or [])])


EARLIER = conversation("root cause of the ledger-worker deadlock in us-west-2")


def test_a_follow_up_without_a_subject_carries_the_earlier_one() -> None:
    s = followup.offline_rewrite("and who said that?", EARLIER)
    assert s is not None
    assert s.query == "and who said that? root cause ledger-worker deadlock us-west-2"
    assert s.carried == frozenset(textlib.terms("root cause ledger-worker deadlock us-west-2"))
    assert s.continues.question == EARLIER.turns[0].question


def test_the_follow_ups_own_words_are_not_carried_twice() -> None:
    s = followup.offline_rewrite("was the deadlock fixed?", EARLIER)
    assert s is not None and s.query.count("deadlock") == 1


def test_a_follow_up_that_shares_nothing_and_refers_to_nothing_is_a_new_question() -> None:
    assert followup.offline_rewrite("where is the expense policy for travel", EARLIER) is None
    assert followup.offline_rewrite("where is the expense policy for travel", None) is None


def test_a_follow_up_sharing_the_subject_continues_it() -> None:
    assert followup.offline_rewrite("how long did the ledger-worker recovery take", EARLIER) is not None


def test_request_words_of_a_referring_follow_up_weigh_like_answer_kinds_but_names_stay_subject() -> None:
    assert followup.request_terms("is that still true?") >= {"true"}
    assert "eu-west-1" not in followup.request_terms("is that also true in eu-west-1?")
    assert followup.request_terms("where is the expense policy") == set()
    weights = followup.carried_weights({"said": 2.0, "deadlock": 2.0}, frozenset({"deadlock"}), frozenset({"said"}))
    assert weights == {"said": 2.0 * followup.REQUEST_WEIGHT, "deadlock": 2.0 * followup.CARRIED_WEIGHT}


def test_only_questions_in_a_thread_are_answered_unaddressed() -> None:
    assert followup.is_question("and who said that?")
    assert followup.is_question("how long will it take")
    assert not followup.is_question("thanks!")
    assert not followup.is_question("on it, will update here")


def test_bare_drops_the_lead_in() -> None:
    assert followup.bare("and who said that?") == "who said that?"
    assert followup.bare("ok so when was that?") == "when was that?"


def test_a_follow_up_prefers_the_cited_threads_else_the_closest_matches_a_decline_listed() -> None:
    cited = ConversationTurn(question="q", query="q", cited_threads=[("C1", "1.0")], listed_threads=[("C1", "9.0")])
    p = followup.preferred(cited, "and who said that?")
    assert p.threads == {("C1", "1.0")} and not p.listed and "my earlier answer cited" in p.words
    declined = ConversationTurn(question="q", query="q", declined=True, listed_threads=[("C1", "2.0"), ("C2", "3.0")])
    p = followup.preferred(declined, "when was that?")
    assert p.threads == {("C1", "2.0"), ("C2", "3.0")} and p.listed and "2 closest matches I listed" in p.words
    assert followup.preferred(ConversationTurn(question="q", declined=True), "when was that?").threads == frozenset()
    assert followup.preferred(None, "when was that?").words == ""
    # Asking again, or about something named, is not pointing at the list: the decline stands.
    assert followup.preferred(declined, "what did we decide about sharding?").threads == frozenset()
    assert followup.preferred(declined, "is it still true in eu-west-1?").threads == frozenset()

"""Picking the answering reply in a matched thread by the kind of answer the question asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import text as textlib
from bot.answer_pick import best_reply, candidates, closing, defers, sought, statement, substance
from bot.answers import answer_kinds
from storage import MessageRecord

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def thread(*said: tuple[str, str]) -> list[MessageRecord]:
    """A thread of (user, text), one minute apart; the first is the root."""
    return [MessageRecord(id=i + 1, tenant_id="t", channel_id=1, channel_external_id="C1", channel_name="eng",
                          external_id=f"{i}.0", thread_external_id=None if i == 0 else "0.0", user_external_id=user,
                          user_name=user, text=text, created_at=T0 + timedelta(minutes=i))
            for i, (user, text) in enumerate(said)]


def pick(question: str, messages: list[MessageRecord]) -> tuple[str, str] | None:
    terms = textlib.terms(question)
    chosen = best_reply(candidates(messages, messages[0]), answer_kinds(question), terms, dict.fromkeys(terms, 1.0))
    return (chosen.message.text, chosen.reason) if chosen else None


ESCALATION = thread(("U1", "Escalation: Acme can't use invoice PDFs - it spins forever"),
                    ("U2", "investigating"),
                    ("U2", "known issue - their SSO certificate expired. Workaround: clear the browser cache"),
                    ("U1", "confirmed fixed, closing the ticket"))


def test_a_cause_question_gets_the_reply_that_gives_a_cause_not_the_acknowledgement() -> None:
    chosen = pick("why did Acme have trouble with invoice PDFs", ESCALATION)
    assert chosen is not None
    text, reason = chosen
    assert text.startswith("known issue")
    assert "asked for a cause" in reason and "“known issue”" in reason


def test_a_who_question_gets_the_reply_naming_a_person_not_the_one_that_defers() -> None:
    messages = thread(("U1", "which team is on the hook for ingest?"),
                      ("U2", "not sure, <@U3|Ming> might know"),
                      ("U3", "that's <@U4|Yara>'s team since the reorg"),
                      ("U1", "ty!"))
    chosen = pick("who's the go-to person for ingest", messages)
    assert chosen is not None and chosen[0].startswith("that's <@U4")
    assert "a person or owner (“@Yara”)" in chosen[1]


def test_a_fix_question_prefers_the_resolution_over_the_diagnosis() -> None:
    messages = thread(("U1", "SEV-3: ledger-worker error spike in us-west-2, investigating"),
                      ("U2", "Postgres CPU is pinned at 100%"),
                      ("U1", "found it: an expired TLS certificate on the internal load balancer"),
                      ("U1", "fixed. Root cause: an expired TLS certificate. We renewed the cert and added an alert."))
    chosen = pick("what got ledger-worker healthy again in us-west-2", messages)
    assert chosen is not None and chosen[0].startswith("fixed. Root cause")
    cause = pick("what made ledger-worker fall over in us-west-2", messages)
    assert cause is not None and "Postgres" not in cause[0]


def test_without_a_kind_the_first_substantive_reply_answers() -> None:
    messages = thread(("U1", "what is checkout-worker written in?"),
                      ("U2", "Go 1.23 since the rewrite"),
                      ("U1", "great, thx"))
    chosen = pick("checkout-worker tech stack", messages)
    assert chosen is not None and chosen[0] == "Go 1.23 since the rewrite"
    assert "first substantive reply after the question" in chosen[1]


def test_a_number_question_wants_a_number() -> None:
    messages = thread(("U1", "does anyone know which port media-consumer uses in docker-compose?"),
                      ("U2", "good question, I thought it was documented somewhere"),
                      ("U3", "8443, see docker-compose.yml"))
    assert [k.name for k in answer_kinds("which port does media-consumer listen on")] == ["number"]
    chosen = pick("which port does media-consumer listen on", messages)
    assert chosen is not None and chosen[0].startswith("8443")


def test_a_thread_of_acknowledgements_has_no_answer() -> None:
    messages = thread(("U1", "Incident: search-gateway is down"), ("U2", "looking"), ("U3", "👀"))
    assert pick("why is search-gateway down", messages) is None


def test_candidates_leave_out_the_asker_bots_and_me_too() -> None:
    messages = thread(("U1", "where is the VPN guide?"), ("U2", "+1, also wondering"), ("U1", "anyone?"),
                      ("U3", "here: https://wiki/vpn"))
    assert [m.text for m in candidates(messages, messages[0])] == ["here: https://wiki/vpn"]
    assert candidates(messages, messages[0], taken=frozenset({messages[3].source_id})) == []


def test_signals_in_words() -> None:
    assert substance("looking") < 0.5 and substance("8443") == 1.0 and substance("see <@U1|Wei>") == 1.0
    assert closing("confirmed fixed, closing the ticket") and not closing("Thanks all. We agreed to go ahead "
                                                                          "and migrate the service to Postgres.")
    assert defers("not sure, <@U3|Ming> might know") and not defers("patched, can you ask them to retry?")
    assert sought(answer_kinds("what broke it and what fixed it")) == "a cause or what fixed it"


def test_a_trailing_question_does_not_hide_the_answer_before_it() -> None:
    assert statement("Cause was a bad cache entry; patched, can you ask them to retry?") == \
        "Cause was a bad cache entry; patched"
    assert statement("<@U1|Wei> can you check whether the deploy lines up?") == ""
    messages = thread(("U1", "Hey eng, Acme can't use webhooks - they see error 502"),
                      ("U2", "<@U3|Ben> can you check whether the last deploy lines up?"),
                      ("U3", "Cause was their SSO certificate expired; fix is out, can you ask them to retry?"))
    chosen = pick("what went wrong for Acme with webhooks", messages)
    assert chosen is not None and chosen[0].startswith("Cause was")


def test_the_leading_question_word_decides_and_how_gives_way_to_a_specific_kind() -> None:
    assert [k.name for k in answer_kinds("who took the action item on timeout alerts")] == ["who"]
    assert [k.name for k in answer_kinds("how did reviews-service recover in eu-west-1")] == ["fix"]
    assert [k.name for k in answer_kinds("search-gateway on-call playbook location")] == ["how"]
    assert [k.name for k in answer_kinds("final call on splitting orders-gateway?")] == ["decision"]

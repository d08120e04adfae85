"""Answer kinds: what a question asks for, and which words only say that."""

from __future__ import annotations

from bot.answers import answer_kinds, kind_bonus, missing_required, subject_weights


def test_kinds_of_questions_and_answers() -> None:
    assert {k.name for k in answer_kinds("what broke fraud-consumer in us-east-1")} >= {"cause"}
    assert {k.name for k in answer_kinds("who looks after media-consumer")} >= {"who"}
    fixed = {k.name for k in answer_kinds("how did we fix the orders problem")}
    assert "fix" in fixed and "how" not in fixed  # how it was fixed is the fix
    assert [k.name for k in answer_kinds("how do I deploy orders-gateway")] == ["how"]
    cause = answer_kinds("root cause of the deadlock errors")
    assert kind_bonus(cause, "Root cause: an expired TLS certificate") > 0
    assert kind_bonus(cause, "Lunch is pizza") == 0


def test_subject_words_keep_their_weight() -> None:
    weights = {"fix": 2.0, "ledger-work": 5.0, "us-west-2": 4.0}
    surface = {"fix": "fix", "ledger-work": "ledger-worker", "us-west-2": "us-west-2"}
    adjusted = subject_weights("how did we fix ledger-worker in us-west-2", weights, surface)
    assert adjusted["fix"] == 0.5 and adjusted["ledger-work"] == 5.0 and adjusted["us-west-2"] == 4.0


def test_an_amount_is_asked_only_where_money_is_the_answer() -> None:
    for question in ("what is the budget for the ledger-api rewrite", "how much does the Figma license cost us",
                     "what's our AWS spend?", "price of the enterprise plan"):
        kinds = answer_kinds(question)
        assert [k.name for k in kinds] == ["amount"], question
        assert missing_required(kinds, ["Go 1.22 since the rewrite", "1200 requests per minute"])
        for stated in ("$40k for the year", "about 12,000 EUR", "2.5 million", "it's free for open source"):
            assert missing_required(kinds, ["nothing here", stated]) is None, stated
    for question in ("why did costs go up?", "how much memory does it use", "who approved the budget"):
        assert "amount" not in {k.name for k in answer_kinds(question)}, question
        assert missing_required(answer_kinds(question), ["no number at all"]) is None

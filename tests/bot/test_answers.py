"""Answer kinds: what a question asks for, and which words only say that."""

from __future__ import annotations

from bot.answers import answer_kinds, kind_bonus, subject_weights


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

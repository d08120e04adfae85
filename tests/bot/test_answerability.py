"""The answerability model of ask: its shipped weights, its features and how a decision is put in words."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bot import answerability
from bot.answers import answer_kinds
from bot.backends.answerability import DEFAULT_WEIGHTS, FEATURES, AnswerabilityModel, WeightsError
from bot.backends.llm.base import Passage
from bot.backends.retrieval.base import Hit
from bot.models import ChatEvent, Platform, Trigger
from bot.render import admin_lines, full_text, why_lines
from bot.services import Services


def test_the_shipped_weights_load_and_name_only_computed_features() -> None:
    model = AnswerabilityModel.load()
    assert set(model.weights) <= set(FEATURES) and model.weights
    assert 0.0 < model.threshold < 1.0
    assert model.version.startswith("answerability-") and model.trained_on
    data = json.loads(DEFAULT_WEIGHTS.read_text())
    assert data["version"] == model.version and data["threshold"] == model.threshold


def test_weights_for_an_unknown_feature_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"version": "x", "bias": 0, "threshold": 0.5, "weights": {"vibes": 1.0}}))
    with pytest.raises(WeightsError, match="vibes"):
        AnswerabilityModel.load(path)
    path.write_text(json.dumps({"version": "x", "bias": 0, "threshold": 1.0, "weights": {"only_asked": 1.0}}))
    with pytest.raises(WeightsError, match="threshold"):
        AnswerabilityModel.load(path)


def test_the_score_is_the_logistic_of_bias_plus_contributions(tmp_path: Path) -> None:
    model = AnswerabilityModel(weights={"statement_coverage": 4.0, "unanswered_question": -3.0}, bias=-1.0,
                               threshold=0.5, version="t")
    score, contributions = model.score({"statement_coverage": 0.5, "unanswered_question": 1.0, "key_words": 3.0})
    assert contributions == {"statement_coverage": 2.0, "unanswered_question": -3.0, "key_words": 0.0}
    assert score == pytest.approx(1 / (1 + math.exp(-(-1.0 + 2.0 - 3.0))))
    model.save(tmp_path / "m.json")
    assert AnswerabilityModel.load(tmp_path / "m.json") == model


def _hit(n: int, text: str, matched: list[str], score: float) -> Hit:
    return Hit(source_id=f"doc:{n}", score=score, matched_terms=matched, passage=text)


def _passage(n: int, text: str) -> Passage:
    return Passage(number=n, source_id=f"doc:{n}", text=text, author="a", channel="", score=1.0)


def test_signals_tell_a_matching_question_from_a_matching_statement() -> None:
    question = "who owns the ledger-worker in us-west-2"
    weights = {"own": 1.0, "ledger-work": 3.0, "us-west-2": 2.0}
    surface = {"own": "owns", "ledger-work": "ledger-worker", "us-west-2": "us-west-2"}
    hits = [_hit(1, "who owns ledger-worker in us-west-2?", ["own", "ledger-work", "us-west-2"], 5.0),
            _hit(2, "us-west-2 is calm today", ["us-west-2"], 2.0)]
    s = answerability.signals(hits, [_passage(1, hits[0].text), _passage(2, hits[1].text)], {}, weights, surface,
                              answer_kinds(question), floor=0.6)
    assert set(s.features) == set(FEATURES)
    assert s.key_words == ["ledger-worker", "us-west-2"]  # "owns" only says a person is wanted
    assert s.features["statement_coverage"] == pytest.approx(2 / 6, abs=1e-3)  # only the statement can be quoted
    assert s.features["only_asked"] == pytest.approx(1 - 2 / 6, abs=1e-3)
    assert s.features["unanswered_question"] == 1.0 and s.features["reply_found"] == 0.0
    assert s.features["score_gap"] == pytest.approx(0.6) and s.missing == []
    assert answerability.in_words("statement_coverage", s) == ("the best statement I could quote covers 1 of the "
                                                               "2 key words")
    assert answerability.in_words("only_asked", s) == "the best match covers 2 of the 2 key words but only asks it"
    # A reply in the question's thread, brought in through it, stands for what the question covers.
    reply = _passage(3, "Frank's team owns it")
    s = answerability.signals(hits, [_passage(1, hits[0].text), _passage(2, hits[1].text), reply], {3: 1}, weights,
                              surface, answer_kinds(question), floor=0.6)
    assert s.features["statement_coverage"] == 1.0 and s.features["only_asked"] == 0.0
    assert s.features["reply_found"] == 1.0 and s.features["unanswered_question"] == 0.0
    assert answerability.in_words("statement_coverage", s).startswith("the best reply I could quote answers a message")
    weaker = answerability.quoting(s, 0.25)
    assert weaker.features["statement_coverage"] == 0.25 and weaker.features["only_asked"] == 0.75


def test_a_decision_lists_its_strongest_reasons_for_and_one_against() -> None:
    model = AnswerabilityModel(weights={"statement_coverage": 3.0, "only_asked": -8.0, "key_words_missing": -1.0},
                               bias=0.0, threshold=0.5, version="t")
    s = answerability.Signals({"statement_coverage": 0.5, "only_asked": 0.5, "key_words_missing": 1.0},
                              key_words=["nps", "audit", "logs", "quarter"], best_covers=["nps", "audit", "logs"],
                              stated_covers=["audit", "logs"], missing=["quarter"])
    judged = answerability.judge(model, s)
    assert not judged.answered and judged.score < 0.5
    assert judged.reasons[0] == "the best match covers 3 of the 4 key words but only asks it"
    assert "“quarter” appears in none of the matches" in judged.reasons
    assert judged.reasons[-1] == "the best statement I could quote covers 2 of the 4 key words"  # the one against
    assert answerability.summary(judged).startswith("no (0.")


def test_a_score_the_coverage_floor_overrules_is_not_called_below_the_threshold() -> None:
    """0.80 against 0.71 declined by the floor once read "answerability 0.80 is below 0.71"."""
    model = AnswerabilityModel(weights={"statement_coverage": 1.0, "reply_found": 2.0}, bias=0.0, threshold=0.7,
                               version="t")
    s = answerability.Signals({"statement_coverage": 0.2, "reply_found": 1.0}, key_words=["port", "dev", "api"],
                              stated_covers=["api"], missing=["dev"])
    judged = answerability.judge(model, s)
    assert not judged.answered and judged.score >= judged.threshold
    assert judged.reasons[0] == answerability.TOO_LITTLE
    assert answerability.verdict(judged) == f"answerability {judged.score:.2f} reaches 0.70, but a rule declines"
    assert ", but a rule declined): " + answerability.TOO_LITTLE in answerability.summary(judged)
    below = answerability.judge(model, answerability.Signals({"statement_coverage": 0.3, "reply_found": 0.0},
                                                             key_words=["port"]))
    assert answerability.verdict(below) == f"answerability {below.score:.2f} is below 0.70"


def _ask(text: str, channel: str = "engineering") -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user="frank", text=text,
                     command="ask", args=text, trigger=Trigger.COMMAND)


async def test_a_decline_is_explained_in_the_why(demo: Services) -> None:
    reply = await demo.router.handle(_ask("what is the parking policy for bicycles?"))
    a = reply.rationale.answerability
    assert reply.rationale.declined and a is not None and not a.answered
    # neither word is in any match: whatever the model scores, the coverage floor declines and says so first
    assert a.features["statement_coverage"] < answerability.MIN_STATEMENT_COVERAGE
    assert a.reasons[0] == answerability.TOO_LITTLE
    assert a.reasons and set(a.contributions) == set(a.features)
    line = next(x for x in why_lines(reply) if x.startswith("**Could I answer?**"))
    assert line == f"**Could I answer?** no: {a.reasons[0]}"  # the main reason, no scores: those are for admins
    assert any(c.startswith("declined: answerability") and a.reasons[0] in c for c in reply.rationale.caveats)
    assert f"({a.reasons[0][0].upper()}{a.reasons[0][1:]}.)" in reply.body  # the asker reads the main reason too
    assert any(x.startswith("Answerability ") for x in admin_lines(reply))
    assert "ANSWERABILITY" in full_text(reply.rationale)


async def test_an_answer_says_why_it_was_answerable(demo: Services) -> None:
    reply = await demo.router.handle(_ask("when does the release freeze start?"))
    a = reply.rationale.answerability
    assert not reply.rationale.declined and a is not None and a.answered and a.score >= a.threshold
    assert any(x.startswith("**Could I answer?** yes: ") for x in why_lines(reply))

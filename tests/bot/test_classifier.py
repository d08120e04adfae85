"""The trained router classifier: shipped weights load, held-out accuracy, explanations, and the
rules-then-classifier override."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.classifier import (
    DEFAULT_WEIGHTS,
    RouterModel,
    RulesThenClassifier,
    TfidfIntentClassifier,
    load_model,
)
from bot.cli import main
from bot.intents import KeywordIntentClassifier
from offline.synth import generate
from offline.synth.utterances import training_utterances
from offline.training.router import accuracy, fit

# Written by hand, not by the generator: how people actually talk to a bot.
REALISTIC: tuple[tuple[str, str], ...] = (
    ("who's on call for payments tonight?", "ask"),
    ("where is the runbook for the search cluster", "ask"),
    ("did anyone figure out why checkout was slow on tuesday", "ask"),
    ("what port does the ledger service use", "ask"),
    ("how do I rotate the stripe keys?", "ask"),
    ("which database does inventory use", "ask"),
    ("is the SSO bug fixed for Globex?", "ask"),
    ("find the thread about the kafka migration", "ask"),
    ("who approved the new on-call rotation", "ask"),
    ("auth-service retry policy", "ask"),
    ("link to the billing dashboard", "ask"),
    ("what was the root cause of yesterday's outage", "ask"),
    ("summarize this thread", "summarize"),
    ("tl;dr pls", "summarize"),
    ("can you give me the short version of this discussion", "summarize"),
    ("catch me up on #incidents", "summarize"),
    ("what did I miss in #engineering while I was out?", "summarize"),
    ("boil this down to a few bullets", "summarize"),
    ("recap the pricing thread", "summarize"),
    ("what's the gist of this conversation", "summarize"),
    ("too long, give me the summary", "summarize"),
    ("I just got back from vacation, what happened in #support this week?", "summarize"),
    ("digest", "digest"),
    ("what's important today?", "digest"),
    ("anything urgent I should look at?", "digest"),
    ("top threads this week", "digest"),
    ("send me a digest every morning at 8:30", "digest"),
    ("turn off my daily digest", "digest"),
    ("what are the most important discussions from yesterday", "digest"),
    ("highlights from the last 24h", "digest"),
    ("which threads need my attention", "digest"),
    ("give me the must-reads", "digest"),
    ("help", "help"),
    ("what can you do?", "help"),
    ("how do I use this bot", "help"),
    ("what commands do you support", "help"),
    ("hi", "help"),
    ("who are you?", "help"),
    ("I'm new here, what are you for", "help"),
    ("show me some examples", "help"),
)


@pytest.fixture(scope="module")
def shipped() -> TfidfIntentClassifier:
    return TfidfIntentClassifier()


def test_shipped_weights_are_small_and_load_without_training(shipped: TfidfIntentClassifier) -> None:
    assert DEFAULT_WEIGHTS.stat().st_size < 400_000
    assert shipped.model.classes == ("ask", "digest", "help", "people", "summarize")
    assert shipped.name == shipped.model.version


def test_accuracy_on_a_held_out_seed(shipped: TfidfIntentClassifier) -> None:
    held_out = training_utterances(seed=4242, n=2000)  # the shipped model was trained on seed 0
    score = accuracy(shipped.model, held_out)
    print(f"router accuracy, held-out seed 4242: {score:.3f}")
    assert score >= 0.95


def test_accuracy_on_sentence_frames_never_seen_in_training() -> None:
    """A harder split: one fifth of the frames is held out entirely, so memorising templates cannot help."""
    scores = []
    for fold in (0, 3):
        train = training_utterances(seed=0, n=5000, fold=(fold, 5, False))
        test = training_utterances(seed=9, n=800, fold=(fold, 5, True))
        model = fit([t for t, _ in train], [s for _, s in train], version="fold")
        scores.append(accuracy(model, test))
    print(f"router accuracy on unseen frames: {scores}")
    assert min(scores) >= 0.8


def test_accuracy_on_a_generated_workspace_and_on_hand_written_requests(shipped: TfidfIntentClassifier) -> None:
    ws = generate(31, "small")  # workspace-specific names, services and channels
    combined = RulesThenClassifier(classifier=shipped)
    ws_score = sum((combined.predict(t).skill or "help") == s for t, s in ws.utterances) / len(ws.utterances)
    wrong = [(t, s, combined.predict(t).skill) for t, s in REALISTIC if (combined.predict(t).skill or "help") != s]
    hand_score = 1 - len(wrong) / len(REALISTIC)
    keyword = KeywordIntentClassifier()
    keyword_score = sum((keyword.predict(t).skill or "help") == s for t, s in REALISTIC) / len(REALISTIC)
    print(f"workspace utterances {ws_score:.3f}; hand-written {hand_score:.3f} (keyword rules alone "
          f"{keyword_score:.3f}); misses {wrong}")
    assert ws_score >= 0.95
    assert hand_score >= 0.85
    assert hand_score > keyword_score


def test_prediction_explains_itself_with_words_from_the_request(shipped: TfidfIntentClassifier) -> None:
    text = "boil this long thread down for me"
    p = shipped.predict(text)
    assert p.method == "classifier" and p.confident and p.skill == "summarize"
    assert abs(sum(p.scores.values()) - 1) < 0.01 and set(p.scores) == {"ask", "digest", "help", "people", "summarize"}
    words = p.evidence["summarize"]
    assert words and set(words) <= set(text.split())
    assert {"boil", "down", "thread"} & set(words)


def test_unsure_model_names_no_skill() -> None:
    strict = load_model()
    strict = RouterModel.from_json({**strict.to_json(), "threshold": 0.999})
    p = TfidfIntentClassifier(strict).predict("hmm")
    assert p.skill is None and not p.confident and p.scores


def test_json_round_trip_keeps_probabilities(tmp_path: Path, shipped: TfidfIntentClassifier) -> None:
    path = tmp_path / "router.json"
    shipped.model.save(path)
    again = load_model(path)
    texts = ["who owns billing-api?", "tldr", "digest weekly mon 09:00"]
    a = shipped.model.probabilities(shipped.model.transform(texts))
    b = again.probabilities(again.transform(texts))
    assert np.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError):
        RouterModel.from_json({**json.loads(path.read_text()), "format": "other"})


def test_strong_keyword_rules_override_the_classifier(shipped: TfidfIntentClassifier) -> None:
    combined = RulesThenClassifier(classifier=shipped)
    keyword = KeywordIntentClassifier()
    for text in ("summarize #engineering", "digest now", "help"):
        assert combined.predict(text) == keyword.predict(text)
        assert combined.predict(text).method == "keyword_rule"
    learned = combined.predict("what did I miss?")  # rules lean to ask (question mark + question word)
    assert learned.method == "classifier" and learned.skill == "summarize"
    assert combined.predict("anything urgent since yesterday?").skill == "digest"


def test_keyword_classifier_is_unchanged() -> None:
    k = KeywordIntentClassifier()
    assert k.name == "keyword-rules-2"
    assert k.predict("summarize this thread").skill == "summarize"
    assert k.predict("who owns billing?").skill == "people"
    assert k.predict("who is on call for billing?").skill == "ask"
    assert k.predict("boil it down").skill is None


def test_train_router_command_writes_a_loadable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "router.json"
    assert main(["train", "router", "--seed", "3", "--n", "1500", "--folds", "0", "--out", str(out)]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    model = load_model(out)
    assert model.version == "router-tfidf-lr-s3-n1500"
    assert TfidfIntentClassifier(model).predict("summarize please").skill == "summarize"

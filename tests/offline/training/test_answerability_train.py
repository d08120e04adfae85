"""The answerability model fitted on questions asked of a real synthetic workspace, and the training command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.backends.answerability import FEATURES, AnswerabilityModel
from bot.cli import main
from bot.query_filters import parse
from offline.training.answerability_data import Example, load_examples, save_examples, synth_examples
from offline.training.answerability_train import label, train


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    """Two small workspaces (training seeds), every labelled question asked through the router."""
    return synth_examples([100, 101])


def test_asked_questions_carry_features_and_labels_and_the_fit_declines_the_unanswerable(
        examples: list[Example], tmp_path: Path) -> None:
    kinds = {e.kind for e in examples}
    assert kinds == {"question", "paraphrase", "unanswerable"}
    assert all(set(e.features) == set(FEATURES) for e in examples)
    assert all(not e.has_answer and e.thread_rank == 0 for e in examples if e.kind == "unanswerable")
    assert sum(1 for e in examples if e.thread_rank == 1) > len(examples) / 3  # the search often finds the thread
    assert {label(e, "shown") for e in examples} == {0, 1, None}

    model, report = train(examples, positives="shown", target=0.9, source="test")
    assert 0 < model.threshold < 1 and set(model.weights) == set(FEATURES)
    assert report.unanswerable_declined >= 0.9  # out of fold, by construction of the threshold
    assert report.false_declines["question"] < 0.5
    # The main signal reads the way a person would weigh it: a best match that only asks counts against.
    assert model.weights["only_asked"] < 0 < model.weights["statement_coverage"]

    save_examples(tmp_path / "ex.json", examples)
    assert load_examples(tmp_path / "ex.json") == examples


def test_the_training_command_refuses_held_out_seeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "w.json"
    assert main(["train", "answerability", "--seeds", "8,31", "--out", str(out)]) == 2
    assert not out.exists() and "held out" in caplog.text


def test_the_training_command_writes_loadable_weights_from_saved_examples(examples: list[Example],
                                                                         tmp_path: Path) -> None:
    saved = tmp_path / "ex.json"
    save_examples(saved, examples)
    out = tmp_path / "w.json"
    assert main(["train", "answerability", "--seeds", "100,101", "--examples", str(saved), "--out", str(out)]) == 0
    model = AnswerabilityModel.load(out)
    assert model.version.startswith("answerability-lr-") and "seeds 100, 101" in model.trained_on


async def test_hybrid_examples_are_asked_through_the_embedding_model(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`--embeddings` asks every question through hybrid search (the fake OpenAI-compatible server's
    deterministic embedding here), so the features are the ones a deployment with a model sees."""
    from offline.synth.export import write_export
    from offline.synth.generate import generate
    from offline.training.answerability_data import workspace_examples
    from tests.peers.fake_openai import FakeOpenAI

    folder = tmp_path / "ws"
    write_export(generate(100, "small"), folder)
    async with FakeOpenAI() as fake:
        monkeypatch.setenv("WHYBOT_EMBEDDINGS_MODEL", "fake-embed")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        hybrid = await workspace_examples(folder, 100, f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", embeddings=True)
        asked = {text for r in fake.embedding_requests for text in r["input"]}
    words = await workspace_examples(folder, 100, f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    assert [e.question for e in hybrid] == [e.question for e in words]
    # every question's searched words embedded (after the whole history was); "last quarter" is a filter, not words
    assert {parse(e.question, datetime.now(UTC)).question for e in hybrid} <= asked
    assert len(asked) > 2 * len(hybrid)
    changed = sum(h.features != w.features for h, w in zip(hybrid, words, strict=True))
    assert changed > len(hybrid) / 4


def test_the_hybrid_fit_needs_an_embedding_model(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With the built-in vectors turned off and no server model there is nothing to fit hybrid features on."""
    monkeypatch.delenv("WHYBOT_EMBEDDINGS_MODEL", raising=False)
    monkeypatch.setenv("WHYBOT_STATIC_EMBEDDINGS", "false")
    out = tmp_path / "w.json"
    assert main(["train", "answerability", "--embeddings", "--seeds", "100", "--out", str(out)]) == 2
    assert not out.exists() and "WHYBOT_STATIC_EMBEDDINGS=false" in caplog.text


def test_the_threshold_counts_what_the_rules_already_decline() -> None:
    """Unanswerable questions a rule declines whatever the score need no low score: asking the model to decline
    them too would only decline answerable questions with it."""
    import numpy as np

    from offline.training.answerability_train import threshold_for

    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.95])
    assert threshold_for(scores, 0.6) == pytest.approx(0.6)  # the three lowest below it
    ruled = np.array([False, False, False, True, True])
    assert threshold_for(scores, 0.6, ruled) == pytest.approx(0.15)  # two ruled out, one more below it
    assert threshold_for(scores, 0.4, ruled) < 0.1  # the rules alone reach the target

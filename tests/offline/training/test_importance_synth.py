"""Digest ranking trained and judged on synthetic Slack-export workspaces (offline/synth), windowed as the
digest reads them after a real import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.backends.importance import FEATURES, ImportanceScorer
from bot.cli import main
from offline.training.importance_synth import synth_windows
from offline.training.importance_train import by_model, by_recency, mean_ndcg_at


def test_windows_carry_graded_labels_from_the_export() -> None:
    windows = synth_windows([101], "small", days=3)
    threads = [t for w in windows for t in w]
    assert windows and all(len({t.window_end for t in w}) == 1 for w in windows)
    assert {t.grade for t in threads} <= {0, 1, 2, 3} and len({t.grade for t in threads}) >= 3
    assert all(t.important == ((t.grade or 0) >= 2) for t in threads)
    assert any(t.kind == "incident" and (t.grade or 0) >= 2 for t in threads)


def test_shipped_model_beats_recency_on_a_held_out_workspace() -> None:
    held_out = synth_windows([103], "small", days=14)  # not among the shipped model's training seeds
    shipped = ImportanceScorer.load()
    model = mean_ndcg_at(held_out, lambda w: by_model(w, shipped))
    recency = mean_ndcg_at(held_out, by_recency)
    assert model >= recency + 0.08, (model, recency)
    assert "offline/synth" in shipped.trained_on and "seeds 11-18" in shipped.trained_on


def test_train_digest_on_synthetic_workspaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "digest.json"
    assert main(["train", "digest", "--seeds", "11,12", "--held-out", "101", "--days", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held-out nDCG@5        trained:" in printed and "held-out nDCG@5        recency:" in printed
    assert "seeds 11, 12" in printed and "(seeds 101)" in printed
    data = json.loads(out.read_text())
    assert set(data["weights"]) == set(FEATURES) and data["version"].startswith("digest-lr-")
    assert "synthetic Slack-export workspaces (offline/synth, size small, seeds 11, 12)" in data["trained_on"]
    assert main(["train", "digest", "--seeds", "11-12", "--held-out", "12", "--out", str(out)]) == 2

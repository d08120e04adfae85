"""Digest ranking: it beats recency on labelled windows, `whybot train digest` writes a versioned
logistic model, and per-channel refits from votes move items and say so in the Why?."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.backends.importance import FEATURES, ImportanceScorer, group_threads
from bot.cli import main
from bot.models import ChatEvent, Platform, Reader, Reply, Trigger
from bot.services import Services, build_services
from offline.training.importance_data import LabelledThread, labelled_window, labelled_windows
from offline.training.importance_train import by_model, by_recency, precision_at, refit_channels, train_synthetic
from storage import NewMessage, Storage
from tests.conftest import make_settings

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_labelled_windows_are_deterministic() -> None:
    one, two = labelled_window(5), labelled_window(5)
    assert [(t.kind, t.important, [m.text for m in t.thread.messages]) for t in one] == \
           [(t.kind, t.important, [m.text for m in t.thread.messages]) for t in two]
    assert len({t.kind for t in one}) >= 6 and 0.15 < statistics.mean(t.important for t in one) < 0.5


def test_ranking_beats_recency_on_held_out_labelled_windows() -> None:
    held_out = labelled_windows(seed=4242, windows=25)
    shipped = ImportanceScorer.load()
    trained = train_synthetic(seed=1, windows=20)

    def p_at_5(order: Callable[[Sequence[LabelledThread]], list[LabelledThread]]) -> float:
        return statistics.mean(precision_at(order(w), 5) for w in held_out)

    recency = p_at_5(by_recency)
    hand_set = p_at_5(lambda w: by_model(w, shipped))
    fitted = p_at_5(lambda w: by_model(w, trained))
    base_rate = statistics.mean(t.important for w in held_out for t in w)
    assert recency < base_rate + 0.1  # recency knows nothing about importance
    assert hand_set >= recency + 0.35, (hand_set, recency)
    assert fitted >= hand_set and fitted >= 0.85, (fitted, hand_set)


def test_contributions_explain_the_score() -> None:
    scorer = ImportanceScorer.load()
    window = labelled_window(9)
    ranked = scorer.rank([t.thread for t in window], window[0].window_end, 24.0)
    best = ranked[0]
    logit = scorer.bias + sum(best.contributions.values())
    assert best.score == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-4)
    assert all(best.contributions[f] == pytest.approx(scorer.weights[f] * best.features[f]) for f in FEATURES)
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)


def test_group_threads_keeps_replies_with_their_root() -> None:
    window = labelled_window(3, threads=40)
    messages = sorted((m for t in window for m in t.thread.messages), key=lambda m: m.created_at)
    views = group_threads(messages)
    assert len(views) == 40
    assert all(v.messages[0].thread_external_id is None for v in views)
    assert sum(len(v.messages) for v in views) == len(messages)


def test_train_digest_writes_a_versioned_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "digest.json"
    assert main(["train", "digest", "--source", "builtin", "--out", str(out), "--windows", "15"]) == 0
    printed = capsys.readouterr().out
    assert "held-out precision@5  trained" in printed and f"to {out}" in printed
    data = json.loads(out.read_text())
    assert set(data) == {"version", "trained_on", "bias", "weights"} and set(data["weights"]) == set(FEATURES)
    assert data["version"].startswith("digest-lr-") and "logistic regression (scikit-learn" in data["trained_on"]
    scorer = ImportanceScorer.load(out)
    assert scorer.weights["incident_cue"] > 0 and scorer.weights["bot_authored"] < 0
    # Same seed, same model, same version.
    again = tmp_path / "again.json"
    assert main(["train", "digest", "--source", "builtin", "--out", str(again), "--windows", "15"]) == 0
    assert json.loads(again.read_text()) == data


# feedback -----------------------------------------------------------------------------------------

@pytest.fixture
async def channel_services(db_url: str) -> AsyncIterator[Services]:
    storage = await Storage.open(db_url, auto_upgrade=True)
    services = await build_services(make_settings(db_url), storage=storage, clock=lambda: NOW)
    tenant = await services.ingest.tenant("slack", "T1", "Acme")
    await services.storage.workspace.upsert_channel(tenant, "C1", name="design")
    items: list[NewMessage] = []
    t0 = NOW - timedelta(hours=20)
    for i in range(4):  # the global model's favourites: incidents
        root = f"1{i}.0"
        items.append(NewMessage("C1", root, f"Incident: search is down in region {i}, rolling back", t0
                                + timedelta(minutes=10 * i), "U1", reaction_count=2))
        items.append(NewMessage("C1", f"1{i}.1", "rolled back", t0 + timedelta(minutes=10 * i + 5), "U2",
                                thread_external_id=root))
    for i in range(4):  # what this channel actually reads: shared design docs
        items.append(NewMessage("C1", f"2{i}.0", f"New design spec for the onboarding flow, part {i}: "
                                f"https://docs.example.test/spec/{i}", t0 + timedelta(hours=2, minutes=10 * i), "U3",
                                file_count=1))
    await services.ingest.messages(tenant, items)
    yield services
    await services.close()


async def digest(services: Services, top: int = 4) -> Reply:
    return await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C1", user="U9",
                                                  trigger=Trigger.COMMAND, command="digest", args=f"now top={top}"))


async def test_channel_feedback_refits_weights_and_the_why_says_it_moved_items(channel_services: Services,
                                                                             capsys: pytest.CaptureFixture[str]
                                                                             ) -> None:
    services = channel_services
    first = await digest(services, top=8)
    items = first.sections[0].items
    assert all("Incident" in i.text or "search" in i.text.lower() for i in items[:4])  # global model's view
    assert not any("moved" in line for i in items for line in i.why)
    # Three people vote: design docs helpful, incident chatter not.
    for user in ("U1", "U2", "U3"):
        reader = Reader(platform=Platform.SLACK, tenant="T1", user=user, channel="C1")
        for item in items:
            assert item.item_id is not None
            helpful = item.item_id.startswith("thread:2")
            assert await services.router.feedback(first.decision_id, reader, helpful, item.item_id)
    fits = await refit_channels(services.storage, services.scorer, prior=10.0)
    (fit,) = fits
    assert fit.saved and fit.votes == 24 and fit.weights is not None
    assert fit.weights["links_files"] > services.scorer.weights["links_files"]
    assert fit.weights["incident_cue"] < services.scorer.weights["incident_cue"]
    stored = await services.storage.channel_weights.get("slack:T1", "C1")
    assert stored is not None and stored.samples == 24

    second = await digest(services, top=4)
    top = second.sections[0].items
    assert top[0].item_id is not None and top[0].item_id.startswith("thread:2")
    moved = [line for item in top for line in item.why if line.startswith("this channel's feedback moved it up")]
    assert moved and "from 5" in " ".join(moved)
    assert any("refitted from 24 helpful/not helpful vote(s)" in c for c in second.rationale.caveats)
    assert any("this channel's feedback moved it up" in e.note for e in second.rationale.evidence)


async def test_too_few_votes_keep_the_global_model(channel_services: Services) -> None:
    services = channel_services
    first = await digest(services)
    reader = Reader(platform=Platform.SLACK, tenant="T1", user="U1", channel="C1")
    item = first.sections[0].items[0]
    assert await services.router.feedback(first.decision_id, reader, False, item.item_id or "")
    (fit,) = await refit_channels(services.storage, services.scorer)
    assert not fit.saved and "keeps the global model" in fit.note
    assert await services.storage.channel_weights.get("slack:T1", "C1") is None


async def test_train_with_feedback_cli_reports_channels(db_url: str, channel_services: Services,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    first = await digest(channel_services, top=8)
    for user in ("U1", "U2"):
        reader = Reader(platform=Platform.SLACK, tenant="T1", user=user, channel="C1")
        for item in first.sections[0].items:
            await channel_services.router.feedback(first.decision_id, reader, (item.item_id or "").startswith(
                "thread:2"), item.item_id or "")
    code = await asyncio.to_thread(main, ["train", "digest", "--with-feedback", "--database-url", db_url])
    assert code == 0
    assert "slack:T1 C1: saved: 16 votes (8 helpful)" in capsys.readouterr().out

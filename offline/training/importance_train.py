"""Fitting the digest importance model: global weights from labelled windows, per-channel weights from
people's helpful / not helpful votes, blended with the global model.

The model stays what `ImportanceScorer` explains: one logistic regression over the named features
(no scaling, no interactions), so each fitted coefficient is directly the "weight" in the
weight x value contributions the Why? shows.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

from bot.backends.importance import FEATURES, ImportanceScorer, ThreadView, thread_features
from offline.evaluation.metrics import ndcg_at
from offline.training.importance_data import LabelledThread, labelled_windows
from storage import ItemVote, Storage

ITEM_PREFIX = "thread:"


def feature_rows(examples: Sequence[LabelledThread]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[thread_features(e.thread, e.window_end, e.window_hours)[f] for f in FEATURES] for e in examples])
    y = np.array([1 if e.important else 0 for e in examples])
    return x, y


def fit_global(examples: Sequence[LabelledThread], *, source: str, c: float = 1.0) -> ImportanceScorer:
    """A logistic regression on the labelled threads, as a scorer with a content-derived version."""
    x, y = feature_rows(examples)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, y)
    weights = {f: round(float(w), 4) for f, w in zip(FEATURES, model.coef_[0], strict=True)}
    bias = round(float(model.intercept_[0]), 4)
    digest = hashlib.sha256(json.dumps([bias, weights], sort_keys=True).encode()).hexdigest()[:8]
    trained_on = (f"logistic regression (scikit-learn {sklearn.__version__}, C={c}) on {len(y)} labelled threads "
                  f"({int(y.sum())} important) from {source}")
    return ImportanceScorer(weights=weights, bias=bias, version=f"digest-lr-{digest}", trained_on=trained_on)


def train_synthetic(seed: int = 1, windows: int = 40, threads_per_window: int = 60) -> ImportanceScorer:
    """A quick fit on the built-in labelled generator (`importance_data`): no workspace needed."""
    examples = [t for w in labelled_windows(seed, windows, threads_per_window) for t in w]
    return fit_global(examples, source=f"the built-in labelled generator (seed {seed}, {windows} windows)")


def seed_span(seeds: Sequence[int]) -> str:
    """"11-18" for a run of seeds, else "3, 5, 9"."""
    ordered = sorted(seeds)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ", ".join(map(str, ordered))


def train_workspaces(seeds: Sequence[int], size: str = "small", days: int = 14, c: float = 1.0
                     ) -> tuple[ImportanceScorer, int]:
    """Fit on synthetic Slack-export workspaces (`offline.synth`), one per seed, windowed as the digest
    reads them; returns the scorer and how many windows it saw."""
    from offline.training.importance_synth import synth_windows

    windows = synth_windows(seeds, size, days)
    examples = [t for w in windows for t in w]
    source = (f"synthetic Slack-export workspaces (offline/synth, size {size}, seeds {seed_span(seeds)}): "
              f"{len(windows)} channel windows of 24 h over {days} days")
    return fit_global(examples, source=source, c=c), len(windows)


# ranking quality ---------------------------------------------------------------------------------

def mean_ndcg_at(windows: Sequence[Sequence[LabelledThread]],
                 order: Callable[[Sequence[LabelledThread]], list[LabelledThread]], k: int = 5) -> float:
    """Mean nDCG@k over the windows that have any gain (graded labels where present)."""
    scores = [ndcg_at([t.gain for t in order(w)], [t.gain for t in w], k) for w in windows if w]
    kept = [x for x in scores if x is not None]
    return sum(kept) / len(kept) if kept else 0.0


def precision_at(ranked: Sequence[LabelledThread], k: int) -> float:
    top = ranked[:k]
    return sum(1 for t in top if t.important) / max(1, len(top))


def by_model(window: Sequence[LabelledThread], scorer: ImportanceScorer) -> list[LabelledThread]:
    by_thread = {id(t.thread): t for t in window}
    first = window[0]
    return [by_thread[id(s.thread)] for s in scorer.rank([t.thread for t in window], first.window_end,
                                                         first.window_hours)]


def by_recency(window: Sequence[LabelledThread]) -> list[LabelledThread]:
    return sorted(window, key=lambda t: t.thread.last_at, reverse=True)


# per-channel refits from feedback ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChannelFit:
    tenant_id: str
    channel_external_id: str
    votes: int
    saved: bool
    note: str
    weights: dict[str, float] | None = None


async def _vote_features(storage: Storage, vote: ItemVote) -> dict[str, float] | None:
    """Rebuild the thread as the digest saw it (same window) and recompute its features."""
    inputs = vote.rationale.get("inputs") or {}
    if not vote.channel_external_id or not inputs.get("window_start") or not inputs.get("window_end"):
        return None
    start, end = datetime.fromisoformat(inputs["window_start"]), datetime.fromisoformat(inputs["window_end"])
    root = vote.item_id.removeprefix(ITEM_PREFIX)
    messages = [m for m in await storage.messages.thread(vote.tenant_id, vote.channel_external_id, root)
                if start <= m.created_at < end]
    if not messages:
        return None
    hours = max((end - start).total_seconds() / 3600, 1.0)
    return thread_features(ThreadView(vote.channel_external_id, root, messages), end, hours)


def blend(global_weights: dict[str, float], local: dict[str, float], varied: set[str], votes: int,
          prior: float) -> dict[str, float]:
    """Average of global and channel weights by sample count (the global model counts as `prior` votes);
    features the votes never varied on carry no channel evidence and keep the global weight."""
    share = votes / (votes + prior)
    return {f: round(global_weights.get(f, 0.0) * (1 - share) + local[f] * share if f in varied
                     else global_weights.get(f, 0.0), 4) for f in FEATURES}


async def refit_channels(storage: Storage, scorer: ImportanceScorer, *, prior: float = 20.0, min_votes: int = 4,
                         c: float = 1.0) -> list[ChannelFit]:
    """Refit and store each channel's weights from its digest item votes; channels without enough
    signal (too few votes, or all one way) keep the global model and are reported as such."""
    grouped: dict[tuple[str, str], list[tuple[dict[str, float], bool]]] = defaultdict(list)
    for vote in await storage.channel_weights.item_votes("digest", ITEM_PREFIX):
        features = await _vote_features(storage, vote)
        if features is not None and vote.channel_external_id:
            grouped[(vote.tenant_id, vote.channel_external_id)].append((features, vote.helpful))
    fits: list[ChannelFit] = []
    for (tenant_id, channel), samples in sorted(grouped.items()):
        labels = [helpful for _, helpful in samples]
        if len(samples) < min_votes or len(set(labels)) < 2:
            fits.append(ChannelFit(tenant_id, channel, len(samples), False,
                                   f"{len(samples)} vote(s), {sum(labels)} helpful: need {min_votes}+ votes "
                                   "of both kinds; keeps the global model"))
            continue
        x = np.array([[f[name] for name in FEATURES] for f, _ in samples])
        y = np.array([1 if h else 0 for h in labels])
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        local = {f: float(w) for f, w in zip(FEATURES, model.coef_[0], strict=True)}
        varied = {f for i, f in enumerate(FEATURES) if np.ptp(x[:, i]) > 0}
        weights = blend(scorer.weights, local, varied, len(samples), prior)
        await storage.channel_weights.save(tenant_id, channel, weights, len(samples))
        moved = sorted(varied, key=lambda f: -abs(weights[f] - scorer.weights.get(f, 0.0)))[:3]
        fits.append(ChannelFit(tenant_id, channel, len(samples), True,
                               f"{len(samples)} votes ({sum(labels)} helpful) blended with the global model "
                               f"(counted as {prior:g}); moved most: " + ", ".join(
                                   f"{f} {scorer.weights.get(f, 0.0):+.2f}->{weights[f]:+.2f}" for f in moved),
                               weights))
    return fits

"""Fitting the answerability model: logistic regression on the named features, threshold chosen on
out-of-fold scores so that a target share of unanswerable training questions is declined.

The model stays what `AnswerabilityModel` explains: no scaling, no interactions, so each coefficient is the
weight in the weight x value contributions the Why? puts in words. The threshold is not picked on the scores
the model gives its own training data (those flatter it): each seed's questions are scored by a model fitted
on the other seeds, and the threshold is read off those pooled scores.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

from bot.backends.answerability import FEATURES, AnswerabilityModel
from offline.training.answerability_data import Example

# Which answerable questions count as positives: "thread" when a labelled answering thread is the top
# evidence (the answer would come from the right place), "shown" when it is anywhere in the evidence,
# "any" for every question the workspace answers.
POSITIVES = ("thread", "shown", "any")


def label(e: Example, positives: str) -> int | None:
    """1 answerable from what was found, 0 not; None leaves the example out (an answerable question whose
    thread the search did not find says nothing about whether found sources answer)."""
    if not e.has_answer:
        return 0
    if positives == "any":
        return 1
    if positives == "shown":
        return 1 if e.thread_rank else None
    return 1 if e.thread_rank == 1 else 0


def matrix(examples: Sequence[Example], positives: str) -> tuple[np.ndarray, np.ndarray, list[Example]]:
    kept = [(e, y) for e in examples if (y := label(e, positives)) is not None]
    x = np.array([[e.features.get(f, 0.0) for f in FEATURES] for e, _ in kept])
    return x, np.array([y for _, y in kept]), [e for e, _ in kept]


def fit(examples: Sequence[Example], positives: str, c: float) -> LogisticRegression:
    """Classes weighted to balance: unanswerable questions are a tenth of the data, and the threshold is set
    on their scores, so the fit must not treat them as an afterthought."""
    x, y, _ = matrix(examples, positives)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(x, y)
    return model


def scores(model: LogisticRegression, examples: Sequence[Example]) -> np.ndarray:
    x = np.array([[e.features.get(f, 0.0) for f in FEATURES] for e in examples])
    return np.asarray(model.predict_proba(x)[:, 1])


def out_of_fold(examples: Sequence[Example], positives: str, c: float) -> np.ndarray:
    """Each example scored by a model fitted on the other seeds only."""
    out = np.zeros(len(examples))
    seeds = sorted({e.seed for e in examples})
    if len(seeds) < 2:
        raise ValueError("choosing the threshold out of fold needs questions from at least two seeds")
    for seed in seeds:
        train = [e for e in examples if e.seed != seed]
        test = [i for i, e in enumerate(examples) if e.seed == seed]
        model = fit(train, positives, c)
        out[test] = scores(model, [examples[i] for i in test])
    return out


def threshold_for(unanswerable: np.ndarray, target: float, ruled_out: np.ndarray | None = None) -> float:
    """The lowest score from which the bot answers such that at least `target` of these questions are declined:
    scored below it, or `ruled_out` (declined by a rule whatever the score; the model need not decline them too,
    and asking it to would decline answerable questions for nothing)."""
    ruled = np.zeros(len(unanswerable), dtype=bool) if ruled_out is None else ruled_out.astype(bool)
    needed = int(np.ceil(target * len(unanswerable))) - int(ruled.sum())
    ordered = np.sort(unanswerable[~ruled])
    if not len(ordered):
        return 0.5
    if needed <= 0:
        return float(min(0.999, ordered[0] - 1e-4)) if ordered[0] > 1e-4 else float(ordered[0])
    target = needed / len(ordered)
    index = min(len(ordered) - 1, int(np.ceil(target * len(ordered))) - 1)
    above = ordered[index + 1] if index + 1 < len(ordered) else 1.0
    return float(min(0.999, (ordered[index] + above) / 2 if above > ordered[index] else ordered[index] + 1e-4))


@dataclass(frozen=True, slots=True)
class Report:
    """What the threshold does on the training seeds, scored out of fold."""

    threshold: float
    unanswerable_declined: float
    false_declines: dict[str, float]  # per kind ("question", "paraphrase")
    per_seed_unanswerable: list[float]
    right_thread_when_answered: float  # of answered answerable questions, the share with the top thread right

    def lines(self) -> list[str]:
        spread = self.per_seed_unanswerable
        return [f"threshold {self.threshold:.4f}",
                f"unanswerable declined {self.unanswerable_declined:.3f} "
                f"(per seed {min(spread):.2f}-{max(spread):.2f})",
                *[f"false declines, {k}: {v:.3f}" for k, v in self.false_declines.items()],
                f"answered answerable questions with the labelled thread on top: {self.right_thread_when_answered:.3f}"]


def report(examples: Sequence[Example], oof: np.ndarray, threshold: float) -> Report:
    answered = (oof >= threshold) & ~np.array([e.ruled_out for e in examples], dtype=bool)
    kinds = sorted({e.kind for e in examples if e.has_answer})
    un = [i for i, e in enumerate(examples) if not e.has_answer]
    per_seed = [statistics.mean(0.0 if answered[i] else 1.0 for i in un if examples[i].seed == s)
                for s in sorted({examples[i].seed for i in un})]
    hits = [i for i, e in enumerate(examples) if e.has_answer and answered[i]]
    return Report(threshold=threshold,
                  unanswerable_declined=statistics.mean(0.0 if answered[i] else 1.0 for i in un) if un else 0.0,
                  false_declines={k: statistics.mean(0.0 if answered[i] else 1.0
                                                     for i, e in enumerate(examples) if e.kind == k)
                                  for k in kinds},
                  per_seed_unanswerable=per_seed,
                  right_thread_when_answered=statistics.mean(1.0 if examples[i].thread_rank == 1 else 0.0
                                                             for i in hits) if hits else 0.0)


def train(examples: Sequence[Example], *, positives: str = "shown", c: float = 1.0, target: float = 0.95,
          source: str = "") -> tuple[AnswerabilityModel, Report]:
    """Fit on every example, with the threshold read off out-of-fold scores of the unanswerable questions."""
    oof = out_of_fold(examples, positives, c)
    unanswerable = [(s, e.ruled_out) for s, e in zip(oof, examples, strict=True) if not e.has_answer]
    threshold = threshold_for(np.array([s for s, _ in unanswerable]), target,
                              np.array([r for _, r in unanswerable], dtype=bool))
    model = fit(examples, positives, c)
    weights = {f: round(float(w), 4) for f, w in zip(FEATURES, model.coef_[0], strict=True)}
    bias = round(float(model.intercept_[0]), 4)
    threshold = round(threshold, 4)
    digest = hashlib.sha256(json.dumps([bias, weights, threshold], sort_keys=True).encode()).hexdigest()[:8]
    _, y, kept = matrix(examples, positives)
    trained_on = (f"logistic regression (scikit-learn {sklearn.__version__}, C={c}) on {len(kept)} labelled "
                  f"questions ({int(y.sum())} answerable from what was found; positives: {positives}) from {source}; "
                  f"threshold chosen out of fold (leave one seed out) to decline {target:.0%} of the unanswerable "
                  "ones, counting those a rule declines whatever the score")
    return (AnswerabilityModel(weights=weights, bias=bias, threshold=threshold, version=f"answerability-lr-{digest}",
                               trained_on=trained_on),
            report(examples, oof, threshold))

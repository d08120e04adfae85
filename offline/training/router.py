"""Fitting the router's intent classifier on synthetic utterances (`whybot train router`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from bot.classifier import RouterModel, vectorizers
from offline.synth.utterances import training_utterances


def fit(texts: Sequence[str], labels: Sequence[str], *, version: str, threshold: float = 0.5, c: float = 4.0,
        meta: dict[str, Any] | None = None) -> RouterModel:
    word, char = vectorizers()
    x = sparse.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
    lr = LogisticRegression(C=c, max_iter=3000)
    lr.fit(x, list(labels))
    words = tuple(word.get_feature_names_out())
    chars = tuple(char.get_feature_names_out())
    return RouterModel(version, tuple(str(k) for k in lr.classes_), word, char, lr.coef_.astype(np.float64),
                       lr.intercept_.astype(np.float64), threshold, (*words, *chars), len(words), dict(meta or {}))


def train_router(seed: int = 0, n: int = 8000, threshold: float = 0.5) -> RouterModel:
    """Fit on `n` synthetic utterances generated from `seed` (see `offline.synth.utterances`)."""
    data = training_utterances(seed, n)
    return fit([t for t, _ in data], [s for _, s in data], version=f"router-tfidf-lr-s{seed}-n{n}",
               threshold=threshold, meta={"trained_on": f"synthetic utterances, seed {seed}, n {n}"})


def accuracy(model: RouterModel, data: Sequence[tuple[str, str]]) -> float:
    predicted = model.predict_labels([t for t, _ in data])
    return sum(p == s for p, (_, s) in zip(predicted, data, strict=True)) / max(1, len(data))

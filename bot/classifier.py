"""Trained router: TF-IDF (word and character n-grams) + logistic regression over synthetic utterances.

It catches phrasings keyword rules miss ("boil this down", "anything urgent since yesterday?")
while staying explainable: a prediction's evidence lists, per skill, the words of the request whose
n-grams added most to that skill's score (tf-idf value x coefficient, char n-grams credited to the
word they sit in). The model ships as a small JSON file (vocabularies, idf, coefficients) under
`bot/backends/weights/`, loaded without retraining; `whybot train router` (offline/training/router.py)
refits it from seeded synthetic data. `RulesThenClassifier` keeps strong keyword rules as an override.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.intents import IntentClassifier, IntentPrediction, KeywordIntentClassifier

WEIGHTS_DIR = Path(__file__).parent / "backends" / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "router.json"
FORMAT = "whybot-router/1"
TOKEN_PATTERN = r"(?u)\b\w[\w']*\b|\?"
_WORD = re.compile(TOKEN_PATTERN)


def vectorizers(word_vocab: dict[str, int] | None = None,
                 char_vocab: dict[str, int] | None = None) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    word = TfidfVectorizer(analyzer="word", token_pattern=TOKEN_PATTERN, ngram_range=(1, 2), sublinear_tf=True,
                           min_df=2, max_features=2500, vocabulary=word_vocab)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=3,
                           max_features=3500, vocabulary=char_vocab)
    return word, char


@dataclass(frozen=True, slots=True)
class RouterModel:
    """Everything needed to score a request; `features` is word n-grams then char n-grams."""

    version: str
    classes: tuple[str, ...]
    word: TfidfVectorizer
    char: TfidfVectorizer
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    threshold: float
    features: tuple[str, ...]
    n_word: int
    meta: dict[str, Any]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    def probabilities(self, x: sparse.csr_matrix) -> np.ndarray:
        logits = np.asarray(x @ self.coef.T) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def predict_labels(self, texts: Sequence[str]) -> list[str]:
        probs = self.probabilities(self.transform(texts))
        return [self.classes[i] for i in probs.argmax(axis=1)]

    # persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": self.version, "classes": list(self.classes), "threshold": self.threshold,
            "meta": self.meta, "word_vocabulary": list(self.features[: self.n_word]),
            "char_vocabulary": list(self.features[self.n_word:]),
            "word_idf": [round(float(v), 4) for v in self.word.idf_],
            "char_idf": [round(float(v), 4) for v in self.char.idf_],
            "intercept": [round(float(v), 4) for v in self.intercept],
            "coef": [[round(float(v), 3) for v in row] for row in self.coef],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouterModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model file (format={data.get('format')!r})")
        words, chars = data["word_vocabulary"], data["char_vocabulary"]
        word, char = vectorizers({w: i for i, w in enumerate(words)}, {c: i for i, c in enumerate(chars)})
        word.idf_ = np.asarray(data["word_idf"], dtype=np.float64)
        char.idf_ = np.asarray(data["char_idf"], dtype=np.float64)
        return cls(data["version"], tuple(data["classes"]), word, char, np.asarray(data["coef"], dtype=np.float64),
                   np.asarray(data["intercept"], dtype=np.float64), float(data["threshold"]),
                   (*words, *chars), len(words), dict(data.get("meta", {})))

    def save(self, path: Path) -> int:
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        path.write_text(text + "\n", encoding="utf-8")
        return len(text)


def load_model(path: Path = DEFAULT_WEIGHTS) -> RouterModel:
    return RouterModel.from_json(json.loads(path.read_text(encoding="utf-8")))


class TfidfIntentClassifier:
    """`IntentClassifier` over a `RouterModel`: per-skill probabilities plus the words behind them."""

    def __init__(self, model: RouterModel | None = None, *, top_words: int = 5, min_known: float = 0.5) -> None:
        self.model = model or _shipped_model()
        self.name = self.model.version
        self.top_words = top_words
        self.min_known = min_known
        self._known = {f for f in self.model.features[: self.model.n_word] if " " not in f}

    def known_share(self, text: str) -> float:
        """Share of the request's words the model was trained on. A model is confidently wrong on
        words it never saw ("banana" -> ask 0.72), so mostly-unknown requests are not its call."""
        found = [w for w in _WORD.findall(text.lower()) if w != "?"]
        return sum(w in self._known for w in found) / len(found) if found else 0.0

    def predict(self, text: str) -> IntentPrediction:
        m = self.model
        x = m.transform([text])
        probs = m.probabilities(x)[0]
        scores = {k: round(float(p), 3) for k, p in zip(m.classes, probs, strict=True)}
        best = int(probs.argmax())
        confident = bool(probs[best] >= m.threshold) and self.known_share(text) >= self.min_known
        evidence = self._evidence(text, x)
        return IntentPrediction(m.classes[best] if confident else None, scores, evidence, method="classifier",
                                confident=confident)

    def _evidence(self, text: str, x: sparse.csr_matrix) -> dict[str, list[str]]:
        """Per skill, the request's words ranked by how much their n-grams raised that skill's logit."""
        m = self.model
        row = x.getrow(0)
        chunks = text.lower().split()  # char_wb n-grams live inside these whitespace-separated words
        if not chunks:
            return {}
        tokens = [set(_WORD.findall(chunk)) for chunk in chunks]
        padded = [f" {chunk} " for chunk in chunks]
        owners: list[list[int]] = []
        for j in row.indices:
            feature = m.features[j]
            if j < m.n_word:
                parts = set(feature.split(" "))
                owners.append([i for i, t in enumerate(tokens) if t & parts])
            else:
                owners.append([i for i, p in enumerate(padded) if feature in p])
        labels = [chunk.strip(".,!:;\"'()") or chunk for chunk in chunks]
        evidence: dict[str, list[str]] = {}
        for k, skill in enumerate(m.classes):
            per_chunk = np.zeros(len(chunks))
            for contribution, owned in zip(row.data * m.coef[k, row.indices], owners, strict=True):
                if owned:
                    per_chunk[owned] += contribution / len(owned)
            per_label: dict[str, float] = {}
            for label, value in zip(labels, per_chunk, strict=True):
                per_label[label] = per_label.get(label, 0.0) + float(value)
            ranked = sorted(((v, w) for w, v in per_label.items() if v > 0), key=lambda vw: -vw[0])
            evidence[skill] = [w for _, w in ranked[: self.top_words]]
        return evidence


@lru_cache(maxsize=1)
def _shipped_model() -> RouterModel:
    return load_model(DEFAULT_WEIGHTS)


class RulesThenClassifier:
    """Strong keyword rules win (an explicit "summarize", "digest", "help"); otherwise the trained
    classifier decides; if it is unsure, a weaker rule that fired still may; else no skill."""

    name = "rules+router-classifier"

    def __init__(self, rules: IntentClassifier | None = None, classifier: IntentClassifier | None = None, *,
                 override: float = 3.0, margin: float = 1.0, strong: float = 0.75) -> None:
        self.rules = rules or KeywordIntentClassifier()
        self.classifier = classifier or TfidfIntentClassifier()
        self.override = override
        self.margin = margin
        self.strong = strong

    def predict(self, text: str) -> IntentPrediction:
        ruled = self.rules.predict(text)
        if ruled.skill is not None and ruled.confident:
            top = ruled.scores[ruled.skill]
            runner_up = max((v for k, v in ruled.scores.items() if k != ruled.skill), default=0.0)
            if top >= self.override and top - runner_up >= self.margin:
                return ruled
        learned = self.classifier.predict(text)
        # A lukewarm classifier (e.g. digest 0.58 for "anything about zebrafish?") defers to a rule that fired.
        if learned.confident and (not ruled.confident or max(learned.scores.values()) >= self.strong):
            return learned
        return ruled if ruled.confident else learned

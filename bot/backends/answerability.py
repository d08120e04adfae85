"""Whether the sources found can answer a question: a logistic model over named features.

The decision to answer or say "I couldn't find this" used to be one hand-set rule (the best source must
cover half of the question's weighted words). That rule declines a third of the questions a team's history
does answer, because people ask in other words. This model weighs the same evidence together with what else
the search knows (does the best match's thread cover the rest, is the best match itself an unanswered
question, do the top matches agree on one thread) and was fitted on synthetic labelled workspaces by
`whybot train answerability`. Its score is sigmoid(bias + sum(weight x value)); each product is a
contribution the Why? puts in words. Weights and the threshold ship as JSON in bot/backends/weights/.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from bot.settings import EmbeddingsSource

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "answerability.json"
# Fitted on features from hybrid search (words and an embedding model): a source close in meaning counts as
# covering the question, so the same evidence means something else than with words alone. Cosines differ by
# model, so the built-in static model has its own fit; a server's model uses the one fitted with all-MiniLM-L6-v2.
HYBRID_WEIGHTS = WEIGHTS_DIR / "answerability-hybrid.json"
BUILTIN_WEIGHTS = WEIGHTS_DIR / "answerability-builtin.json"


FITTED_FOR: dict[EmbeddingsSource, Path] = {"builtin": BUILTIN_WEIGHTS, "server": HYBRID_WEIGHTS,
                                           "off": DEFAULT_WEIGHTS}  # where `whybot train answerability` writes


def weights_for(source: EmbeddingsSource) -> Path:
    """The model fitted for how this deployment searches (the words-only one when no fit for it ships)."""
    path = FITTED_FOR[source]
    return path if path.is_file() else DEFAULT_WEIGHTS

# The named features, in the order training writes them (bot/answerability.py computes them).
FEATURES: tuple[str, ...] = (
    "statement_coverage", "only_asked", "thread_extra", "key_words_missing", "same_thread", "score_gap",
    "reply_found", "unanswered_question",
)


class WeightsError(ValueError):
    """The weights file is not one this code can score with (a missing feature, no threshold)."""


@dataclass(frozen=True, slots=True)
class AnswerabilityModel:
    weights: dict[str, float]
    bias: float
    threshold: float
    version: str
    trained_on: str = "hand-set"

    @classmethod
    def load(cls, path: Path = DEFAULT_WEIGHTS) -> AnswerabilityModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        weights = {k: float(v) for k, v in data["weights"].items()}
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise WeightsError(f"{path}: weights for features this code does not compute: {sorted(unknown)}")
        threshold = float(data["threshold"])
        if not 0.0 < threshold < 1.0:
            raise WeightsError(f"{path}: threshold {threshold} is not a probability strictly between 0 and 1")
        return cls(weights=weights, bias=float(data["bias"]), threshold=threshold, version=str(data["version"]),
                   trained_on=str(data.get("trained_on", "hand-set")))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"version": self.version, "trained_on": self.trained_on,
                                    "threshold": self.threshold, "bias": self.bias, "weights": self.weights},
                                   indent=2) + "\n", encoding="utf-8")

    def score(self, features: dict[str, float]) -> tuple[float, dict[str, float]]:
        """The probability that the sources answer the question, and each feature's weight x value."""
        contributions = {name: self.weights.get(name, 0.0) * value for name, value in features.items()}
        logit = self.bias + sum(contributions.values())
        logit = max(-50.0, min(50.0, logit))
        return 1.0 / (1.0 + math.exp(-logit)), contributions

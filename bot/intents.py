"""Free-text intent classification for the router.

Keyword rules are the transparent default: every score is a sum of named rules that fired, so the
rationale can say exactly why a request went where it did. A trained classifier plugs in behind the
same `IntentClassifier` protocol; keyword rules stay as an override for unambiguous phrasings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    skill: str | None
    scores: dict[str, float]
    evidence: dict[str, list[str]] = field(default_factory=dict)
    method: str = "keyword_rule"
    confident: bool = True


class IntentClassifier(Protocol):
    name: str

    def predict(self, text: str) -> IntentPrediction: ...


@dataclass(frozen=True, slots=True)
class Rule:
    skill: str
    label: str
    pattern: re.Pattern[str]
    weight: float


def _rule(skill: str, label: str, pattern: str, weight: float) -> Rule:
    return Rule(skill, label, re.compile(pattern, re.IGNORECASE), weight)


DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("summarize", "summarize/summary", r"\bsumm?ar(?:y|ise|ize|ies)\b", 3.0),
    _rule("summarize", "tl;dr / recap", r"\b(tl;?dr|recap|catch me up|what did i miss|what happened)\b", 2.5),
    _rule("summarize", "this thread / channel", r"\b(this|the) (thread|channel|discussion|conversation)\b", 0.8),
    _rule("digest", "digest", r"\bdigest\b", 3.0),
    _rule("digest", "top / important threads", r"\b(top|most important|important|highlights?)\b.*\b(threads?|today|"
                                               r"this week|yesterday)\b", 2.0),
    _rule("help", "help", r"^\s*help\b|\bhelp me use\b|\bwhat can you do\b|\bcommands?\b|\bhow do i use\b", 3.0),
    _rule("people", "who knows / decided / owns", r"\bwho(?:'s|\s+is|\s+are)?\s+(?:knows?|decided|made the (?:call|"
                                               r"decision)|signed off|approved|owns|maintains|looks after|worked on|"
                                               r"(?:the )?(?:expert|owner|go-to|point of contact|in charge)|can help|"
                                               r"should i (?:ask|talk to|ping))\b", 4.0),
    _rule("ask", "question mark", r"\?\s*$", 1.5),
    _rule("ask", "question word", r"^\s*(who|what|when|where|why|how|which|is|are|do|does|did|can|should|"
                                  r"has|have|was|were)\b", 1.2),
    _rule("ask", "find / look up", r"\b(find|search|look up|lookup|remind me|any(?:one|body) know)\b", 1.5),
)
THRESHOLD = 1.0


class KeywordIntentClassifier:
    name = "keyword-rules-2"  # 2: the "who knows / decided / owns" rule

    def __init__(self, rules: tuple[Rule, ...] = DEFAULT_RULES, threshold: float = THRESHOLD) -> None:
        self.rules = rules
        self.threshold = threshold

    def predict(self, text: str) -> IntentPrediction:
        scores: dict[str, float] = {}
        evidence: dict[str, list[str]] = {}
        for rule in self.rules:
            if rule.pattern.search(text):
                scores[rule.skill] = round(scores.get(rule.skill, 0.0) + rule.weight, 3)
                evidence.setdefault(rule.skill, []).append(rule.label)
        if not scores:
            return IntentPrediction(None, {}, {}, method="keyword_rule", confident=False)
        best = max(scores, key=lambda s: (scores[s], -list(scores).index(s)))
        confident = scores[best] >= self.threshold
        return IntentPrediction(best if confident else None, scores, evidence, method="keyword_rule",
                                confident=confident)

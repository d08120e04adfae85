"""What kind of answer a question wants, and whether a message looks like one.

A paraphrased question rarely shares words with its answer ("what broke fraud-consumer?" vs
"Root cause: a memory leak in the serializer"), but it says what *kind* of statement answers it:
a cause, a fix, a person, a procedure, a time, a decision. Matching that kind inside a thread
that matched the question finds the answer the words alone miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AnswerKind:
    name: str
    asks: re.Pattern[str]
    answers: re.Pattern[str]


def _kind(name: str, asks: str, answers: str) -> AnswerKind:
    return AnswerKind(name, re.compile(asks, re.IGNORECASE), re.compile(answers, re.IGNORECASE))


KINDS: tuple[AnswerKind, ...] = (
    _kind("cause", r"\b(cause[ds]?|root|broke|broken|why|what happened|went wrong|reason|behind|go(es)? down|"
                   r"went down|problem|errors?)\b",
          r"\b(root cause|caused by|because|due to|turned out|found it|the (issue|problem|bug) was|was an?)\b"),
    _kind("fix", r"\b(fix(ed)?|mitigat\w*|resolv\w*|brought|back|restor\w*|recover\w*|solved|workaround|done|"
                 r"problem)\b",
          r"\b(fixed|mitigated|rolled back|reverted|resolved|restored|patched|renewed|raised|restarted|"
          r"workaround|we (bumped|increased|added|scaled))\b"),
    _kind("who", r"^\s*(who|whom|which (person|team))\b|\b(owner|owns|assigned|looks?|after|responsible|"
                 r"person|in charge|point of contact|took the action)\b",
          r"<@[UW][A-Z0-9]+|\b(owns|owner|'s team|assigned|is on it|will (do|take|handle))\b"),
    _kind("how", r"^\s*(how|where)\b|\b(steps?|process|docs|documentation|runbook|procedure|go out|find|"
                 r"location|operational)\b",
          r"\b(use|run|via|through|see|follow|request|ask|from the)\b|https?://|`[^`]+`"),
    _kind("when", r"^\s*when\b|\b(date|deadline|due|what time|how long|until|schedule)\b",
          r"\b(mon|tue|wed|thu|fri|sat|sun)\w*\b|\b\d{1,2}[:.]\d{2}\b|\b(today|tomorrow|next week|by|on the)\b"),
    _kind("decision", r"\b(decid\w*|decision|final|call|go with|chose|choice|agreed|conclusion)\b",
          r"\b(decided|decision|we('ll| will) go|agreed|going with|approved|settled)\b"),
    _kind("what", r"^\s*(what|which)\b|\b(version|runtime|limit|size|policy)\b",
          r"\b(it'?s|is|are|we use|uses|runs on)\b"),
)


def answer_kinds(question: str) -> list[AnswerKind]:
    """The kinds a question asks for; the catch-all "what" only when nothing more specific fits."""
    found = [k for k in KINDS if k.asks.search(question)]
    specific = [k for k in found if k.name != "what"]
    return specific or found


def kind_bonus(kinds: list[AnswerKind], text: str) -> float:
    """How strongly `text` is the kind of statement the question asks for (0 when it is not)."""
    return float(sum(1 for k in kinds if k.answers.search(text)))


def subject_weights(question: str, term_weights: dict[str, float], surface: dict[str, str]) -> dict[str, float]:
    """Term weights with the words that only say *what kind* of answer is wanted ("fix", "root cause",
    "who looks after") turned down, so coverage measures the subject ("ledger-worker", "us-west-2"),
    which is what a source must be about."""
    kinds = answer_kinds(question)
    return {t: w * (0.25 if any(k.asks.search(surface.get(t, t)) for k in kinds) else 1.0)
            for t, w in term_weights.items()}

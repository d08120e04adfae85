"""Paraphrased questions and follow-ups for the ask evaluation.

A paraphrase keeps the subject's names (service, region, customer, the decision's topic) and says
everything else in words the source thread never uses, so word overlap cannot find the answer by
the question's other words: "what made ledger-api fall over in eu-west-1" for a thread that says
"ledger-api is down in eu-west-1 … root cause: …". `labels()` checks that promise against the
thread's own text and drops a paraphrase that breaks it. Choices come from an RNG seeded by the
question itself, so adding paraphrases never changes the generated workspace.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from bot import text as textlib

FAR: dict[str, tuple[str, ...]] = {
    "owner": ("who's the go-to person for {svc}", "whom should I contact regarding {svc}",
              "{svc} point of contact"),
    "port": ("what number do I connect to for {svc} on my machine", "{svc} socket number on a laptop"),
    "datastore": ("what persistence layer does {svc} rely on", "{svc} persistence technology"),
    "runbook": ("operations manual for {svc}", "where can I read how to operate {svc}"),
    "secrets": ("how can I obtain {svc} passwords for the test environment", "{svc} sandbox passwords"),
    "deploy": ("how do new versions of {svc} reach customers", "shipping a new {svc} build to customers"),
    "rate_limit": ("how many calls can a client make to {svc} before getting blocked",
                   "{svc} quota per caller"),
    "retention": ("how far back can I look in {svc}", "when does {svc} forget old entries"),
    "language": ("what is {svc} coded in", "which compiler or interpreter does {svc} need"),
    "incident_cause": ("what made {svc} fall over in {region}", "why was {svc} unhealthy in {region}",
                       "reason {svc} misbehaved in {region}"),
    "incident_fix": ("how did {svc} recover in {region}", "what got {svc} healthy again in {region}"),
    "decision": ("what was concluded regarding {short}", "verdict on {short}", "what's settled about {short}"),
    "task": ("who volunteered to {task}", "which teammate has to {task}"),
    "deadline": ("what's the last day for {thing}", "how long do we have for {thing}"),
    "support": ("what went wrong for {customer} with {feature}", "why did {customer} have trouble with {feature}"),
}

FOLLOW_UPS: tuple[str, ...] = (
    "and who said that?", "when was that?", "who else was in that conversation?", "can you link me to it?",
    "is that still true?", "what happened after that?",
)


def _stems(text: str) -> set[str]:
    return {t for t in textlib.terms(textlib.plain(text)) if not t.isdigit()}


def paraphrase(family: str, slots: dict[str, str], source: Iterable[str], seed: str) -> str | None:
    """A question for `family` that shares no content word with the `source` thread except the
    subject's own names (`slots`), or None when every frame would."""
    frames = list(FAR.get(family, ()))
    if not frames:
        return None
    random.Random(seed).shuffle(frames)
    names = set().union(*(_stems(v) for v in slots.values())) if slots else set()
    used = set().union(*(_stems(t) for t in source)) - names
    for frame in frames:
        question = frame.format(**slots)
        if not (_stems(question) - names) & used:
            return question
    return None


def follow_up(seed: str) -> str:
    return random.Random(seed).choice(FOLLOW_UPS)

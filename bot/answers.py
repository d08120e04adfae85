"""What kind of answer a question wants, and whether a message looks like one.

A paraphrased question rarely shares words with its answer ("what broke fraud-consumer?" vs
"Root cause: a memory leak in the serializer"), but it says what *kind* of statement answers it:
a cause, a fix, a person, a procedure, a time, a decision. Matching that kind inside a thread
that matched the question finds the answer the words alone miss.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot import text as textlib

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class AnswerKind:
    """A kind of answer: the words that ask for it, the words that give it, and how much a match says
    (the catch-all "what" is matched by almost any statement, so it says little)."""

    name: str
    asks: re.Pattern[str]
    answers: re.Pattern[str]
    strength: float = 1.0
    required: bool = False  # only a statement of this kind answers at all (an amount for "what's the budget")


def _kind(name: str, asks: str, answers: str, strength: float = 1.0, *, required: bool = False) -> AnswerKind:
    return AnswerKind(name, re.compile(asks, re.IGNORECASE), re.compile(answers, re.IGNORECASE), strength,
                      required)


# Ordinary English ways to ask for, and to give, each kind of answer. They are about the kind of statement,
# never a subject: no service, customer or team name belongs here.
KINDS: tuple[AnswerKind, ...] = (
    _kind("cause", r"\b(cause[ds]?|root|broke|broken|break(s|ing)?|why|how come|what happened|went wrong|"
                   r"go(es|ne)? wrong|wrong|reason|behind|go(es)? down|went down|problem|errors?|issues?|trouble|"
                   r"fail(ed|ing|s|ure)?|fell over|fall(s|ing)? over|crash(ed|es|ing)?|outage|what made|led to|"
                   r"trigger(ed|s)?|culprit|blame)\b",
          r"\b(root cause|caused by|cause was|because|due to|turned out|known issue|regression|bug in|"
          r"the (issue|problem|bug|culprit|reason) (was|is)|was an?|it was|traced (it |this )?(back )?to|"
          r"found it)\b|\b(got it|figured it out|i know|know what it is)\s*:"),
    _kind("fix", r"\b(fix(ed|es)?|mitigat\w*|resolv\w*|brought|back|restor\w*|recover\w*|solved|workaround|done|"
                 r"problem|repair\w*|unblock\w*|sort(ed)? out|what got|(healthy|working|up|running|normal|stable|"
                 r"green|fine) again)\b",
          r"\b(fixed|mitigated|rolled back|reverted|resolved|restored|recovered|patched|renewed|raised|restarted|"
          r"workaround|back to normal|all clear|fix is out|cleared it|should work now|"
          r"we (bumped|increased|added|scaled|pinned|turned|restarted|renewed|rolled|cleaned|cleared|flipped|"
          r"disabled|enabled|moved|reverted|raised))\b"),
    _kind("who", r"^\s*(who|whom|whose|which (person|team))\b|\b(who|whom|owner|owns|assigned|looks?|after|"
                 r"responsible|person|in charge|point of contact|took the action|go-to|contact|talk to|reach out|"
                 r"maintain(s|er|ers)?|on the hook|expert)\b",
          r"<@[UW][A-Z0-9]+|\b(owns|owner|'s team|assigned|is on it|will (take|handle)|maintains|"
          r"point of contact|DRI)\b"),
    _kind("how", r"^\s*(how|where)\b|\b(steps?|process|docs|documentation|runbook|procedure|go out|find|"
                 r"location|operational|manual|playbook|guide|instructions|wiki|obtain|get access|set up)\b",
          r"^\W*(use|run|merge|tag|ask|open|go to|click|install|request|follow|push|file|see|check)\b|"
          r"\b(via|through|it'?s in|lives in|they'?re in|stored in|kept in|answered (here|in)|here:)|"
          r"`[^`]*[ /.=][^`]*`|(?<![\w./:])[a-z][\w-]*/[\w-]+/[\w/-]+|^\W*<https?://[^>]+>\W*$"),
    _kind("when", r"^\s*when\b|\b(date|deadline|due|what time|how long|until|schedule|what day|which day|"
                  r"how soon|eta|by when)\b",
          r"\b(mon|tue|wed|thu|fri|sat|sun)\w*\b|\b\d{1,2}[:.]\d{2}\b|\b(today|tomorrow|next week|by|on the)\b|"
          r"\b(jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d|\b\d{4}-\d{2}-\d{2}\b|"
          r"\b\d+ (minutes?|hours?|days?|weeks?|months?|years?)\b|\b(end of|this|next|last) "
          r"(day|week|month|quarter|sprint)\b|\bQ[1-4]\b"),
    _kind("number", r"\bhow (many|much|long|big|often|large|fast|high|low)\b|\b(which|what) (port|number|"
                    r"percent\w*|count|amount)\b|\b(port|version|limit|quota|size|timeout|ttl|retention|"
                    r"capacity|threshold|score)\b",
          r"\d"),
    # Money is asked for in so many words, and answered with an amount: "Go 1.22 since the rewrite" or "1200
    # requests per minute" has a number but says nothing about a budget, so without one nothing answers.
    # Only where the amount is what is asked ("the budget for X", "how much does X cost", "our AWS spend"), not
    # where money is the topic ("why did costs go up?").
    _kind("amount", r"\b(budget|cost|price|fee|spend|salary)s?\s+(for|of|on)\b|\bhow much\b.*\b(cost|pay|charge|"
                    r"spend|budget)|\b(the|our|its|their|a)\s+(\S+\s+){0,3}(budget|cost|price|fee|spend|salary)s?\W*$|"
                    r"\bcosts? us\b",
          r"[$€£¥₹]\s?\d|\d[\d,.]*\s?(k|m|bn|mm|million|billion|thousand|grand)\b|\b(usd|eur|gbp|chf|jpy|inr|"
          r"dollars?|euros?|pounds?|bucks)\b|\d\s?(%|percent)|\bfree\b|\bno (cost|charge|budget)\b",
          required=True),
    _kind("decision", r"(?<!-)\b(decid\w*|decision|final|call|go with|chose|choice|agreed|conclusion|verdict|outcome|"
                      r"conclu\w*|land(ed)? on|settled?|sign(ed)? off|go ahead|greenlit)\b",
          r"\b(decided|decision|we('ll| will) go|agreed|going with|approved|settled|let'?s go with|"
          r"go(ing)? ahead|signed off|consensus)\b"),
    _kind("what", r"^\s*(what|which)\b|\b(version|runtime|limit|size|policy)\b",
          r"\b(it'?s|is|are|we use|uses|runs on)\b", strength=0.3),
)


# A question that opens with an unambiguous question word asks for that kind, whatever else it names:
# "who took the action item on timeout alerts" wants a person, not a number.
_LEADS = ((re.compile(r"^\W*(who|whom|whose)\b", re.IGNORECASE), "who"),
          (re.compile(r"^\W*when\b", re.IGNORECASE), "when"),
          (re.compile(r"^\W*why\b", re.IGNORECASE), "cause"),
          (re.compile(r"^\W*how much (do|does|did|will|would|is|was)\b.*\b(cost|pay|charge|spend)", re.IGNORECASE),
           "amount"),
          (re.compile(r"^\W*how (many|much)\b", re.IGNORECASE), "number"))


def answer_kinds(question: str) -> list[AnswerKind]:
    """The kinds a question asks for; the catch-all "what" only when nothing more specific fits."""
    lead = next((name for pattern, name in _LEADS if pattern.search(question)), None)
    if lead is not None:
        return [k for k in KINDS if k.name == lead]
    found = [k for k in KINDS if k.asks.search(question)]
    specific = [k for k in found if k.name != "what"]
    if len(specific) > 1:  # "how did it recover" asks for the fix; "how" alone asks for a way or a place
        specific = [k for k in specific if k.name != "how"]
    return specific or found


def kind_bonus(kinds: list[AnswerKind], text: str) -> float:
    """How strongly `text` is the kind of statement the question asks for (0 when it is not)."""
    return float(sum(k.strength for k in kinds if k.answers.search(text)))


def kind_matches(kinds: Sequence[AnswerKind], text: str) -> list[tuple[AnswerKind, str]]:
    """Each asked-for kind `text` is a statement of, with the words that show it ("root cause", "@Wei"),
    so a rationale can say why a message was taken as the answer."""
    out = []
    for k in kinds:
        found = k.answers.search(text)
        if found is None:
            continue
        cue = found.group(0)
        mention = _MENTION.match(text, found.start())
        if mention:  # "<@U1|Wei>" reads "@Wei"
            cue = "@" + textlib.plain(mention.group(0)).lstrip("@")
        out.append((k, " ".join(textlib.plain(cue).split())[:40]))
    return out


def subject_weights(question: str, term_weights: dict[str, float], surface: dict[str, str]) -> dict[str, float]:
    """Term weights with the words that only say *what kind* of answer is wanted ("fix", "root cause",
    "who looks after") turned down, so coverage measures the subject ("ledger-worker", "us-west-2"),
    which is what a source must be about."""
    kinds = answer_kinds(question)
    return {t: w * (0.25 if any(k.asks.search(surface.get(t, t)) for k in kinds) else 1.0)
            for t, w in term_weights.items()}


_KIND_NOUN = {"amount": "an amount (a sum of money or a share)"}


def missing_required(kinds: Sequence[AnswerKind], quoted: Sequence[str]) -> str | None:
    """Why what would be quoted cannot answer, when the question asks for a kind only a statement of that kind
    answers and none of `quoted` is one: "the question asks for an amount …". None when nothing is missing."""
    for k in kinds:
        if k.required and not any(k.answers.search(text) for text in quoted):
            return (f"the question asks for {_KIND_NOUN.get(k.name, k.name)}, and nothing I could quote "
                    "states one")
    return None

"""Which reply in a matching thread answers the question: the classic QA idea of answer-type matching.

Search finds the thread ("Escalation: Acme can't use invoice PDFs"), but the message a reader needs is
one of its replies ("known issue - their SSO certificate expired"), which often shares no word with
the question. Among the replies (people other than the asker, not questions, not "+1"), the one that
answers is the one that says the *kind* of thing asked for (a cause for "why", a person for "who", a
date for "when", a number for "how many"), says something of substance ("looking", "on it" and
"not sure, ask Wei" do not), and is about the question's subject. The first reply of substance after
the question wins a tie: that is where people answer. Every part of the score is kept, so the Why?
can say in plain words which kind was sought and why this message was chosen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot import text as textlib
from bot.answers import AnswerKind, kind_matches
from bot.backends.retrieval.base import weighted_coverage
from storage import MessageRecord

# Replies that defer or hedge instead of answering: "not sure, Wei might know", "good question".
_DEFERS = re.compile(r"\b(not sure|no idea|don'?t know|dunno|good question|might know|may know|would know|"
                     r"i thought|no clue|same question)\b|\bask(ing)? <@", re.IGNORECASE)
# Replies that close the loop rather than answer: "thanks!", "confirmed fixed, closing the ticket".
_CLOSES = re.compile(r"^\W*(thanks|thank you|thx|ty|cheers|perfect|great|legend|appreciated?|awesome|nice|cool|"
                     r"confirmed|ah,? got it|got it|that'?s it|makes sense|will do|ok(ay)?,? thanks)\b", re.IGNORECASE)
# Something concrete a short reply can carry and still answer: a person, a link, code, a number.
_CONCRETE = re.compile(r"<@[UW][A-Z0-9]+|https?://|`[^`]+`|\d")

KIND_WEIGHT = 1.0  # the reply says the kind of thing asked for
SUBJECT_WEIGHT = 0.5  # its own share of the question's words
SUBSTANCE_WEIGHT = 0.4  # it says something (not "looking", "on it", "👀")
FIRST_WEIGHT = 0.15  # the first reply of substance after the question
DEFER_PENALTY = 1.0  # "not sure, ask Wei" points elsewhere
CLOSE_PENALTY = 0.8  # "thanks", "confirmed fixed, closing the ticket" ends the thread, answers nothing
QUESTION_PENALTY = 0.6  # a reply that only asks ("can you check the deploy?") answers nothing
SUBSTANTIAL_WORDS = 4  # content words that make a reply more than an acknowledgement
CLOSING_WORDS = 6  # a thanks or sign-off longer than this says something more


@dataclass(frozen=True, slots=True)
class Pick:
    """The reply chosen as the answer, its score and the reason in words for the Why?."""

    message: MessageRecord
    score: float
    kinds: tuple[str, ...]  # the kinds of answer it matched, among those asked for
    reason: str
    doubtful: bool = False  # it asks, defers or only signs off: the best there is, but no plain answer


def candidates(thread: Sequence[MessageRecord], matched: MessageRecord,
               taken: frozenset[str] = frozenset()) -> list[MessageRecord]:
    """Replies that could answer: not the matching message itself, not already used, not a bot, not the
    asker of a question-like root (their "thanks!"), not "+1". In thread order. A reply ending in a
    question mark stays ("Cause was X; patched, can you ask them to retry?"): `best_reply` weighs it."""
    root = thread[0] if thread else matched
    asked = textlib.is_question(root.text)
    asker = root.user_external_id if asked else None
    # A reply can match while the thread's opening statement answers ("stop merging for 3.2?" matches "merged
    # before the freeze"; the root says when the freeze starts): a root that is not a question is a candidate.
    pool = thread if not asked else thread[1:]
    return [r for r in pool if r.external_id != matched.external_id and r.source_id not in taken
            and not r.is_bot and r.user_external_id != asker and not textlib.me_too(r.text)]


def statement(text: str) -> str:
    """What a reply states, without a trailing question: "Cause was X; patched, can you ask them to
    retry?" states the cause; "<@U1> can you check the deploy?" states nothing (empty)."""
    text = text.strip()
    if not textlib.is_question(text):
        return text
    cut = max(text.rfind(mark, 0, len(text) - 1) for mark in (". ", "; ", ", ", "! ", " - ", "\n"))
    return text[:cut] if cut > 0 else ""


def substance(text: str) -> float:
    """1 for a reply that says something, less for an acknowledgement ("looking now", "on it")."""
    plain = textlib.plain(text)
    if _CONCRETE.search(text):
        return 1.0
    return min(1.0, len(textlib.content_words(plain)) / SUBSTANTIAL_WORDS)


def closing(text: str) -> bool:
    """A short thanks or sign-off ("confirmed fixed, closing the ticket"); "Thanks all. We agreed to …"
    says more than that and is not one."""
    plain = textlib.plain(text)
    return bool(_CLOSES.search(plain)) and len(textlib.content_words(plain)) <= CLOSING_WORDS


def defers(text: str) -> bool:
    return bool(_DEFERS.search(text))


def best_reply(replies: Sequence[MessageRecord], kinds: Sequence[AnswerKind], query_terms: Sequence[str],
               term_weights: dict[str, float]) -> Pick | None:
    """The reply that best answers, or None when none says anything (only "looking", "on it")."""
    scored: list[tuple[float, int, Pick]] = []
    first_seen = False
    for position, reply in enumerate(replies):
        stated = statement(reply.text)
        said = substance(stated)
        deferred = defers(reply.text)
        closes = closing(reply.text)
        asks = not stated.strip()
        first = not first_seen and said >= 1.0 and not (deferred or closes or asks)
        first_seen = first_seen or first
        matches = kind_matches(kinds, stated)
        own = weighted_coverage(textlib.overlap(query_terms, stated), term_weights)
        kind = min(sum(k.strength for k, _ in matches), 2.0)
        score = (KIND_WEIGHT * kind + SUBJECT_WEIGHT * own + SUBSTANCE_WEIGHT * said + FIRST_WEIGHT * first
                 - DEFER_PENALTY * deferred - CLOSE_PENALTY * closes - QUESTION_PENALTY * asks)
        if said < 0.5 and not matches:
            continue  # an acknowledgement answers nothing
        reason = _reason(kinds, matches, own, first, deferred)
        scored.append((score, -position, Pick(reply, round(score, 4), tuple(k.name for k, _ in matches), reason,
                                                 doubtful=deferred or closes or asks)))
    if not scored:
        return None
    best = max(scored, key=lambda s: s[:2])[2]
    return best if best.score > 0 else None


_SOUGHT = {"cause": "a cause", "fix": "what fixed it", "who": "a person or owner", "how": "how or where",
           "when": "a date or time", "number": "a number", "amount": "an amount of money", "decision": "a decision",
           "what": "what it is"}


def sought(kinds: Sequence[AnswerKind]) -> str:
    """'a cause or what fixed it': the kinds of answer a question asks for, in words."""
    return " or ".join(_SOUGHT.get(k.name, k.name) for k in kinds) or "no particular kind"


def _reason(kinds: Sequence[AnswerKind], matches: Sequence[tuple[AnswerKind, str]], own: float, first: bool,
            deferred: bool) -> str:
    parts = [f"asked for {sought(kinds)}"]
    if matches:
        parts.append("this reply gives " + ", ".join(f"{_SOUGHT.get(k.name, k.name)} (“{cue}”)" for k, cue in matches))
    elif kinds:
        parts.append("no reply gives that kind of answer; this one says the most")
    if own > 0:
        parts.append(f"shares {own:.0%} of the question's words")
    if first:
        parts.append("first substantive reply after the question")
    if deferred:
        parts.append("it defers to someone else")
    return "; ".join(parts)

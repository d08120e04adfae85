"""Follow-ups without a language model: turn "and who said that?" into something searchable.

A follow-up in a thread whybot answered usually names no subject of its own ("when was that?", "is it
still true?"): its subject is the earlier question's. The offline rewrite carries the earlier searched
words along, weighted lower than the follow-up's own, and the ask skill prefers the threads the earlier
answer cited. A follow-up that brings its own subject, shares none of it with the earlier one and does
not refer back is a new question and is asked alone, so the decline logic stays honest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot import text as textlib
from bot.answers import answer_kinds
from bot.models import Conversation, ConversationTurn

REQUEST_WEIGHT = 0.25  # as answer-kind words weigh in `subject_weights`
CARRIED_WEIGHT = 0.5  # an earlier subject term counts half as much as the follow-up's own terms
CITED_THREAD_BOOST = 0.5  # a hit in a thread cited earlier in the conversation scores up to 1.5x, no more
_LEAD_IN = re.compile(r"^\W*((and|so|but|ok(ay)?|also|then|right|thanks|cool|great)\b[\s,.!]*)+", re.IGNORECASE)
_REFERS_BACK = re.compile(r"\b(that|it|its|they|them|their|those|these|he|she|him|his|her|there|then|same|else|"
                          r"also|too|still|again|further|more)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Standalone:
    """The follow-up as it is searched, and what the Why? says about it."""

    query: str
    continues: ConversationTurn
    carried: frozenset[str] = field(default_factory=frozenset)  # index terms taken from the earlier turn
    request: frozenset[str] = field(default_factory=frozenset)  # the follow-up's own words that only ask
    method: str = "offline: earlier subject carried"


def bare(question: str) -> str:
    """The follow-up without its conversational lead-in ("and who said that?" -> "who said that?"), so
    it reads like the standalone questions the answer kinds were written for."""
    return _LEAD_IN.sub("", question).strip() or question.strip()


_ASKS = re.compile(r"\?\s*$|^\W*(and\s+|so\s+|but\s+)?(who|whom|whose|what|when|where|why|how|which|is|are|was|were|"
                   r"do|does|did|can|could|will|would|should|has|have|had)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """Whether an unaddressed thread reply asks something ("thanks!" or "on it" is not for whybot)."""
    return bool(_ASKS.search(text.strip()))


def refers_back(question: str) -> bool:
    """Whether the words point at something said before ("that", "it", "they", "else", "still")."""
    return bool(_REFERS_BACK.search(question))


def own_subject(question: str) -> set[str]:
    """The follow-up's own subject terms: its index terms minus words that only say what kind of
    answer is wanted ("who", "when", "fix")."""
    kinds = answer_kinds(bare(question))
    surface = textlib.surface_terms(question)
    return {t for t, word in surface.items() if not any(k.asks.search(word) for k in kinds)}


def _name_like(word: str) -> bool:
    return any(c.isdigit() or c in "-_./#@" for c in word)


def request_terms(question: str) -> set[str]:
    """In a follow-up that refers back ("who signed that off?", "is it still true?"), the words other
    than names say what is wanted about the earlier subject, not a new subject: they weigh like
    answer-kind words. Names (with digits, hyphens, dots: "eu-west-1", "v2.3") stay subject."""
    if not refers_back(question):
        return set()
    return {t for t, word in textlib.surface_terms(question).items() if not _name_like(word)}


def continues(question: str, conversation: Conversation | None) -> ConversationTurn | None:
    """The earlier turn `question` continues, or None when it is a new question: it has its own
    subject, shares none of it with the earlier subject and does not refer back."""
    last = conversation.last if conversation is not None else None
    if last is None or not last.query.strip():
        return None
    own = own_subject(question)
    if not own or refers_back(question):
        return last
    earlier = set(textlib.terms(last.query))
    return last if own & earlier else None


def offline_rewrite(question: str, conversation: Conversation | None) -> Standalone | None:
    """The follow-up with the earlier searched words appended (each once; nothing the follow-up already
    says), or None when it is a new question."""
    last = continues(question, conversation)
    if last is None:
        return None
    own = set(textlib.terms(question))
    added: list[str] = []
    carried: set[str] = set()
    for word in textlib.content_words(last.query):
        term = textlib.stem(word)
        if term in own or term in carried:
            continue
        carried.add(term)
        added.append(word)
    if not added:
        return Standalone(query=question, continues=last, method="offline: the follow-up already names the subject")
    return Standalone(query=f"{question.strip()} {' '.join(added)}", continues=last, carried=frozenset(carried),
                      request=frozenset(request_terms(question) - carried))


@dataclass(frozen=True, slots=True)
class Preferred:
    """The threads a follow-up prefers, whether the earlier answer cited them or only listed them as its
    closest matches (it declined), and the Why? words for that."""

    threads: frozenset[tuple[str, str]] = frozenset()
    listed: bool = False
    words: str = ""


def points_back(question: str) -> bool:
    """Whether the follow-up only points at what was said before ("and who said that?", "is it still
    true?"): it refers back and names nothing of its own (no "eu-west-1"). A rephrase of the question
    ("what did we decide about sharding?") does not point back; it asks again."""
    return refers_back(question) and not (own_subject(question) - request_terms(question))


def preferred(turn: ConversationTurn | None, question: str) -> Preferred:
    """What the follow-up `question` of `turn` prefers. A cited thread passed the gate for the same subject.
    After a decline, a follow-up that only points back ("when was that?") can only mean what the reply
    showed, its closest matches; one that asks again gets no such favour, so rephrasing never gets round
    the decline."""
    if turn is None:
        return Preferred()
    if turn.cited_threads:
        n = len(turn.cited_threads)
        return Preferred(frozenset(turn.cited_threads),
                         words=f"preferring the {'thread' if n == 1 else f'{n} threads'} my earlier answer cited")
    if turn.declined and turn.listed_threads and points_back(question):
        n = len(turn.listed_threads)
        return Preferred(frozenset(turn.listed_threads), listed=True,
                         words=f"I had not found an answer to it, so “that” is read as the "
                               f"{'closest match' if n == 1 else f'{n} closest matches'} I listed "
                               "(in my reply and its Why?)")
    return Preferred()


def carried_weights(weights: dict[str, float], carried: frozenset[str],
                    request: frozenset[str] = frozenset()) -> dict[str, float]:
    """Subject weights with the carried terms turned down, so the follow-up's own subject leads, and its
    request words (`request_terms`) down like answer-kind words."""
    return {t: w * (CARRIED_WEIGHT if t in carried else REQUEST_WEIGHT if t in request else 1.0)
            for t, w in weights.items()}

"""Prefer matching threads that hold an answer of the kind asked for.

Search ranks threads by shared words, and a paraphrase shares little beyond the subject's name:
"who's the go-to person for reviews-service" matches the service's storage, owner and retention
threads alike. Only one of them has a reply naming a person. A hit whose thread (or which itself)
holds a reply of the kind the question asks for (bot.answer_pick) scores up to `KIND_BOOST` more,
bounded, so a much better word match elsewhere still wins; the catch-all "what" boosts nothing.
The Why? says which hits were ranked up and for what kind of answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot import text as textlib
from bot.answer_pick import best_reply, candidates, sought
from bot.answers import AnswerKind, kind_matches
from bot.backends.retrieval.base import Hit
from storage import MessageRecord

KIND_BOOST = 0.3  # a hit whose thread answers in the kind asked for scores up to 1.3x
ThreadLoader = Callable[[MessageRecord], Awaitable[list[MessageRecord]]]


@dataclass(frozen=True, slots=True)
class Ranked:
    hits: list[Hit]
    notes: dict[str, str]  # source id -> why it was ranked up, for the Why?


async def kind_ranked(hits: Sequence[Hit], kinds: Sequence[AnswerKind], load_thread: ThreadLoader,
                      query_terms: Sequence[str], term_weights: dict[str, float], pool: int) -> Ranked:
    """The first `pool` hits re-ranked with the boost, the rest after them unchanged."""
    specific = [k for k in kinds if k.strength >= 1.0]
    if not specific:
        return Ranked(list(hits), {})
    answers: dict[tuple[str, str], str | None] = {}  # thread -> the kind its best reply gives, if any
    out: list[Hit] = []
    notes: dict[str, str] = {}
    for hit in hits[:pool]:
        m = hit.message
        if m is None:
            out.append(hit)
            continue
        gives = None if textlib.is_question(m.text) else next(
            (k.name for k, _ in kind_matches(specific, m.text)), None)  # the hit says it itself
        key = (m.channel_external_id, m.thread_root)
        if gives is None and (m.reply_count or m.thread_external_id):
            if key not in answers:
                thread = await load_thread(m)
                pick = best_reply(candidates(thread, thread[0] if thread else m), specific, query_terms,
                                  term_weights)
                answers[key] = pick.kinds[0] if pick and pick.kinds and not pick.doubtful else None
            gives = answers[key]
        if gives is not None:
            hit = replace(hit, score=round(hit.score * (1 + KIND_BOOST), 6))
            notes[hit.source_id] = f"ranked up: it or its thread gives {sought([_named(specific, gives)])}, as asked"
        out.append(hit)
    out.sort(key=lambda h: -h.score)
    return Ranked(out + list(hits[pool:]), notes)


def _named(kinds: Sequence[AnswerKind], name: str) -> AnswerKind:
    return next(k for k in kinds if k.name == name)

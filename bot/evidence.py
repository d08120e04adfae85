"""Turning stored messages and search hits into passages, citations and evidence for rationales."""

from __future__ import annotations

from collections.abc import Sequence

from bot import text as textlib
from bot.backends.llm.base import Draft, Passage
from bot.backends.retrieval.base import Hit
from bot.models import Citation, EvidenceItem
from bot.naming import channel_label, person_label
from storage import MessageRecord

SNIPPET_CHARS = 200


def passage_from_message(number: int, m: MessageRecord, *, score: float = 0.0,
                         matched: Sequence[str] = ()) -> Passage:
    return Passage(number=number, source_id=m.source_id, text=textlib.plain(m.text), author=m.user_name,
                   author_id=m.user_external_id, channel=m.channel_name, timestamp=m.created_at, permalink=m.permalink,
                   matched_terms=list(matched), score=score)


def passage_from_hit(number: int, hit: Hit, surface: dict[str, str]) -> Passage:
    matched = [surface.get(t, t) for t in hit.matched_terms]
    if hit.message is not None:
        return passage_from_message(number, hit.message, score=hit.score, matched=matched)
    doc = hit.document
    assert doc is not None
    return Passage(number=number, source_id=hit.source_id, text=hit.text, author=doc.title or doc.path,
                   channel="", timestamp=doc.updated_at, permalink=doc.url, matched_terms=matched,
                   score=hit.score)


def _title(p: Passage) -> str:
    """For operators and old clients; people see names built from the fields (bot.naming)."""
    if not p.channel:
        return p.author
    return f"{channel_label(p.channel)} · {person_label(p.author)}"


def citation(p: Passage, channel_external_id: str | None) -> Citation:
    return Citation(number=p.number, source_id=p.source_id, title=_title(p), permalink=p.permalink,
                    snippet=textlib.snippet(p.text, SNIPPET_CHARS), channel=channel_external_id,
                    channel_name=p.channel, author=p.author, author_id=p.author_id, timestamp=p.timestamp)


def evidence(p: Passage, channel_external_id: str | None, *, used: bool, note: str = "",
             contributions: dict[str, float] | None = None) -> EvidenceItem:
    return EvidenceItem(rank=p.number, source_id=p.source_id, title=_title(p), channel=channel_external_id,
                        channel_name=p.channel, author=p.author, author_id=p.author_id,
                        score=round(p.score, 4), matched_terms=p.matched_terms, used=used, note=note,
                        contributions={k: round(v, 4) for k, v in (contributions or {}).items()},
                        permalink=p.permalink)


def verified_citations(draft: Draft, passages: Sequence[Passage]) -> list[int]:
    """Cited numbers that exist among the passages, in first-cited order (invented ones are dropped)."""
    known = {p.number for p in passages}
    return [n for n in dict.fromkeys(draft.cited) if n in known]

"""Citation numbers people can follow: 1..n in the order they appear, the same in the answer, the
Sources list and the Why?.

Skills number sources by retrieval rank, so an answer quoting the first and third best hits cited [1]
and [3], and a digest's items cited whatever message numbers their threads had. Numbering once, at
render time, also keeps the numbers whole after `redact_for` drops a source the reader cannot see.
"""

from __future__ import annotations

import re

from bot.models import Citation, Reply, ReplyItem, ReplySection

_MARK = re.compile(r"\[(\d{1,4})\]")


def _marks(text: str) -> list[int]:
    return [int(m.group(1)) for m in _MARK.finditer(text)]


def numbered(reply: Reply) -> Reply:
    """`reply` with citations renumbered 1..n in order of first appearance (answer text, then each
    item, then any left), duplicates of one source merged, and every [n] marker rewritten; a marker
    for a source that is not listed is dropped. Idempotent."""
    if not reply.citations:
        return reply
    by_old = {c.number: c for c in reply.citations}
    order: list[int] = []

    def see(numbers: list[int]) -> None:
        order.extend(n for n in numbers if n in by_old and n not in order)

    see(_marks(reply.body))
    for section in reply.sections:
        see(_marks(section.text))
        for item in section.items:
            see(_marks(item.text) + item.citation_numbers)
    see([c.number for c in reply.citations])
    new_of_old: dict[int, int] = {}
    by_source: dict[str, int] = {}
    citations: list[Citation] = []
    for old in order:
        source = by_old[old].source_id
        if source not in by_source:
            by_source[source] = len(citations) + 1
            citations.append(by_old[old].model_copy(update={"number": by_source[source]}))
        new_of_old[old] = by_source[source]

    def rewrite(text: str) -> str:
        out = _MARK.sub(lambda m: f"[{new_of_old[int(m.group(1))]}]" if int(m.group(1)) in new_of_old else "",
                        text)
        return re.sub(r"(\[\d+\])(?:\1)+", r"\1", out).replace(" \n", "\n").rstrip(" ") if out != text else text

    def renumber_item(i: ReplyItem) -> ReplyItem:
        numbers = list(dict.fromkeys(new_of_old[n] for n in i.citation_numbers if n in new_of_old))
        return i.model_copy(update={"text": rewrite(i.text), "citation_numbers": numbers})

    sections = [ReplySection(title=s.title, text=rewrite(s.text), items=[renumber_item(i) for i in s.items])
                for s in reply.sections]
    return reply.model_copy(update={"body": rewrite(reply.body), "sections": sections, "citations": citations})


def number_of_source(reply: Reply) -> dict[str, int]:
    """source id -> citation number, for a reply already `numbered`."""
    return {c.source_id: c.number for c in reply.citations}

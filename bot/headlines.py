"""One-line headlines for ranked threads, shared by channel summaries and digests.

All headlines of a reply are written concurrently, so the reply shares one LLM time budget instead of
one per thread, and their generator details are merged into the single line the Why? shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.backends.importance import Scored
from bot.backends.llm.base import Draft, TextGenerator
from bot.evidence import citation, passage_from_message, verified_citations
from bot.models import Citation, Generator

MAX_THREAD_PASSAGES = 50


@dataclass(frozen=True, slots=True)
class Headline:
    scored: Scored
    text: str
    cited: list[int]
    citations: list[Citation]

    @property
    def item_id(self) -> str:
        """Names the thread's real root, even when only later replies fall inside the window."""
        return f"thread:{self.scored.thread.root_external_id}"


@dataclass(frozen=True, slots=True)
class Headlines:
    items: list[Headline]
    generator: Generator
    caveats: list[str]
    notice: str = ""


async def write_headlines(top: Sequence[Scored], channel_external_id: str, generator: TextGenerator) -> Headlines:
    """A headline per thread, its citations numbered across the whole reply."""
    batches = []
    number = 0
    for scored in top:
        passages = [passage_from_message(number + i, m)
                    for i, m in enumerate(scored.thread.messages[:MAX_THREAD_PASSAGES], 1)]
        number += len(passages)
        batches.append(passages)
    drafts = list(await asyncio.gather(*(generator.headline(p) for p in batches)))
    items = []
    for scored, passages, draft in zip(top, batches, drafts, strict=True):
        # One source per item, so a digest's items and its Sources share numbers: the message the
        # headline leans on most, else the thread's root.
        cited = verified_citations(draft, passages)[:1] or [passages[0].number]
        by_number = {p.number: p for p in passages}
        items.append(Headline(scored, draft.text, cited,
                              [citation(by_number[n], channel_external_id) for n in cited]))
    caveats = list(dict.fromkeys(c for d in drafts for c in d.caveats))[:5]
    notice = next((d.notice for d in drafts if d.notice), "")
    return Headlines(items, merged_generator(drafts), caveats, notice)


def merged_generator(drafts: list[Draft]) -> Generator:
    """One generator line for several headlines: the LLM's, with totals, unless every one fell back."""
    if not drafts:
        return Generator(kind="extractive")
    llm = [d.generator for d in drafts if d.generator.kind == "llm"]
    if not llm:
        return drafts[0].generator
    merged = llm[0].model_copy()
    merged.prompt_tokens = sum(g.prompt_tokens or 0 for g in llm)
    merged.completion_tokens = sum(g.completion_tokens or 0 for g in llm)
    merged.retries = sum(d.generator.retries for d in drafts)
    merged.latency_ms = max((d.generator.latency_ms or 0.0) for d in drafts)
    if len(llm) < len(drafts):
        merged.reason += f"; {len(drafts) - len(llm)} of {len(drafts)} headlines fell back to extractive"
    return merged

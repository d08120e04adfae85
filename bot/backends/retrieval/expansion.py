"""The offline vocabulary bridge: pseudo-relevance feedback (RM3-style) over the best word matches.

People ask in other words than the thread used. With no model and no network, the workspace itself
says which words go together: the top lexical hits for a question mostly come from the right topic,
and the words they share (but the question lacks) are that topic's vocabulary. Those words are added
to a second search with a lower weight. Chosen by measurement over co-occurrence expansion and
stemming alone; see QUALITY.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bot import text as textlib
from bot.backends.retrieval.base import Hit

FEEDBACK_DOCS = 8  # top hits read for feedback
MIN_DOCS = 2  # a word must recur in this many of them: one message's quirks are not the topic's words
MAX_TERMS = 6


def feedback_terms(query_terms: Sequence[str], hits: Sequence[Hit], *, docs: int = FEEDBACK_DOCS,
                   terms: int = MAX_TERMS, min_docs: int = MIN_DOCS) -> dict[str, float]:
    """Surface words to add -> weight in (0, 1]. Each top hit votes with its share of the best score,
    spread over its distinct words (long messages do not dominate); words in most top hits regardless
    of the question (too common to discriminate) are dropped."""
    top = [h for h in hits[:docs] if h.score > 0]
    if len(top) < min_docs:
        return {}
    best = top[0].score
    asked = set(query_terms)
    weight: dict[str, float] = defaultdict(float)
    seen_in: dict[str, int] = defaultdict(int)
    surface: dict[str, str] = {}
    for hit in top:
        words = {textlib.stem(w): w for w in textlib.content_words(textlib.plain(hit.text))
                 if len(w) > 2 and not w.isdigit() and "/" not in w}
        if not words:
            continue
        share = (hit.score / best) / len(words) ** 0.5
        for stem, word in words.items():
            if stem in asked:
                continue
            weight[stem] += share
            seen_in[stem] += 1
            surface.setdefault(stem, word)
    ranked = sorted((s for s in weight if min_docs <= seen_in[s] < len(top) or len(top) <= min_docs),
                    key=lambda s: (-weight[s], s))[:terms]
    if not ranked:
        return {}
    top_weight = weight[ranked[0]]
    return {surface[s]: round(weight[s] / top_weight, 3) for s in ranked}

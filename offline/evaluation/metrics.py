"""Plain metric functions (no I/O), shared by `whybot eval` and `whybot train digest`."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence


def first_hit(ranked: Sequence[str | None], relevant: Collection[str]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((i for i, item in enumerate(ranked, start=1) if item is not None and item in relevant), None)


def recall_at(ranked: Sequence[str | None], relevant: Collection[str], k: int) -> float:
    """1 when any relevant item is in the top k (success@k: one answering message is enough)."""
    rank = first_hit(ranked, relevant)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranked: Sequence[str | None], relevant: Collection[str]) -> float:
    rank = first_hit(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def dcg(gains: Iterable[float], k: int) -> float:
    """Discounted cumulative gain with exponential gain (2^g - 1), the usual choice for graded labels."""
    return sum((2.0 ** g - 1.0) / math.log2(i + 1) for i, g in enumerate(list(gains)[:k], start=1))


def ndcg_at(ranked_gains: Sequence[float], all_gains: Iterable[float], k: int) -> float | None:
    """nDCG@k of a ranking against the ideal order of every candidate; None when no candidate has
    any gain (the window cannot tell a good ranking from a bad one)."""
    ideal = dcg(sorted(all_gains, reverse=True), k)
    if ideal <= 0:
        return None
    return dcg(ranked_gains, k) / ideal


def precision_at(ranked_relevant: Sequence[bool], k: int) -> float:
    top = list(ranked_relevant[:k])
    return sum(top) / max(1, len(top))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def confusion(pairs: Iterable[tuple[str, str]], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """expected -> predicted -> count, every label present (zeros included) for a stable table."""
    counts = Counter(pairs)
    predicted = list(labels) + sorted({p for _, p in counts if p not in labels})
    return {e: {p: counts.get((e, p), 0) for p in predicted} for e in labels}

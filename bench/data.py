"""Deterministic synthetic chat histories at benchmark scale (100k to 1M messages in seconds).

Words follow a Zipf distribution over a made-up vocabulary, like real chat: a few words everywhere,
a long tail of rare ones. Queries are built from mid-frequency words of real messages, so each has
answers. This is for speed and memory measurement; offline/synth makes the realistic labelled data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ven", "dor", "ix", "al", "bur", "qua", "zen", "fi"]
COMMON = ["the", "deploy", "is", "we", "to", "and", "for", "on", "it", "a", "in", "of", "service", "fix", "test",
          "release", "customer", "please", "done", "thanks", "error", "build", "team", "today", "review"]


def vocabulary(size: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@dataclass(frozen=True, slots=True)
class Corpus:
    texts: list[str]
    channels: np.ndarray
    users: np.ndarray
    created: list[datetime]
    queries: list[str]
    channel_count: int
    private_channels: frozenset[int]


def make_corpus(n: int, *, seed: int = 7, vocab_size: int = 50_000, channels: int = 50, private: int = 5,
                queries: int = 200) -> Corpus:
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary(vocab_size, seed), dtype=object)
    lengths = rng.integers(4, 30, size=n)
    total = int(lengths.sum())
    ranks = rng.zipf(1.15, size=total)
    ranks = np.where(ranks > vocab_size, rng.integers(1, vocab_size, size=total), ranks) - 1
    words = vocab[ranks]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    texts = [" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 300 * 86_400, size=n))
    created = [start + timedelta(seconds=int(s)) for s in seconds]
    picks = rng.integers(0, n, size=queries)
    query_texts = []
    for i in picks:
        tail = [w for w in texts[i].split() if w not in COMMON][:3] or texts[i].split()[:2]
        query_texts.append(" ".join(tail))
    return Corpus(texts=texts, channels=rng.integers(0, channels, size=n), users=rng.integers(0, 500, size=n),
                  created=created, queries=query_texts, channel_count=channels,
                  private_channels=frozenset(range(channels - private, channels)))


def batches(corpus: Corpus, size: int = 20_000) -> Iterator[range]:
    for start in range(0, len(corpus.texts), size):
        yield range(start, min(start + size, len(corpus.texts)))

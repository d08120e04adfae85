"""The in-memory vectors are 8-bit: they must rank as float32 would and report cosines close to the exact ones."""

from __future__ import annotations

import numpy as np

from bot.backends.retrieval.dense import _Matrix


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_eight_bit_rows_rank_like_float32_and_keep_cosines_within_a_hundredth() -> None:
    rng = np.random.default_rng(11)
    vectors = _unit(rng, 20_000, 64)
    matrix = _Matrix()
    matrix.extend(np.arange(1, 19_001, dtype=np.int64), np.arange(19_000, dtype=np.int64) % 4, vectors[:19_000])
    for i in range(19_000, 20_000):  # the one-at-a-time path quantizes the same way
        matrix.put(i + 1, i % 4, vectors[i])
    assert matrix.vectors.dtype == np.int8 and matrix.count == 20_000
    overlap = []
    for query in _unit(rng, 50, 64):
        # Near-duplicates of a stored row, as a paraphrase's vector is of its source: a clear nearest row.
        query = query * 0.3 + vectors[int(rng.integers(20_000))]
        query /= np.linalg.norm(query)
        exact = vectors @ query
        every = np.arange(matrix.size, dtype=np.int64)
        approx = matrix.dot(query, every)
        assert np.max(np.abs(approx - exact)) < 0.01
        assert int(np.argmax(approx)) == int(np.argmax(exact))
        overlap.append(len(set(np.argsort(-approx)[:10]) & set(np.argsort(-exact)[:10])) / 10)
        few = every[::7]  # a reader who sees a seventh of the rows: scored row by row, same values
        assert np.allclose(matrix.dot(query, few), approx[few], atol=1e-6)
    assert np.mean(overlap) >= 0.9


def test_a_zero_vector_and_a_removed_row_do_not_break_the_matrix() -> None:
    matrix = _Matrix()
    matrix.put(1, 1, np.zeros(8, dtype=np.float32))
    matrix.put(2, 1, np.eye(8, dtype=np.float32)[0])
    matrix.remove(2)
    scores = matrix.dot(np.eye(8, dtype=np.float32)[0], np.arange(2, dtype=np.int64))
    assert scores.tolist() == [0.0, 1.0]
    assert not matrix.visible(frozenset({1}))[1]


def test_appending_in_batches_retires_edited_rows_and_never_rewrites_old_ones() -> None:
    """Loading and the backfill append whole batches; an edit appends a new row and retires the old one, and a
    copy of the arrays taken before (the approximate index's build, in a thread) keeps reading the same rows."""
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 10_000, 16)
    matrix = _Matrix()
    matrix.extend(np.arange(1, 5_001, dtype=np.int64), np.zeros(5_000, np.int64), vectors[:5_000])
    before, size = matrix.vectors, matrix.size
    snapshot = before[:size].copy()
    for lo in range(5_000, 10_000, 1_000):  # grows past its capacity more than once
        matrix.extend(np.arange(lo + 1, lo + 1_001, dtype=np.int64), np.ones(1_000, np.int64), vectors[lo:lo + 1_000])
    matrix.extend(np.array([7, 8], np.int64), np.array([2, 2], np.int64), vectors[:2])  # two edits
    assert (before[:size] == snapshot).all() and (matrix.vectors[:size] == snapshot).all()
    assert matrix.size == 10_002 and matrix.count == 10_000
    assert not matrix.alive[6] and not matrix.alive[7] and matrix.row_of[7] == 10_000
    assert matrix.visible(frozenset({2})).sum() == 2
    query = vectors[0]
    assert np.argmax(matrix.dot(query, np.arange(matrix.size, dtype=np.int64))) in (0, 10_000)
    matrix.extend(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 16), np.float32))  # nothing new
    matrix.put(99_999, 0, np.ones(8, np.float32))  # another model's size: ignored
    assert matrix.size == 10_002

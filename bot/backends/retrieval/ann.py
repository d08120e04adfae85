"""An approximate nearest-neighbour index over one large tenant's vectors (faiss IVF with 8-bit codes).

The exact scan of a million 128-dimensional rows costs about 30 ms a question on one core, more than the whole
ask turn's budget (BENCHMARKS.md 3e). An inverted file groups the vectors around about sqrt(n) centroids and scans
only the lists nearest the question: a sixteenth of them, under 2 ms at a million rows. It only proposes
candidates. The caller scores them exactly against its own matrix, so a source's cosine in the Why? is the same
whichever way it was found. It never decides visibility on its own: the search passes the reader's visible rows as
a bitmap, and the caller keeps only visible rows.

Ids in the index are the matrix's row numbers. Rows are never rewritten (an edit appends a new row and retires the
old one), so the index stays correct as the matrix grows: new rows are added as they come, retired ones are masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from bot.backends.embeddings import Vectors

MIN_ROWS = 100_000  # below this the exact scan takes about 3 ms: not worth an index
PROBED_SHARE = 16  # 1/16 of the lists: 0.97 of the exact top 10 proposed, 0.94 of the top 80 (BENCHMARKS 3e)
TRAINING_PER_LIST = 40  # faiss's own guidance is 30-256 points per centroid
REBUILD_GROWTH = 2.0  # centroids trained on n rows still serve 2n; beyond that the lists get long
ADD_BLOCK = 65_536  # rows turned back into float32 at a time when adding (bounded memory)
OVERSAMPLE = 4  # candidates asked per wanted row: the exact rescoring reorders them


def _floats(vectors: npt.NDArray[np.int8], scales: npt.NDArray[np.float32]) -> Vectors:
    return np.ascontiguousarray(vectors.astype(np.float32) * scales[:, None])


@dataclass
class ApproximateIndex:
    index: faiss.IndexIVFScalarQuantizer
    lists: int
    probes: int
    rows: int  # matrix rows [0, rows) are in the index
    trained_on: int  # matrix size when the centroids were trained

    @classmethod
    def build(cls, vectors: npt.NDArray[np.int8], scales: npt.NDArray[np.float32], size: int,
              *, seed: int = 0) -> ApproximateIndex:
        """Train and fill from the first `size` rows. Blocking (about 6 s at a million rows): call it in a thread;
        faiss releases the GIL, so the event loop keeps serving meanwhile."""
        # One question's search is too small to share between cores: on two OpenMP threads it took 2.7 ms at a
        # million rows, on one 1.6 ms, and the other core belongs to other turns. Process-wide, and only faiss's.
        faiss.omp_set_num_threads(1)
        dim = int(vectors.shape[1])
        lists = max(1, int(math.sqrt(size)))
        sample = np.sort(np.random.default_rng(seed).choice(size, min(size, TRAINING_PER_LIST * lists),
                                                            replace=False))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.train(_floats(vectors[sample], scales[sample]))
        built = cls(index, lists, max(1, lists // PROBED_SHARE), 0, size)
        built.extend(vectors, scales, size)
        return built

    def extend(self, vectors: npt.NDArray[np.int8], scales: npt.NDArray[np.float32], size: int) -> None:
        """Add rows [self.rows, size): the ones the matrix gained since the index last looked."""
        for start in range(self.rows, size, ADD_BLOCK):
            stop = min(start + ADD_BLOCK, size)
            self.index.add_with_ids(_floats(vectors[start:stop], scales[start:stop]),
                                    np.arange(start, stop, dtype=np.int64))
        self.rows = max(self.rows, size)

    def due(self, size: int) -> bool:
        """Retrain once the matrix has outgrown the centroids."""
        return size >= REBUILD_GROWTH * self.trained_on

    def candidates(self, query: Vectors, visible: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
        """Up to k visible rows near `query`, from the probed lists only (the caller catches the index up with the
        matrix first, so every row is in it)."""
        bits = np.packbits(visible[:self.rows], bitorder="little")  # referenced until the search returns
        params = faiss.SearchParametersIVF()
        params.nprobe = self.probes
        params.sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        _, found = self.index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        rows: npt.NDArray[np.int64] = found[0][found[0] >= 0]
        return rows

"""The simple session baselines over SR-GNN-format data, in numpy (batched, dense score
rows of shape (B, N + 1), column 0 the padding item, never recommended).

* ``popularity``: how often each item occurs in the training sessions;
* ``item_knn``: cosine similarity of the last item to every item over the training
  sessions' binary session-item matrix X: co(l, j) / sqrt(n_l n_j) (Sarwar et al. 2001 as
  used in the session-based literature, e.g. Hidasi et al. 2016);
* ``session_knn``: V-SKNN (Ludewig & Jannach 2018): query weights w(s_p) = p / L (an
  item seen twice keeps its latest weight), sim(s, n) = sum_{i in s and n} w(i) /
  sqrt(|s| |n|) (cosine with linear position decay), the ``neighbours`` most similar
  training sessions (ties: the more recent session first), score(i) = sum over
  neighbours containing i of sim; computed by :mod:`encore.recall.session.knn` over the
  sessions that share an item with the query only (no dense (B, S) matrix);
* ``transition``: first-order transition counts T[a, b] of a -> b in the training
  sessions, the row of the last item;
* ``hybrid``: session-kNN and the last item's transitions, each divided by its row
  maximum, added with equal weight (the README's "kNN + last-item transition hybrid").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encore.recall.session.knn import KnnParams, NeighbourIndex, coo_dense, expand_rows
from encore.recall.sparse import Csr


def _normalise_rows(scores: np.ndarray) -> np.ndarray:
    top = scores.max(axis=1, keepdims=True)
    return np.divide(scores, top, out=np.zeros_like(scores), where=top > 0)


@dataclass
class SessionBaselines:
    """The fitted training statistics (see the module docstring)."""

    num_items: int
    sessions: Csr  # (S, N + 1) binary session-item
    item_sessions: Csr  # (N + 1, S)
    transitions: Csr  # (N + 1, N + 1) counts
    counts: np.ndarray  # (N + 1,) item occurrences
    neighbours: int = 100
    index: NeighbourIndex | None = None
    cooc: Csr | None = None  # item co-occurrence, built on first use by item_knn

    @classmethod
    def fit(cls, sessions: Sequence[Sequence[int]], num_items: int, neighbours: int = 100) -> "SessionBaselines":
        n = num_items + 1
        lengths = np.fromiter(map(len, sessions), np.int64, len(sessions))
        flat = np.fromiter((i for s in sessions for i in s), np.int64, int(lengths.sum()))
        rows = np.repeat(np.arange(len(sessions)), lengths)
        binary = Csr.from_coo(rows, flat, np.ones(len(flat)), len(sessions), n)
        binary = Csr(binary.indptr, binary.indices, np.ones_like(binary.data), n)
        nxt = np.ones(len(flat), bool)
        nxt[np.cumsum(lengths) - 1] = False  # no transition from a session's last click
        src = np.flatnonzero(nxt)
        transitions = Csr.from_coo(flat[src], flat[src + 1], np.ones(len(src)), n, n)
        counts = np.bincount(flat, minlength=n).astype(np.float64)
        counts[0] = 0
        return cls(num_items, binary, binary.transpose(), transitions, counts, neighbours,
                   NeighbourIndex.fit(sessions, num_items))

    # -- scores -------------------------------------------------------------------------
    def popularity(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        return np.repeat(self.counts[None, :], len(seqs), axis=0)

    def _rows(self, matrix: Csr, keys: np.ndarray, weights: np.ndarray, n_cols: int,
              row_of: np.ndarray, n_rows: int) -> np.ndarray:
        """Dense (n_rows, n_cols): sum over k of weights[k] * matrix[keys[k]] into row row_of[k]."""
        starts, ends = matrix.indptr[keys], matrix.indptr[keys + 1]
        counts = ends - starts
        total = int(counts.sum())
        out = np.zeros(n_rows * n_cols, np.float64)
        if total:
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            entries = np.repeat(starts, counts) + offsets
            flat = np.repeat(row_of, counts) * n_cols + matrix.indices[entries]
            out += np.bincount(flat, weights=np.repeat(weights, counts) * matrix.data[entries],
                               minlength=n_rows * n_cols)
        return out.reshape(n_rows, n_cols)

    def cooccurrence(self) -> Csr:
        """(N + 1, N + 1) how many training sessions hold both items (computed once)."""
        if self.cooc is None:
            sizes = np.diff(self.sessions.indptr)
            owner, entries = expand_rows(self.sessions.indptr, np.repeat(np.arange(len(sizes)), sizes))
            n = self.num_items + 1
            # every ordered pair of a session's distinct items: entry e pairs with each entry of its session
            self.cooc = Csr.from_coo(self.sessions.indices[owner], self.sessions.indices[entries],
                                     np.ones(len(entries)), n, n)
        return self.cooc

    def item_knn(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        last = np.array([s[-1] for s in seqs], np.int64)
        co = self.cooccurrence()
        owner, entries = expand_rows(co.indptr, last)
        dense = coo_dense(owner, co.indices[entries], co.data[entries].astype(np.float64), len(last),
                          self.num_items + 1)
        norm = np.sqrt(np.maximum(self.counts_sessions, 1.0))
        return dense / norm[None, :] / norm[last][:, None]

    @property
    def counts_sessions(self) -> np.ndarray:
        return np.diff(self.item_sessions.indptr).astype(np.float64)

    def session_knn(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        if self.index is None:
            raise ValueError("SessionBaselines built without its NeighbourIndex: use SessionBaselines.fit")
        return self.index.scores(seqs, KnnParams(k=self.neighbours)).astype(np.float64)

    def transition(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        last = np.array([s[-1] for s in seqs], np.int64)
        return self._rows(self.transitions, last, np.ones(len(last)), self.num_items + 1,
                          np.arange(len(last)), len(last))

    def hybrid(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        return _normalise_rows(self.session_knn(seqs)) + _normalise_rows(self.transition(seqs))

    def scores(self, method: str, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        if method not in METHODS:
            raise ValueError(f"unknown baseline {method!r}; known: {METHODS}")
        out = getattr(self, method)(seqs)
        out[:, 0] = -np.inf
        return out


METHODS = ("popularity", "item_knn", "session_knn", "transition", "hybrid")

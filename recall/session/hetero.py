"""The heterogeneous graph that gives the session GNN its initial node representations.

The paper (Emotion-enhanced heterogeneous GNN for music session-based recommendation)
builds a user-track-emotion graph from all listeners' history and initialises each
session node from its neighbourhood in it. Here the graph has typed relations, each a
row-normalised sparse matrix A_r of shape (N + 1, M_r) from tracks to the relation's
nodes (row 0, the padding item, is empty):

* ``cooccur`` (track -> track, M = N + 1): tracks played within ``window`` clicks of each
  other in the training sessions, the ``top_n`` most frequent per track. This is how
  Nowplaying is handled: its SR-GNN split has no user ids, so the cross-session signal a
  listener node would carry comes from item-item co-occurrence across all sessions;
* ``listener`` (track -> listener, M = number of listeners): who played the track, the
  ``top_n`` most frequent listeners (the world only; anonymous sessions add no edge);
* ``emotion`` (track -> emotion region, M = grid^2): the cell of a ``grid`` x ``grid``
  partition of the (valence, arousal) square [-1, 1]^2 the track lies in (when emotion
  vectors are given; valence and arousal are the first two columns).

The model reads, per batch, the rows of the batch's nodes (:meth:`HeteroGraph.rows`) as
coordinate lists and multiplies them with the relation's node table (the item embedding
for ``cooccur``, an own embedding table otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encore.recall.sparse import Csr

RELATIONS = ("cooccur", "listener", "emotion")


def _row_normalised_top(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, top_n: int) -> Csr:
    """Counts of (row, col) pairs, the ``top_n`` largest per row, each row summing to 1."""
    from encore.recall.sparse import top_k_per_row

    counted = Csr.from_coo(rows, cols, np.ones(len(rows)), n_rows, n_cols)
    r, c, v = counted.row_coo()
    r, c, v = top_k_per_row(r, c, v.astype(np.float64), n_rows, top_n)
    total = np.bincount(r, weights=v, minlength=n_rows)
    return Csr.from_coo(r, c, v / total[r], n_rows, n_cols)


@dataclass(frozen=True)
class HeteroGraph:
    """Relation name -> row-normalised (N + 1, M_r) matrix."""

    relations: dict[str, Csr]

    @classmethod
    def build(cls, sessions: Sequence[Sequence[int]], num_items: int, *, users: np.ndarray | None = None,
              emotion: np.ndarray | None = None, window: int = 3, top_n: int = 20, grid: int = 3) -> "HeteroGraph":
        n = num_items + 1
        src, dst = [], []
        for s in sessions:
            a = np.asarray(s, np.int64)
            for d in range(1, window + 1):
                if len(a) > d:
                    src.append(a[:-d])
                    dst.append(a[d:])
        src_a = np.concatenate(src) if src else np.zeros(0, np.int64)
        dst_a = np.concatenate(dst) if dst else np.zeros(0, np.int64)
        pair = src_a != dst_a
        rows = np.concatenate([src_a[pair], dst_a[pair]])  # co-occurrence is symmetric
        cols = np.concatenate([dst_a[pair], src_a[pair]])
        relations = {"cooccur": _row_normalised_top(rows, cols, n, n, top_n)}
        if users is not None:
            users = np.asarray(users, np.int64)
            lengths = np.fromiter(map(len, sessions), np.int64, len(sessions))
            items = np.fromiter((i for s in sessions for i in s), np.int64, int(lengths.sum()))
            who = np.repeat(users, lengths)
            known = who >= 0
            if known.any():
                relations["listener"] = _row_normalised_top(items[known], who[known], n, int(who.max()) + 1, top_n)
        if emotion is not None:
            cell = np.clip(((np.asarray(emotion[:, :2]) + 1.0) / 2.0 * grid).astype(np.int64), 0, grid - 1)
            region = cell[:, 0] * grid + cell[:, 1]
            items = np.arange(1, n)
            relations["emotion"] = Csr.from_coo(items, region[1:], np.ones(n - 1), n, grid * grid)
        return cls(relations)

    @property
    def sizes(self) -> dict[str, int]:
        return {name: m.n_cols for name, m in self.relations.items()}

    def rows(self, name: str, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coordinates (row, col, weight) of A_r[nodes.ravel()]: row = position in the
        flattened node array (0 .. nodes.size - 1)."""
        m = self.relations[name]
        keys = np.asarray(nodes, np.int64).ravel()
        starts, counts = m.indptr[keys], m.indptr[keys + 1] - m.indptr[keys]
        total = int(counts.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        entries = np.repeat(starts, counts) + offsets
        return np.repeat(np.arange(len(keys)), counts), m.indices[entries], m.data[entries]

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, m in self.relations.items():
            out[f"het_{name}_indptr"] = m.indptr
            out[f"het_{name}_indices"] = m.indices
            out[f"het_{name}_data"] = m.data
            out[f"het_{name}_cols"] = np.array([m.n_cols], np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "HeteroGraph":
        relations = {}
        for name in RELATIONS:
            if f"het_{name}_indptr" in arrays:
                relations[name] = Csr(arrays[f"het_{name}_indptr"], arrays[f"het_{name}_indices"],
                                      arrays[f"het_{name}_data"], int(arrays[f"het_{name}_cols"][0]))
        return cls(relations)

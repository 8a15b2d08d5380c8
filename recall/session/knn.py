"""Stronger simple session methods, in batched numpy over coordinate lists (no dense
(B, S) session matrix is ever built: only the training sessions that share an item with
a query are touched).

* :class:`NeighbourIndex`: the training sessions' distinct items with the position of
  each item's last occurrence (1-based), the inverted index item -> (session,
  position), the sessions' sizes and each item's IDF.
* :meth:`NeighbourIndex.scores` with a :class:`KnnParams`: one session-kNN family that
  covers

  - **V-SKNN** (Ludewig & Jannach 2018, "Evaluation of session-based recommendation
    algorithms", UMUAI): query item weights p / L (linear position decay), cosine
    similarity sum_{i in s and n} w(i) / sqrt(|s| |n|), the ``k`` nearest sessions,
    score(i) = sum over neighbours containing i of sim, optionally times
    ``1 / (L - p* + 1)`` where p* is the query position of the most recent query item
    the neighbour holds (``match_weight="div"``) and times ``1 + idf_weight * idf(i)``
    with idf(i) = log(S / df(i)) (session-rec's ``idf_weighting``);
  - **STAN** (Garg et al. 2019, "Sequence and Time Aware Neighborhood for Session-based
    Recommendations", SIGIR): (a) query item weights exp(-(L - p) / lambda1);
    (b) the neighbour's similarity times exp(-age / lambda2), age = how many training
    sessions came after it (Nowplaying has no timestamps here, and the sessions are in
    time order, so the order stands in for the time); (c) inside a neighbour, item i
    scores sim * exp(-|pos(i) - pos(match)| / lambda3), match = the neighbour's copy of
    the most recent query item it holds, optionally only items after the match
    (``after_only``).

  Positions are those of each item's last occurrence (in the query and in the
  neighbour), so a repeated item counts once, as in session-rec.
* :meth:`NeighbourIndex.sequential_rules`: **SR** (Ludewig & Jannach 2018, after Kamehkhosh
  et al. 2017): a rule a -> b for every b up to ``steps`` clicks after a in a training
  session, weighted 1 / gap; a query scores from its last item's rules.

Every scorer returns a dense float32 (B, N + 1) score array, column 0 the padding item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np

from encore.recall.sparse import Csr


@dataclass(frozen=True)
class KnnParams:
    """One session-kNN method (see the module docstring). ``lambda1=None``: linear
    query decay p / L (V-SKNN); ``lambda2=None``: no recency; ``lambda3=None``: no
    in-neighbour position weight."""

    k: int = 100
    lambda1: Optional[float] = None
    lambda2: Optional[float] = None
    lambda3: Optional[float] = None
    after_only: bool = False
    match_weight: Optional[str] = None  # None | "div"
    idf_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        for name in ("lambda1", "lambda2", "lambda3"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be > 0 or None, got {v}")
        if self.match_weight not in (None, "div"):
            raise ValueError(f"match_weight must be None or 'div', got {self.match_weight!r}")
        if self.after_only and self.lambda3 is None:
            raise ValueError("after_only needs lambda3 (the in-neighbour position weight)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def expand_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which of ``rows`` each entry comes from, the entry's index) for every entry of
    the CSR rows ``rows``."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(rows)), counts)
    entries = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return owner, entries


def coo_dense(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    out = np.zeros((n_rows, n_cols), np.float32)
    np.add.at(out.reshape(-1), rows * n_cols + cols, vals.astype(np.float32))
    return out


@dataclass
class NeighbourIndex:
    """The training sessions for session-kNN and sequential rules (module docstring).

    ``sess_ptr`` (S + 1,), ``sess_items`` / ``sess_pos`` (nnz,): each session's
    distinct items and the 1-based position of the last occurrence; ``item_ptr``
    (N + 2,), ``item_sess`` / ``item_pos`` (nnz,): the inverted index; ``sizes`` (S,)
    distinct items per session; ``idf`` (N + 1,)."""

    num_items: int
    sess_ptr: np.ndarray
    sess_items: np.ndarray
    sess_pos: np.ndarray
    item_ptr: np.ndarray
    item_sess: np.ndarray
    item_pos: np.ndarray
    sizes: np.ndarray
    idf: np.ndarray
    flat: np.ndarray  # every click, in order (for the sequential rules)
    lengths: np.ndarray  # (S,) clicks per session

    @classmethod
    def fit(cls, sessions: Sequence[Sequence[int]], num_items: int) -> "NeighbourIndex":
        n = num_items + 1
        lengths = np.fromiter(map(len, sessions), np.int64, len(sessions))
        flat = np.fromiter((i for s in sessions for i in s), np.int64, int(lengths.sum()))
        if len(flat) and (flat.min() < 1 or flat.max() > num_items):
            raise ValueError(f"item ids must be in 1..{num_items}")
        sess = np.repeat(np.arange(len(sessions)), lengths)
        pos = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
        # the last occurrence of each (session, item): sort by session, item, position
        order = np.lexsort((pos, flat, sess))
        s_o, i_o = sess[order], flat[order]
        last = np.ones(len(order), bool)
        last[:-1] = (s_o[1:] != s_o[:-1]) | (i_o[1:] != i_o[:-1])
        keep = np.sort(order[last])  # back in click order
        k_sess, k_item, k_pos = sess[keep], flat[keep], pos[keep]
        sizes = np.bincount(k_sess, minlength=len(sessions)).astype(np.int64)
        sess_ptr = np.zeros(len(sessions) + 1, np.int64)
        np.cumsum(sizes, out=sess_ptr[1:])
        by_item = np.lexsort((k_sess, k_item))
        df = np.bincount(k_item, minlength=n)
        item_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(df, out=item_ptr[1:])
        idf = np.log(max(len(sessions), 1) / np.maximum(df, 1)).astype(np.float64)
        idf[0] = 0.0
        return cls(num_items, sess_ptr, k_item, k_pos, item_ptr, k_sess[by_item], k_pos[by_item], sizes, idf,
                   flat, lengths)

    @property
    def n_sessions(self) -> int:
        return len(self.sizes)

    # -- session-kNN ----------------------------------------------------------------------
    @staticmethod
    def query_items(seqs: Sequence[Sequence[int]], lambda1: Optional[float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, item, last position p, weight, L per row): each query's distinct items,
        weight p / L (``lambda1=None``) or exp(-(L - p) / lambda1)."""
        rows: list[int] = []
        items: list[int] = []
        positions: list[int] = []
        for b, s in enumerate(seqs):
            latest: dict[int, int] = {}
            for at, item in enumerate(s, 1):
                latest[int(item)] = at
            rows.extend([b] * len(latest))
            items.extend(latest)
            positions.extend(latest.values())
        r = np.asarray(rows, np.int64)
        lengths = np.fromiter(map(len, seqs), np.float64, len(seqs))
        p = np.asarray(positions, np.float64)
        big_l = lengths[r]
        w = p / big_l if lambda1 is None else np.exp(-(big_l - p) / lambda1)
        return r, np.asarray(items, np.int64), p.astype(np.int64), w, lengths

    def neighbours(self, seqs: Sequence[Sequence[int]], params: KnnParams
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` nearest training sessions of each query, as flat arrays
        (row, session, similarity, packed match) ordered by row then similarity
        (descending; ties: the more recent session first). The match packs the query
        position of the most recent query item the neighbour holds and that item's
        position in the neighbour: ``qpos * M + npos``, M = ``self.pack``."""
        qb, qi, qp, qw, _ = self.query_items(seqs, params.lambda1)
        owner, entries = expand_rows(self.item_ptr, qi)
        eb = qb[owner]
        es = self.item_sess[entries]
        key = eb * np.int64(self.n_sessions) + es
        order = np.argsort(key, kind="stable")
        key_s = key[order]
        if not len(key_s):
            e = np.zeros(0, np.int64)
            return e, e, np.zeros(0), e
        starts = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]])
        sim = np.add.reduceat(qw[owner][order], starts)
        packed = qp[owner][order] * self.pack + self.item_pos[entries][order]
        match = np.maximum.reduceat(packed, starts)
        ub = key_s[starts] // self.n_sessions
        us = key_s[starts] % self.n_sessions
        n_query = np.bincount(qb, minlength=len(seqs)).astype(np.float64)
        sim = sim / np.sqrt(n_query[ub] * self.sizes[us])
        if params.lambda2 is not None:
            sim = sim * np.exp(-(self.n_sessions - 1 - us) / params.lambda2)
        top = np.lexsort((-us, -sim, ub))  # by row, similarity descending, recent first
        ub, us, sim, match = ub[top], us[top], sim[top], match[top]
        first = np.searchsorted(ub, ub, side="left")
        keep = (np.arange(len(ub)) - first < params.k) & (sim > 0)
        return ub[keep], us[keep], sim[keep], match[keep]

    @property
    def pack(self) -> int:
        return int(self.sess_pos.max(initial=0)) + 1

    def knn_coo(self, seqs: Sequence[Sequence[int]], params: KnnParams
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, item, score) entries, one per (neighbour, item): sum them for the scores."""
        nb, ns, nsim, match = self.neighbours(seqs, params)
        lengths = np.fromiter(map(len, seqs), np.float64, len(seqs))
        weight = nsim
        if params.match_weight == "div":  # 1 / (how far back in the query the match is + 1)
            weight = weight / (lengths[nb] - match // self.pack + 1)
        owner, entries = expand_rows(self.sess_ptr, ns)
        items = self.sess_items[entries]
        vals = weight[owner]
        if params.lambda3 is not None:
            gap = self.sess_pos[entries] - (match % self.pack)[owner]
            vals = vals * np.exp(-np.abs(gap) / params.lambda3)
            if params.after_only:
                vals = np.where(gap > 0, vals, 0.0)
        if params.idf_weight:
            vals = vals * (1.0 + params.idf_weight * self.idf[items])
        return nb[owner], items, vals

    def scores(self, seqs: Sequence[Sequence[int]], params: KnnParams) -> np.ndarray:
        """Dense float32 (B, N + 1) session-kNN scores (column 0 zero)."""
        rows, items, vals = self.knn_coo(seqs, params)
        return coo_dense(rows, items, vals, len(seqs), self.num_items + 1)

    # -- sequential rules -----------------------------------------------------------------
    def sequential_rules(self, steps: int = 10) -> Csr:
        """(N + 1, N + 1) rule weights: a -> b summed over every b 1..``steps`` clicks
        after a in a training session, each weighted 1 / gap."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        n = self.num_items + 1
        session_end = np.repeat(np.cumsum(self.lengths), self.lengths)  # exclusive end of each click's session
        idx = np.arange(len(self.flat))
        src: list[np.ndarray] = []
        dst: list[np.ndarray] = []
        val: list[np.ndarray] = []
        for gap in range(1, steps + 1):
            ok = idx + gap < session_end
            src.append(self.flat[ok])
            dst.append(self.flat[idx[ok] + gap])
            val.append(np.full(int(ok.sum()), 1.0 / gap))
        return Csr.from_coo(np.concatenate(src), np.concatenate(dst), np.concatenate(val), n, n)


def rule_coo(rules: Csr, seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, item, weight): the rules of each query's last item."""
    last = np.fromiter((s[-1] for s in seqs), np.int64, len(seqs))
    owner, entries = expand_rows(rules.indptr, last)
    return owner, rules.indices[entries], rules.data[entries].astype(np.float64)


def rule_scores(rules: Csr, seqs: Sequence[Sequence[int]]) -> np.ndarray:
    """Dense float32 (B, N + 1): the rules of each query's last item."""
    return coo_dense(*rule_coo(rules, seqs), len(seqs), rules.n_cols)


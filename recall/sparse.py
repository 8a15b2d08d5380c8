"""Batched sparse algebra in plain numpy (scipy is not in the lock): a CSR matrix,
(batch of sparse rows) x CSR products, and top-k per row. Every function works on whole
arrays (coordinate lists), never on one row at a time.

Shapes: a *batch* is a coordinate list ``(rows, cols, vals)`` of a (B, n) matrix; a
``Csr`` is an (n, m) matrix with ``indptr`` (n + 1,), ``indices`` and ``data`` (nnz,).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encore.recall.query import Query, sequence_batch


@dataclass(frozen=True)
class Csr:
    """An (n_rows, n_cols) sparse matrix in compressed sparse row form."""

    indptr: np.ndarray  # int64 (n_rows + 1,)
    indices: np.ndarray  # int64 (nnz,), sorted within each row
    data: np.ndarray  # float32 (nnz,)
    n_cols: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                 n_rows: int, n_cols: int) -> "Csr":
        """Duplicates (same row and col) are summed."""
        rows, cols, vals = sum_duplicates(rows, cols, vals, n_cols)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return cls(indptr, cols.astype(np.int64), vals.astype(np.float32), int(n_cols))

    def transpose(self) -> "Csr":
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        return Csr.from_coo(self.indices, rows, self.data, self.n_cols, self.n_rows)

    def row_coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr)), self.indices, self.data


def sum_duplicates(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                   n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates sorted by (row, col) with duplicate entries summed."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if not len(rows):
        return rows, cols, np.asarray(vals, dtype=np.float64)
    key = rows * np.int64(n_cols) + cols
    unique, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=np.asarray(vals, dtype=np.float64), minlength=len(unique))
    return unique // n_cols, unique % n_cols, summed


def batch_times_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                    matrix: Csr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, n) batch times the (n, m) ``matrix``: a (B, m) batch, duplicates summed."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    starts, ends = matrix.indptr[cols], matrix.indptr[cols + 1]
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = np.repeat(starts, counts) + offsets
    out_rows = np.repeat(rows, counts)
    out_vals = np.repeat(np.asarray(vals, dtype=np.float64), counts) * matrix.data[entries]
    return sum_duplicates(out_rows, matrix.indices[entries], out_vals, matrix.n_cols)


def top_k_index(rows: np.ndarray, vals: np.ndarray, n_rows: int, k: int, tie: np.ndarray,
                keep_nonpositive: bool = False) -> np.ndarray:
    """Positions of the ``k`` largest entries of each row of a batch, ordered by (row,
    value descending, ``tie`` ascending); entries <= 0 are dropped unless
    ``keep_nonpositive``."""
    rows = np.asarray(rows, dtype=np.int64)
    vals = np.asarray(vals)
    candidates = np.arange(len(rows)) if keep_nonpositive else np.flatnonzero(vals > 0)
    order = candidates[np.lexsort((tie[candidates], -vals[candidates], rows[candidates]))]
    sorted_rows = rows[order]
    first = np.searchsorted(sorted_rows, np.arange(n_rows))
    rank = np.arange(len(order)) - first[sorted_rows] if len(order) else np.zeros(0, np.int64)
    return order[rank < k]


def top_k_per_row(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, k: int,
                  tie: np.ndarray | None = None, keep_nonpositive: bool = False,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`top_k_index` applied: the kept (rows, cols, vals), ``tie`` defaulting to
    the column."""
    pick = top_k_index(rows, vals, n_rows, k, cols if tie is None else tie, keep_nonpositive)
    return np.asarray(rows)[pick], np.asarray(cols)[pick], np.asarray(vals)[pick]


def batch_times_csr_top_k(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, matrix: Csr, n_rows: int,
                          k: int, max_entries: int = 4_000_000, max_rows: int = 512,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``top_k_per_row(*batch_times_csr(rows, cols, vals, matrix), n_rows, k)`` (ties by
    column, entries <= 0 dropped) without sorting the product: the rows of the (B, n)
    batch are taken in chunks (at most ``max_rows`` rows, and about ``max_entries``
    expanded products), each chunk's (C, m) scores summed densely by one ``bincount``
    and cut by a per-row k-th value threshold; only the <= ~k survivors per row are
    sorted. Exactly equal to the sparse path: the batch is summed in the same order
    (``sum_duplicates`` first, then each product entry in input order), so every float
    is the same. ``rows``/``cols``/``vals``: a (B, n) batch; returns (rows, cols, vals)
    ordered by (row, value descending, column)."""
    rows, cols, vals = sum_duplicates(rows, cols, vals, matrix.n_rows)
    counts = matrix.indptr[cols + 1] - matrix.indptr[cols]
    per_row = np.bincount(rows, weights=counts, minlength=n_rows).astype(np.int64)
    first_entry = np.searchsorted(rows, np.arange(n_rows + 1))  # rows are sorted
    out_r, out_c, out_v = [], [], []
    lo = 0
    while lo < n_rows:
        # the next chunk: up to max_rows rows holding about max_entries products (at least one row)
        budget = np.cumsum(per_row[lo:lo + max_rows])
        hi = lo + max(1, int(np.searchsorted(budget, max_entries, side="right")))
        a, b = first_entry[lo], first_entry[hi]
        scores = batch_times_dense(rows[a:b] - lo, cols[a:b], vals[a:b], matrix, hi - lo)
        r, c, v = dense_top_k(scores, k)
        out_r.append(r + lo)
        out_c.append(c)
        out_v.append(v)
        lo = hi
    if not out_r:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_v)


def batch_times_dense(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, matrix: Csr,
                      n_rows: int) -> np.ndarray:
    """(B, n) batch (sorted by (row, col), no duplicates) times the (n, m) ``matrix`` as
    a dense float64 (B, m) array, each cell summed in the order of the sparse path."""
    starts, ends = matrix.indptr[cols], matrix.indptr[cols + 1]
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros((n_rows, matrix.n_cols))
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = np.repeat(starts, counts) + offsets
    key = np.repeat(rows * np.int64(matrix.n_cols), counts) + matrix.indices[entries]
    weights = np.repeat(np.asarray(vals, dtype=np.float64), counts) * matrix.data[entries]
    return np.bincount(key, weights=weights, minlength=n_rows * matrix.n_cols).reshape(n_rows, matrix.n_cols)


def dense_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest positive entries of each row of a dense (B, m) array as
    (rows, cols, vals) ordered by (row, value descending, column): a k-th value
    threshold per row (``np.partition``, O(B m)) keeps every entry that can be in the
    top k (ties at the threshold included), and only those are sorted."""
    n_rows, m = scores.shape
    if n_rows == 0 or k <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=scores.dtype)
    keep = scores > 0
    if k < m:
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
        keep &= scores >= kth[:, None]
    r, c = np.nonzero(keep)
    v = scores[r, c]
    order = np.lexsort((c, -v, r))
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    pick = rank < k
    return r[pick].astype(np.int64), c[pick].astype(np.int64), v[pick]


def split_rows(rows: np.ndarray, n_rows: int, *arrays: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Per row of a batch sorted by row: the slices of ``arrays`` (one tuple per row)."""
    bounds = np.searchsorted(rows, np.arange(n_rows + 1))
    return [tuple(a[bounds[i]:bounds[i + 1]] for a in arrays) for i in range(n_rows)]


@dataclass(frozen=True)
class TrackIndex:
    """Catalog track ids (sorted, unique) <-> dense column numbers 0..n-1."""

    track_ids: np.ndarray  # int64 (n,)

    @classmethod
    def of(cls, track_ids: np.ndarray) -> "TrackIndex":
        return cls(np.unique(np.asarray(track_ids, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.track_ids)

    def columns(self, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, known): the column of each id and whether the catalog has it."""
        track_ids = np.asarray(track_ids, dtype=np.int64)
        if not len(self.track_ids):
            return np.zeros(len(track_ids), np.int64), np.zeros(len(track_ids), bool)
        pos = np.clip(np.searchsorted(self.track_ids, track_ids), 0, len(self.track_ids) - 1)
        return pos, self.track_ids[pos] == track_ids

    def heard(self, queries: Sequence[Query]) -> np.ndarray:
        """Keys ``row * n + column`` of every catalog track each query has played,
        hearted, skipped, disliked or has in its session (sorted, unique)."""
        n = len(self)
        keys = []
        for field in ("play_track_ids", "heart_track_ids", "skip_track_ids", "dislike_track_ids",
                      "session.track_ids"):
            rows, tracks, _ = sequence_batch(queries, field)
            cols, known = self.columns(tracks)
            keys.append(rows[known] * n + cols[known])
        return np.unique(np.concatenate(keys))

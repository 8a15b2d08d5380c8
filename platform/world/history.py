"""What each listener has played and hearted so far in the simulation.

Stored as sorted ``row * n_tracks + track`` keys with play counts, so lookups and
weighted draws over a whole batch of sessions are vectorised ``searchsorted`` calls.
It feeds the ``familiarity`` part of the utility (re-playing favourites), the logging
policy's history candidates (what makes repeat listening possible at all) and its
discovery sources (which skip what was played). It starts from each listener's past
before day 0 (past.py), so day 0 is not a first day for anyone who signed up earlier.
"""

from __future__ import annotations

import numpy as np


class ListeningHistory:
    def __init__(self, n_tracks: int) -> None:
        self.n_tracks = n_tracks
        self._keys = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)
        self._hearted = np.empty(0, dtype=np.int64)
        self._cumulative: np.ndarray | None = None  # of sqrt(counts), for sample()

    def _key(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return rows.astype(np.int64) * self.n_tracks + tracks

    def play_counts(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """How many times each (row, track) was played before."""
        return _lookup(self._keys, self._counts, self._key(rows, tracks))

    def is_hearted(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return _lookup(self._hearted, np.ones_like(self._hearted), self._key(rows, tracks)) > 0

    def record_plays(self, rows: np.ndarray, tracks: np.ndarray,
                     counts: np.ndarray | None = None) -> None:
        """Add ``counts`` plays (1 each if None) of each (row, track); merges into the
        sorted keys in O(history + new log new)."""
        keys, inverse = np.unique(self._key(rows, tracks), return_inverse=True)
        added = np.bincount(inverse, weights=None if counts is None else counts,
                            minlength=len(keys)).astype(np.int64)
        at = np.searchsorted(self._keys, keys)
        known = at < len(self._keys)
        known[known] = self._keys[at[known]] == keys[known]
        self._counts[at[known]] += added[known]
        self._keys = np.insert(self._keys, at[~known], keys[~known])
        self._counts = np.insert(self._counts, at[~known], added[~known])
        self._cumulative = None

    def record_hearts(self, rows: np.ndarray, tracks: np.ndarray, hearted: bool) -> None:
        if len(rows) == 0:  # (un)hearts are rare: don't rebuild the set for nothing
            return
        keys = self._key(rows, tracks)
        if hearted:
            self._hearted = np.union1d(self._hearted, keys)
        else:
            self._hearted = np.setdiff1d(self._hearted, keys)

    def sample(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One previously played track per row, drawn ∝ sqrt(play count) (favourites
        come back more, without one track crowding out the rest); -1 for rows with
        no history."""
        if len(self._keys) == 0 or len(rows) == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        if self._cumulative is None:
            self._cumulative = np.cumsum(np.sqrt(self._counts))
        cumulative = self._cumulative
        lo = np.searchsorted(self._keys, self._key(rows, np.zeros_like(rows)))
        hi = np.searchsorted(self._keys, self._key(rows + 1, np.zeros_like(rows)))
        base = np.where(lo > 0, cumulative[np.maximum(lo - 1, 0)], 0)
        top = cumulative[np.maximum(hi - 1, 0)]
        draw = base + rng.random(len(rows)) * (top - base)
        picked = np.minimum(np.searchsorted(cumulative, draw, side="right"), len(self._keys) - 1)
        return np.where(hi > lo, self._keys[picked] % self.n_tracks, -1)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(query), dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[at] == query, values[at], 0)

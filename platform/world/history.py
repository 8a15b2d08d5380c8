"""What each listener remembers having played, and what they hearted.

Listeners' memory of plays is finite: the history holds the plays of the last
``window_days`` days (``world.history_window_days``) and of the current day so far;
on day d it holds days d - window_days .. d, and ``start_day`` forgets the day that
falls out of the window. An all-time history only grows, so the share of candidates
a listener already heard (and with it the repeat share) would climb for as long as
the world runs; with a window the history of a listener who keeps listening at the
same rate stays the same size, and the process is stationary. The repeat share is
defined over the same window (``load.repeat_flags``): a play repeats when the
listener played the track in the previous ``window_days`` days (or earlier that day).
Hearts are a lasting state, not memory: they are kept for good.

Stored as sorted ``row * n_tracks + track`` keys with play counts in the window, so
lookups and weighted draws over a whole batch of sessions are vectorised
``searchsorted`` calls, plus each day's played keys, to subtract when the day leaves
the window. It feeds the ``familiarity`` part of the utility (re-playing favourites),
the logging policy's history candidates (what makes repeat listening possible at all)
and its discovery sources (which skip what was played). It starts from each listener's
past before day 0 (past.py), which covers the window, so day 0 is not a first day for
anyone who signed up earlier.
"""

from __future__ import annotations

import numpy as np


class ListeningHistory:
    def __init__(self, n_tracks: int, window_days: int, day: int = 0) -> None:
        self.n_tracks, self.window_days, self.day = n_tracks, window_days, day
        self._by_day: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # day -> (keys, counts)
        self._keys = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)
        self._hearted = np.empty(0, dtype=np.int64)
        self._cumulative: np.ndarray | None = None  # of sqrt(counts), for sample()

    def _key(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return rows.astype(np.int64) * self.n_tracks + tracks

    def start_day(self, day: int) -> None:
        """Make ``day`` the current day: forget the plays of days before
        ``day - window_days``."""
        self.day = day
        for old in sorted(d for d in self._by_day if d < day - self.window_days):
            parts = self._by_day.pop(old)
            keys, inverse = np.unique(np.concatenate([k for k, _ in parts]), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate([c for _, c in parts]),
                                 minlength=len(keys)).astype(np.int64)
            self._counts[np.searchsorted(self._keys, keys)] -= counts
            kept = self._counts > 0
            self._keys, self._counts = self._keys[kept], self._counts[kept]
            self._cumulative = None

    def play_counts(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        """How many times each (row, track) was played in the window."""
        return _lookup(self._keys, self._counts, self._key(rows, tracks))

    def is_hearted(self, rows: np.ndarray, tracks: np.ndarray) -> np.ndarray:
        return _lookup(self._hearted, np.ones_like(self._hearted), self._key(rows, tracks)) > 0

    def record_plays(self, rows: np.ndarray, tracks: np.ndarray,
                     counts: np.ndarray | None = None) -> None:
        """Add ``counts`` plays (1 each if None) of each (row, track) on the current
        day; merges into the sorted keys in O(history + new log new)."""
        keys, inverse = np.unique(self._key(rows, tracks), return_inverse=True)
        added = np.bincount(inverse, weights=None if counts is None else counts,
                            minlength=len(keys)).astype(np.int64)
        if len(keys) == 0:
            return
        self._by_day.setdefault(self.day, []).append((keys, added))
        at = np.searchsorted(self._keys, keys)
        known = at < len(self._keys)
        known[known] = self._keys[at[known]] == keys[known]
        self._counts[at[known]] += added[known]
        self._keys = np.insert(self._keys, at[~known], keys[~known])
        self._counts = np.insert(self._counts, at[~known], added[~known])
        self._cumulative = None

    def record_past(self, rows: np.ndarray, tracks: np.ndarray, counts: np.ndarray,
                    days: np.ndarray) -> None:
        """Add the plays of earlier days (``days`` < the current day), as if each had
        been recorded on its day; those before the window are left out."""
        keep = days >= self.day - self.window_days
        rows, tracks, counts, days = rows[keep], tracks[keep], counts[keep], days[keep]
        self.record_plays(rows, tracks, counts)
        self._by_day.pop(self.day, None)
        order = np.argsort(days, kind="stable")
        keys, counts, days = self._key(rows, tracks)[order], counts[order].astype(np.int64), days[order]
        bounds = np.flatnonzero(np.diff(days)) + 1
        for part_keys, part_counts, part_days in zip(np.split(keys, bounds), np.split(counts, bounds),
                                                     np.split(days, bounds)):
            if len(part_days):
                self._by_day.setdefault(int(part_days[0]), []).append((part_keys, part_counts))

    def record_hearts(self, rows: np.ndarray, tracks: np.ndarray, hearted: bool) -> None:
        if len(rows) == 0:  # (un)hearts are rare: don't rebuild the set for nothing
            return
        keys = self._key(rows, tracks)
        if hearted:
            self._hearted = np.union1d(self._hearted, keys)
        else:
            self._hearted = np.setdiff1d(self._hearted, keys)

    def sample(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One track played in the window per row, drawn ∝ sqrt(play count) (favourites
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

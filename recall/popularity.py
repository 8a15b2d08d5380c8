"""Popularity and trending channel (kind ``popularity``): time-decayed play counts.

Fit: every ``play_start`` (``signal="plays"``) or complete play (``"completes"``, the
rule of :mod:`encore.platform.contracts.labels`) of the window counts
``0.5 ** ((as_of_ms - ts_ms) / half_life)``; a short half-life (a day) makes the
channel *trending*, a long one (a week) *popular*. With ``by_hour`` the counts are kept
per UTC hour of day (24, n) and a query at local hour h is scored by
``(1 - s) * share_h(track) + s * share_all(track)`` (``s = hour_smoothing``, shares =
counts normalised to sum 1), i.e. popularity at the hour the listener asks.

Serving reads a precomputed table: ``top_track_ids`` / ``top_scores`` of shape
(H, K) with H = 1 (or 24 with ``by_hour``) and K = the configured ``k`` (capped by the
catalog); ``recall`` slices the query's row. Every listener at the same hour gets the
same list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encore.platform.contracts.labels import is_complete_play
from encore.recall.channel import Candidates, Channel
from encore.recall.query import Query
from encore.recall.sparse import TrackIndex

HOUR_MS = 3_600_000


def decayed_counts(tables, index: TrackIndex, half_life_hours: float, signal: str = "plays",
                   hours: bool = False) -> np.ndarray:
    """Decayed counts per track column, shape (n,), or (24, n) by UTC hour of day."""
    ev = tables.events
    if signal == "plays":
        rows = ev[ev["action"] == "play_start"]
    else:
        ends = ev[ev["action"] == "play_end"].merge(
            tables.tracks[["track_id", "duration_ms"]], on="track_id", how="inner")
        rows = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
    cols, known = index.columns(rows["track_id"].fillna(-1).to_numpy(dtype=np.int64))
    ts = rows["ts_ms"].to_numpy(dtype=np.int64)[known]
    weight = 0.5 ** ((tables.as_of_ms - ts) / (half_life_hours * HOUR_MS))
    n = len(index)
    if not hours:
        return np.bincount(cols[known], weights=weight, minlength=n)
    hour = (ts // HOUR_MS) % 24
    return np.bincount(hour * n + cols[known], weights=weight, minlength=24 * n).reshape(24, n)


class PopularityChannel(Channel):
    kind = "popularity"

    def fit(self, tables) -> "PopularityChannel":
        p = self.settings
        index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
        if p.by_hour:
            by_hour = decayed_counts(tables, index, p.half_life_hours, p.signal, hours=True)
            overall = by_hour.sum(axis=0)
            share_h = by_hour / np.maximum(by_hour.sum(axis=1, keepdims=True), 1e-12)
            share = overall / max(overall.sum(), 1e-12)
            scores = (1 - p.hour_smoothing) * share_h + p.hour_smoothing * share[None, :]
        else:
            scores = decayed_counts(tables, index, p.half_life_hours, p.signal)[None, :]
        k = min(self.config.k, len(index))
        order = np.lexsort((np.broadcast_to(index.track_ids, scores.shape), -scores), axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
        self.arrays = {"top_track_ids": index.track_ids[order], "top_scores": top_scores}
        return self

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        ids, scores = self.arrays["top_track_ids"], self.arrays["top_scores"]
        if ids.shape[0] == 24:
            rows = np.fromiter((q.context.local_hour for q in queries), dtype=np.int64, count=len(queries))
        else:
            rows = np.zeros(len(queries), dtype=np.int64)
        out = []
        for r in rows:
            keep = scores[r, :k] > 0
            out.append(Candidates(ids[r, :k][keep], scores[r, :k][keep]))
        return out

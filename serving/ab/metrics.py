"""Per-listener replay metrics of final lists (each a value per listener, so that A and
B can be compared pairwise), plus the catalogue-level coverage and the curves of the
report. Shapes: ``lists`` (n, L) track ids, -1 padded; ``truth`` n arrays of the tracks
each listener completed on the held-out day.

- ``hr@K`` / ``ndcg@K``: as ``encore eval pipeline`` (encore.serving.evaluate);
- ``mrr``: 1 / (1-based rank of the first listed track in the truth), 0 when none;
- ``long_tail_share``: share of the listed tracks outside the head, the ``head_share``
  most played tracks of the catalogue in the fitting window (Abdollahpouri et al. 2017);
- ``artist_diversity``: distinct artists / listed tracks;
- ``repeat_share``: share of listed tracks the listener played before (the rest are
  discoveries: ``discovery_share`` = 1 - repeat_share);
- ``novelty``: mean self-information ``-log2 p(track)`` of the listed tracks, with
  ``p = (plays + 1) / (all plays + catalogue size)`` in the fitting window (Zhou et al. 2010);
- ``coverage@K`` (catalogue level): distinct tracks among all first-K / catalogue size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encore.serving.evaluate import hits_and_ndcg


@dataclass(frozen=True)
class Catalogue:
    """What the metrics need of the catalogue: ``track_ids`` sorted, their artists and
    fitting-window play counts."""

    track_ids: np.ndarray
    artist_ids: np.ndarray
    plays: np.ndarray

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, np.int64)
        pos = np.clip(np.searchsorted(self.track_ids, ids), 0, len(self.track_ids) - 1)
        return pos, (self.track_ids[pos] == ids) & (ids >= 0)

    def head(self, share: float) -> np.ndarray:
        """Sorted ids of the ``share`` most played tracks (ties by id)."""
        n = max(1, int(round(share * len(self.track_ids))))
        order = np.lexsort((self.track_ids, -self.plays))
        return np.sort(self.track_ids[order[:n]])

    def self_information(self) -> np.ndarray:
        p = (self.plays + 1.0) / (self.plays.sum() + len(self.plays))
        return -np.log2(p)


def mrr(lists: np.ndarray, truth: Sequence[np.ndarray]) -> np.ndarray:
    out = np.zeros(len(lists))
    for i, (ranked, target) in enumerate(zip(lists, truth)):
        hit = np.flatnonzero(np.isin(ranked, target) & (ranked >= 0))
        out[i] = 1.0 / (hit[0] + 1) if len(hit) else 0.0
    return out


def list_metrics(lists: np.ndarray, truth: Sequence[np.ndarray], played_before: Sequence[np.ndarray],
                 ks: Sequence[int], catalogue: Catalogue, head_share: float) -> dict[str, np.ndarray]:
    """Every per-listener metric of the module docstring: name -> (n,)."""
    lists = np.asarray(lists, np.int64)
    valid = lists >= 0
    length = np.maximum(valid.sum(axis=1), 1)
    out = hits_and_ndcg([row[row >= 0] for row in lists], truth, ks)
    out["mrr"] = mrr(lists, truth)
    pos, known = catalogue.rows(lists)
    head = np.isin(lists, catalogue.head(head_share))
    out["long_tail_share"] = (valid & ~head).sum(axis=1) / length
    artists = np.where(known, catalogue.artist_ids[pos], -1)
    out["artist_diversity"] = np.array([len(np.unique(a[a >= 0])) for a in artists]) / length
    out["repeat_share"] = np.array([np.isin(row[row >= 0], p).sum() for row, p in zip(lists, played_before)]) / length
    info = np.where(known, catalogue.self_information()[pos], 0.0)
    out["novelty"] = info.sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    return out


DIRECTIONS = {"mrr": "higher", "long_tail_share": "higher", "artist_diversity": "higher",
              "repeat_share": "neutral", "novelty": "higher"}
"""Which way each metric is better (hr@K / ndcg@K: higher); the repeat share is a
product choice, not a quality, so it has no preferred direction."""


def coverage(lists: np.ndarray, k: int, n_tracks: int, rows: np.ndarray | None = None) -> float:
    """Distinct tracks among the first ``k`` of the lists of ``rows`` (default all) / ``n_tracks``."""
    top = np.asarray(lists)[:, :k] if rows is None else np.asarray(lists)[rows, :k]
    top = top[top >= 0]
    return float(len(np.unique(top)) / n_tracks) if n_tracks else 0.0


def coverage_curve(lists: np.ndarray, n_tracks: int) -> list[float]:
    """coverage@k for k = 1 .. L."""
    return [coverage(lists, k, n_tracks) for k in range(1, np.asarray(lists).shape[1] + 1)]


def long_tail_curve(lists: np.ndarray, catalogue: Catalogue, points: int = 50) -> dict[str, list[float]]:
    """The share of all listed slots (y) that go to the ``x`` most played share of the
    catalogue, for x on a grid of ``points`` in (0, 1]: a recommender that favours the
    head climbs fast, one that reaches into the tail follows the diagonal."""
    lists = np.asarray(lists, np.int64)
    order = np.lexsort((catalogue.track_ids, -catalogue.plays))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    pos, known = catalogue.rows(lists)
    ranks = rank[pos[known]]
    x = np.linspace(0, 1, points + 1)[1:]
    cut = np.ceil(np.round(x * len(order), 9)).astype(np.int64)  # 0.3 * 10 is 3.0000000000000004
    y = np.searchsorted(np.sort(ranks), cut, side="left") / max(len(ranks), 1)
    return {"x": x.tolist(), "y": y.tolist()}

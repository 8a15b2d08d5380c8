"""Item-CF channel (kind ``item_cf``) over the co-listening graph of the ``item_graph``
batch job (:mod:`encore.platform.batch.item_graph`: weight(a -> b) = |listeners(a) ∩
listeners(b)| / |listeners(a)|, top neighbours per a).

Score of a candidate track c for a listener:

    score(c) = sum over source tracks s of  w(s) * weight(s -> c)

with source weights from the Query (request time t, half-life h =
``recency_half_life_hours``, r(x) = 0.5 ** ((t - ts(x)) / h)):

* each of the last ``max_sources`` plays x:  + r(x)
* each of the last ``max_sources`` hearts x: + ``heart_boost`` * r(x)
* each of the last ``max_sources`` skips x:  - ``skip_penalty`` * r(x)
  (a skipped play nets 1 - skip_penalty: with the default 1 a skipped track stops
  recommending its neighbours)

Sources of one track are summed first; only candidates with a positive score are kept.
The graph is stored as a CSR matrix (n, n) over the catalog's columns; a batch of B
queries is one (B, n) x (n, n) product (:mod:`encore.recall.sparse`), summed densely
per chunk of rows and cut to the top k by a per-row threshold (no sort of the product).
Listeners without plays or hearts get no candidates (other channels cover them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encore.recall.channel import Candidates, ChannelArtifactError, Channel
from encore.recall.query import Query, sequence_batch
from encore.recall.sparse import Csr, TrackIndex, batch_times_csr_top_k, split_rows, sum_duplicates

HOUR_MS = 3_600_000


def source_parts(queries: Sequence[Query], index: TrackIndex, p) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The recency-weighted sources of each query by sequence ("play", "heart",
    "skip"): (rows, catalog columns, signed weights) of the formula above, with ``p``
    giving ``recency_half_life_hours``, ``heart_boost``, ``skip_penalty`` and
    ``max_sources`` (unsummed: a track may appear in several sequences)."""
    half_life = p.recency_half_life_hours * HOUR_MS
    now = np.fromiter((q.context.request_ms for q in queries), dtype=np.int64, count=len(queries))
    parts = {}
    for name, ids, ts, sign in (("play", "play_track_ids", "play_ts_ms", 1.0),
                                ("heart", "heart_track_ids", "heart_ts_ms", p.heart_boost),
                                ("skip", "skip_track_ids", "skip_ts_ms", -p.skip_penalty)):
        rows, tracks, times = sequence_batch(queries, ids, ts, last=p.max_sources)
        cols, known = index.columns(tracks)
        recency = 0.5 ** (np.maximum(now[rows] - times, 0) / half_life)
        parts[name] = (rows[known], cols[known], sign * recency[known])
    return parts


class ItemCFChannel(Channel):
    kind = "item_cf"

    def fit(self, tables) -> "ItemCFChannel":
        if tables.item_graph is None:
            raise ChannelArtifactError(f"channel {self.name}: the item_graph table is needed (encore batch item-graph)")
        index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
        graph = tables.item_graph
        src, src_ok = index.columns(graph["src_track_id"].to_numpy(dtype=np.int64))
        dst, dst_ok = index.columns(graph["dst_track_id"].to_numpy(dtype=np.int64))
        ok = src_ok & dst_ok
        matrix = Csr.from_coo(src[ok], dst[ok], graph["weight"].to_numpy(dtype=np.float64)[ok],
                              len(index), len(index))
        self.arrays = {"track_ids": index.track_ids, "indptr": matrix.indptr,
                       "indices": matrix.indices, "data": matrix.data}
        self._after_load()
        return self

    def _after_load(self) -> None:
        a = self.arrays
        self._index = TrackIndex(a["track_ids"])
        self._graph = Csr(a["indptr"], a["indices"], a["data"], len(a["track_ids"]))

    def source_weights(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (B, n) source batch (rows, columns, weights) of the formula above."""
        parts = source_parts(queries, self._index, self.settings)
        rows, cols, vals = (np.concatenate(x) for x in zip(*parts.values()))
        return sum_duplicates(rows, cols, vals, len(self._index))

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        rows, cols, vals = self.source_weights(queries)
        # = top_k_per_row(*batch_times_csr(...)) exactly, summed densely per chunk of rows
        rows, cols, vals = batch_times_csr_top_k(rows, cols, vals, self._graph, len(queries), k)
        ids = self._index.track_ids
        return [Candidates(ids[c], v.astype(np.float32)) for c, v in split_rows(rows, len(queries), cols, vals)]

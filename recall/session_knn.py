"""Session-kNN channel (kind ``session_knn``): V-SKNN, the vector-multiplication
session-based kNN of Ludewig, M. & Jannach, D. (2018), "Evaluation of session-based
recommendation algorithms", User Modeling and User-Adapted Interaction 28(4-5):331-390.

Inputs: past sessions (``RecallTables.sessions``: the play_start track ids of each
session that started within ``window_days`` before ``as_of_ms``), as a binary sparse
session-item matrix M of shape (S, n); the Query's current session (its last
``max_session_items`` tracks; with ``fallback_to_recent`` a session without plays yet
uses the listener's last recent plays instead, so a listener opening the app still
gets neighbours; anonymous listeners work from their session alone).

For a current session s = (s_1 .. s_L), oldest first:

* position weights, linear decay: w(s_p) = p / L (the last item weighs 1); an item
  seen twice keeps its latest (largest) weight;
* similarity to a past session n: sim(s, n) = sum over items i in s ∩ n of w(i)
  (the dot product of the weighted session vector with n's binary vector);
* candidates neighbours: the ``sample_size`` most recent past sessions sharing at least
  one item with s; neighbours N(s): the ``neighbours`` most similar of them (ties: the
  more recent first);
* score(i) = sum over n in N(s) containing i of sim(s, n).

A batch of B queries is two sparse products: (B, n) x M^T -> similarities (B, S),
top-M per row, then (B, S) x M -> scores (B, n) (:mod:`encore.recall.sparse`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encore.recall.channel import Candidates, Channel
from encore.recall.query import Query, sequence_batch
from encore.recall.sparse import Csr, TrackIndex, batch_times_csr, split_rows, top_k_index, top_k_per_row

DAY_MS = 86_400_000


class SessionKNNChannel(Channel):
    kind = "session_knn"

    def fit(self, tables) -> "SessionKNNChannel":
        from encore.recall.queries import QueryParams
        from encore.recall.tables import sessions_from_events

        p = self.settings
        sessions = tables.sessions if tables.sessions is not None else sessions_from_events(tables.events, QueryParams())
        start = sessions["start_ms"].to_numpy(dtype=np.int64)
        keep = (start >= tables.as_of_ms - p.window_days * DAY_MS) & (start < tables.as_of_ms)
        sessions = sessions[keep]
        index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
        lengths = np.fromiter((len(t) for t in sessions["track_ids"]), dtype=np.int64, count=len(sessions))
        tracks = np.concatenate([np.asarray(t, dtype=np.int64) for t in sessions["track_ids"]] or [np.zeros(0, np.int64)])
        rows = np.repeat(np.arange(len(sessions)), lengths)
        cols, known = index.columns(tracks)
        matrix = Csr.from_coo(rows[known], cols[known], np.ones(int(known.sum())), len(sessions), len(index))
        matrix = Csr(matrix.indptr, matrix.indices, np.ones_like(matrix.data), matrix.n_cols)  # binary
        self.arrays = {"track_ids": index.track_ids, "session_start_ms": sessions["start_ms"].to_numpy(dtype=np.int64),
                       "indptr": matrix.indptr, "indices": matrix.indices}
        self._after_load()
        return self

    def _after_load(self) -> None:
        a = self.arrays
        self._index = TrackIndex(a["track_ids"])
        self._sessions = Csr(a["indptr"], a["indices"], np.ones(len(a["indices"]), np.float32), len(a["track_ids"]))
        self._start = a["session_start_ms"]
        # the sessions of each item, only its ``sample_size`` most recent: enough to find
        # the most recent sessions sharing any item with a query (exact, see neighbours)
        items, sessions, _ = self._sessions.transpose().row_coo()
        recent = top_k_index(items, self._start[sessions].astype(np.float64) - float(self._start.min(initial=0)) + 1.0,
                             len(self._index), self.settings.sample_size, tie=sessions)
        self._items = Csr.from_coo(items[recent], sessions[recent], np.ones(len(recent)),
                                   len(self._index), self._sessions.n_rows)

    def session_weights(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (B, n) batch of V-SKNN position weights of each query's session."""
        p = self.settings
        rows, tracks, _ = sequence_batch(queries, "session.track_ids", last=p.max_session_items)
        if p.fallback_to_recent:
            has_session = np.bincount(rows, minlength=len(queries)) > 0
            empty = [q for q, has in zip(queries, has_session) if not has]
            r2, t2, _ = sequence_batch(empty, "play_track_ids", last=p.max_session_items)
            rows = np.concatenate([rows, np.flatnonzero(~has_session)[r2]])
            tracks = np.concatenate([tracks, t2])
            order = np.argsort(rows, kind="stable")
            rows, tracks = rows[order], tracks[order]
        lengths = np.bincount(rows, minlength=len(queries))
        position = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths) \
            if len(rows) else np.zeros(0, np.int64)
        weight = (position + 1) / lengths[rows]
        cols, known = self._index.columns(tracks)
        rows, cols, weight = rows[known], cols[known], weight[known]
        # an item seen twice keeps its latest weight: max per (row, col)
        key = rows * np.int64(len(self._index)) + cols
        order = np.lexsort((-weight, key))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        pick = order[first]
        return rows[pick], cols[pick], weight[pick]

    def neighbours(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, past session numbers, similarity) of each query's top neighbours.

        Exact with the truncated item index: if past session n is among the
        ``sample_size`` most recent sessions sharing an item with the query, then for
        every shared item i the sessions of i more recent than n share an item too, so
        fewer than ``sample_size`` of them exist and n is in i's truncated list; the
        similarity summed over the truncated index is therefore n's full similarity."""
        p = self.settings
        rows, sess, sim = batch_times_csr(*self.session_weights(queries), self._items)
        recency = self._start[sess].astype(np.float64) - float(self._start.min(initial=0)) + 1.0
        sample = top_k_index(rows, recency, len(queries), p.sample_size, tie=sess)
        rows, sess, sim = rows[sample], sess[sample], sim[sample]
        return top_k_per_row(rows, sess, sim, len(queries), p.neighbours, tie=-self._start[sess])

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        rows, sess, sim = self.neighbours(queries)
        rows, cols, scores = batch_times_csr(rows, sess, sim, self._sessions)
        rows, cols, scores = top_k_per_row(rows, cols, scores, len(queries), k)
        ids = self._index.track_ids
        return [Candidates(ids[c], v.astype(np.float32)) for c, v in split_rows(rows, len(queries), cols, scores)]

"""Similar listeners (kind ``similar_listeners``): listening-neighbour search over
co-listening user vectors, and a recall channel built on it ("listeners like you
finished this"). User-based collaborative filtering (Resnick et al. 1994; Herlocker et
al. 1999), cosine over log-damped play counts.

User vectors (fit): the fitting window's *finished* tracks (complete plays,
``encore.platform.contracts.labels.is_complete_play``; ``signal: plays`` counts every
play start instead) of every known listener, U (users x tracks):

    U[u, t] = log(1 + c(u, t)) / || log(1 + c(u, .)) ||_2     (c: the count)

so <U[u], U[v]> is the cosine similarity of two listeners. :meth:`similar_listeners`
answers "who listens like user u" from these stored rows (the listener's own row left
out).

Recall (batched over B queries): the query's vector x (B, n) is its recency-weighted
plays and hearts (the source rule of item-CF, :func:`encore.recall.item_cf.source_parts`,
positive weights only: a skip does not make a listener dissimilar), L2-normalised;

    sim(q, v) = <x_q, U[v]>                         (B, users): the query's neighbours
    N(q)      = the ``neighbours`` most similar listeners with sim >= ``min_similarity``
                (the query's own user id excluded)
    score(t)  = sum over v in N(q) of  sim(q, v) * F[v, t]       (F: 0/1 finished)

Heard tracks (plays, hearts, skips, dislikes, the session) are never candidates.
Reasons: the number m of neighbours who finished the candidate, reason name
``"listeners:<m>"``, text "<m> listeners like you finished this" ("A listener like
you ..." for m = 1).

Artifact arrays: ``track_ids``, ``user_ids`` (int64, sorted), ``u_indptr``,
``u_indices``, ``u_data`` (U as CSR, users x tracks; F is its pattern).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encore.platform.contracts.labels import is_complete_play
from encore.recall.channel import Candidates, Channel, ChannelArtifactError
from encore.recall.item_cf import source_parts
from encore.recall.query import Query
from encore.recall.sparse import Csr, TrackIndex, batch_times_csr, split_rows, sum_duplicates, top_k_index


def listener_vectors(user_ids: np.ndarray, track_cols: np.ndarray, n_tracks: int
                     ) -> tuple[np.ndarray, Csr]:
    """(sorted user ids, U): one row per user of the formula above from the (user,
    track column) pairs of each finished play (repeats count)."""
    users, rows = np.unique(np.asarray(user_ids, np.int64), return_inverse=True)
    rows, cols, counts = sum_duplicates(rows.reshape(-1), track_cols, np.ones(len(rows)), n_tracks)
    vals = np.log1p(counts)
    norm = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=len(users)))
    return users, Csr.from_coo(rows, cols, vals / norm[rows], len(users), n_tracks)


def reason_text(listeners: int) -> str:
    return "A listener like you finished this" if listeners == 1 else f"{listeners} listeners like you finished this"


class SimilarListenersChannel(Channel):
    kind = "similar_listeners"

    def fit(self, tables) -> "SimilarListenersChannel":
        p = self.settings
        index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
        ev = tables.events[tables.events["user_id"].notna()]
        if p.signal == "completes":
            ends = ev[ev["action"] == "play_end"]
            if "played_ms" not in ends:
                raise ChannelArtifactError(f"channel {self.name}: the events lack played_ms (needed for "
                                           "signal: completes)")
            ends = ends.merge(tables.tracks[["track_id", "duration_ms"]], on="track_id", how="inner")
            rows = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
        else:
            rows = ev[ev["action"] == "play_start"]
        cols, known = index.columns(rows["track_id"].fillna(-1).to_numpy(np.int64))
        users, u = listener_vectors(rows["user_id"].to_numpy(np.int64)[known], cols[known], len(index))
        self.arrays = {"track_ids": index.track_ids, "user_ids": users,
                       "u_indptr": u.indptr, "u_indices": u.indices, "u_data": u.data}
        self._after_load()
        return self

    def _after_load(self) -> None:
        a = self.arrays
        self._index = TrackIndex(a["track_ids"])
        self._users = a["user_ids"].astype(np.int64)
        self._u = Csr(a["u_indptr"], a["u_indices"], a["u_data"], len(self._index))
        self._ut = self._u.transpose()  # tracks x users: a query batch times it gives similarities
        self._finished = Csr(self._u.indptr, self._u.indices, np.ones_like(self._u.data), self._u.n_cols)

    # -- neighbours ------------------------------------------------------------------
    def _top_neighbours(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int,
                        exclude: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, user columns, similarity) of each row's ``k`` nearest listeners, the
        user column ``exclude[row]`` (-1: none) left out; best first per row (ties: the
        smaller user id)."""
        srow, ucol, sim = batch_times_csr(rows, cols, vals, self._ut)
        keep = (ucol != exclude[srow]) & (sim >= max(self.settings.min_similarity, 1e-12))
        srow, ucol, sim = srow[keep], ucol[keep], sim[keep]
        pick = top_k_index(srow, sim, n_rows, k, tie=ucol)
        return srow[pick], ucol[pick], sim[pick]

    def _user_columns(self, user_ids: Sequence[int | None]) -> np.ndarray:
        ids = np.array([-1 if u is None else int(u) for u in user_ids], np.int64)
        pos = np.clip(np.searchsorted(self._users, ids), 0, max(len(self._users) - 1, 0))
        known = (self._users[pos] == ids) if len(self._users) else np.zeros(len(ids), bool)
        return np.where(known, pos, -1)

    def similar_listeners(self, user_id: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` listeners whose fitted vectors are most similar (cosine) to
        ``user_id``'s, as (user id, similarity), best first; [] for a listener without
        finished plays in the fitting window."""
        self._require_fitted()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        [col] = self._user_columns([user_id])
        if col < 0:
            return []
        lo, hi = self._u.indptr[col], self._u.indptr[col + 1]
        _, ucol, sim = self._top_neighbours(np.zeros(hi - lo, np.int64), self._u.indices[lo:hi],
                                            self._u.data[lo:hi].astype(np.float64), 1, np.array([col]), k)
        return [(int(self._users[c]), float(s)) for c, s in zip(ucol, sim)]

    def query_vectors(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (B, tracks) batch x of the module docstring: rows, columns, values."""
        parts = source_parts(queries, self._index, self.settings)
        rows, cols, vals = (np.concatenate(x) for x in zip(parts["play"], parts["heart"]))
        rows, cols, vals = sum_duplicates(rows, cols, vals, len(self._index))
        norm = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=len(queries)))
        return rows, cols, vals / np.maximum(norm[rows], 1e-300)

    def neighbours(self, queries: Sequence[Query], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (user ids, similarities) of its ``k`` nearest listeners, best first."""
        self._require_fitted()
        rows, cols, vals = self.query_vectors(queries)
        nrow, ucol, sim = self._top_neighbours(rows, cols, vals, len(queries),
                                               self._user_columns([q.user_id for q in queries]), k)
        order = np.lexsort((-sim, nrow))  # stable per row, best first
        nrow, ucol, sim = nrow[order], ucol[order], sim[order]
        return [(self._users[c], s) for c, s in split_rows(nrow, len(queries), ucol, sim)]

    # -- recall ----------------------------------------------------------------------

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        p = self.settings
        n = len(self._index)
        rows, cols, vals = self.query_vectors(queries)
        nrow, ucol, sim = self._top_neighbours(rows, cols, vals, len(queries),
                                               self._user_columns([q.user_id for q in queries]), p.neighbours)
        crow, ccol, score = batch_times_csr(nrow, ucol, sim, self._finished)
        _, _, count = batch_times_csr(nrow, ucol, np.ones(len(nrow)), self._finished)
        unheard = ~np.isin(crow * n + ccol, self._index.heard(queries))
        crow, ccol, score, count = crow[unheard], ccol[unheard], score[unheard], count[unheard]
        pick = top_k_index(crow, score, len(queries), k, tie=ccol)
        crow, ccol, score, count = crow[pick], ccol[pick], score[pick], np.rint(count[pick]).astype(np.int64)
        ids = self._index.track_ids
        out = []
        for c, v, m in split_rows(crow, len(queries), ccol, score, count):
            local, idx = np.unique(m, return_inverse=True)
            out.append(Candidates(ids[c], v.astype(np.float32), idx.reshape(-1).astype(np.int16),
                                  tuple(f"listeners:{x}" for x in local), tuple(reason_text(int(x)) for x in local)))
        return out


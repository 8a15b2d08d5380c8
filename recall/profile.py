"""Profile channel (kind ``profile``): long-term taste from the ``user_profile``
features against the catalog, so listeners without any sequence (new users) still get
personal candidates.

For a query with profile genres g (weights w_g), languages l (w_l) and artists a (w_a)
(see :class:`encore.recall.query.Profile`), the score of catalog track t is

    score(t) = genre_weight    * w_g[genre(t)]
             + language_weight * w_l[language(t)]
             + artist_weight   * w_a[artist(t)]
             + popularity_weight * pop(t)

with pop(t) = log1p(c_t) / log1p(max c) in [0, 1], c_t the track's play count decayed
with ``popularity_half_life_hours`` (:func:`encore.recall.popularity.decayed_counts`).
A profile without top genres (a new user who has not played yet) uses the genre prior
of its age bucket instead: the ``prior_genres`` most played genres of that bucket's
listeners in the fitted window, weighted by their share relative to the first. A query
without any profile (anonymous, or no profile row) gets the most popular tracks.

Reason per candidate: ``artist``, ``genre``, ``age_prior``, ``language`` or
``popular``, the first of these parts that contributes to its score.

Fitted arrays: per track column its genre code, language code, artist id and pop
(n,); the genre and language vocabularies; the age buckets and their prior (A, G).
Serving scores a dense (B, n) block per chunk of queries (``CHUNK``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from encore.recall.channel import Candidates, Channel
from encore.recall.popularity import decayed_counts
from encore.recall.query import Query
from encore.recall.sparse import TrackIndex

CHUNK = 256


class ProfileChannel(Channel):
    kind = "profile"
    reason_names = ("artist", "genre", "age_prior", "language", "popular")

    def fit(self, tables) -> "ProfileChannel":
        p = self.settings
        tracks = tables.tracks.sort_values("track_id").drop_duplicates("track_id")
        index = TrackIndex.of(tracks["track_id"].to_numpy())
        genres = np.array(sorted(tracks["genre"].dropna().unique()), dtype=str)
        languages = np.array(sorted(tracks["language"].dropna().unique()), dtype=str)
        counts = decayed_counts(tables, index, p.popularity_half_life_hours)
        pop = np.log1p(counts) / max(np.log1p(counts.max(initial=0.0)), 1e-12)
        buckets, prior = self._age_prior(tables, tracks, genres)
        self.arrays = {
            "track_ids": index.track_ids,
            "genre_code": np.searchsorted(genres, tracks["genre"].fillna("").to_numpy(dtype=str)).astype(np.int64),
            "language_code": np.searchsorted(languages, tracks["language"].fillna("").to_numpy(dtype=str)).astype(np.int64),
            "artist_id": tracks["artist_id"].to_numpy(dtype=np.int64),
            "pop": pop.astype(np.float32), "genres": genres, "languages": languages,
            "age_buckets": buckets, "age_prior": prior,
        }
        self._after_load()
        return self

    def _age_prior(self, tables, tracks: pd.DataFrame, genres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Age buckets (A,) and their genre prior (A, G): top ``prior_genres`` genres by
        play share, each weighted share / top share."""
        if tables.users is None:
            return np.zeros(0, dtype=str), np.zeros((0, len(genres)), np.float32)
        plays = tables.events[(tables.events["action"] == "play_start") & tables.events["user_id"].notna()]
        plays = plays[["user_id", "track_id"]].merge(tracks[["track_id", "genre"]], on="track_id")
        plays = plays.merge(tables.users[["user_id", "age_bucket"]], on="user_id")
        buckets = np.array(sorted(tables.users["age_bucket"].dropna().unique()), dtype=str)
        counts = np.zeros((len(buckets), len(genres)))
        if len(plays):
            b = np.searchsorted(buckets, plays["age_bucket"].to_numpy(dtype=str))
            g = np.searchsorted(genres, plays["genre"].to_numpy(dtype=str))
            np.add.at(counts, (b, g), 1.0)
        prior = np.zeros_like(counts)
        top = np.argsort(-counts, axis=1, kind="stable")[:, :self.settings.prior_genres]
        rows = np.arange(len(buckets))[:, None]
        prior[rows, top] = counts[rows, top] / np.maximum(counts.max(axis=1, keepdims=True), 1e-12)
        return buckets, prior.astype(np.float32)

    def _after_load(self) -> None:
        self._index = TrackIndex(self.arrays["track_ids"])
        # artist -> its track columns (CSR over the sorted distinct artists)
        artist_id = np.asarray(self.arrays["artist_id"], dtype=np.int64)
        order = np.argsort(artist_id, kind="stable")
        self._artists, counts = np.unique(artist_id, return_counts=True)
        self._artist_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        self._artist_cols = order.astype(np.int64)

    def taste(self, queries: Sequence[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Dense taste of a batch: genre (B, G), language (B, L), artist (B, n) weights
        per track column, and whether the genre row is the age prior (B,). Vectorised
        over the batch: every profile's entries flattened once, looked up with one
        ``searchsorted`` per vocabulary, the artist weights spread to the artist's
        track columns through an artist -> columns index (a repeated artist keeps its
        last weight, as a dict of the profile would)."""
        a = self.arrays
        genres, languages = a["genres"], a["languages"]
        b = len(queries)
        profiles = [q.profile for q in queries]
        g = np.zeros((b, len(genres)), np.float32)
        lang = np.zeros((b, len(languages)), np.float32)
        artist = np.zeros((b, len(self._index)), np.float32)
        rows, names, weights = _flat(profiles, "genres", "genre_weights")
        _assign(g, rows, genres, names, weights)
        has_genres = np.bincount(rows, minlength=b) > 0
        buckets = np.array([p.age_bucket for p in profiles], dtype=str)
        from_prior = np.zeros(b, dtype=bool)
        if len(a["age_buckets"]):
            pos = np.minimum(np.searchsorted(a["age_buckets"], buckets), len(a["age_buckets"]) - 1)
            from_prior = ~has_genres & (buckets != "") & (a["age_buckets"][pos] == buckets)
            g[from_prior] = a["age_prior"][pos[from_prior]]
        rows, names, weights = _flat(profiles, "languages", "language_weights")
        _assign(lang, rows, languages, names, weights)
        rows, ids, weights = _flat(profiles, "artist_ids", "artist_weights", dtype=np.int64)
        if len(rows):
            # the last weight of a (row, artist) pair wins (dict semantics)
            pairs = np.stack([rows, ids], axis=1)[::-1]
            last = len(rows) - 1 - np.unique(pairs, axis=0, return_index=True)[1]
            rows, ids, weights = rows[last], ids[last], weights[last]
            pos = np.minimum(np.searchsorted(self._artists, ids), len(self._artists) - 1)
            known = self._artists[pos] == ids if len(self._artists) else np.zeros(len(ids), bool)
            rows, pos, weights = rows[known], pos[known], weights[known]
            counts = self._artist_ptr[pos + 1] - self._artist_ptr[pos]
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            cols = self._artist_cols[np.repeat(self._artist_ptr[pos], counts) + offsets]
            artist[np.repeat(rows, counts), cols] = np.repeat(weights.astype(np.float32), counts)
        return g, lang, artist, from_prior

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        out: list[Candidates] = []
        for lo in range(0, len(queries), CHUNK):
            out.extend(self._recall_chunk(list(queries[lo:lo + CHUNK]), k))
        return out

    def _recall_chunk(self, queries: list[Query], k: int) -> list[Candidates]:
        p, a = self.settings, self.arrays
        g, lang, artist, from_prior = self.taste(queries)
        genre_part = p.genre_weight * g[:, a["genre_code"]]
        language_part = p.language_weight * lang[:, a["language_code"]]
        artist_part = p.artist_weight * artist
        scores = genre_part + language_part + artist_part + p.popularity_weight * a["pop"][None, :]
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
            np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        rows = np.arange(len(queries))[:, None]
        top_scores = scores[rows, top]
        order = np.lexsort((top, -top_scores), axis=1)
        top, top_scores = np.take_along_axis(top, order, 1), np.take_along_axis(top_scores, order, 1)
        genre_reason = np.where(from_prior[:, None], 2, 1)
        reasons = np.select(
            [artist_part[rows, top] > 0, genre_part[rows, top] > 0, language_part[rows, top] > 0],
            [0, genre_reason, 3], default=4).astype(np.int16)
        ids = self._index.track_ids
        return [
            Candidates(ids[top[i]][top_scores[i] > 0], top_scores[i][top_scores[i] > 0].astype(np.float32),
                       reasons[i][top_scores[i] > 0], self.reason_names)
            for i in range(len(queries))
        ]


def _flat(profiles: list, values: str, weights: str, dtype: Any = str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Profile field and its weights over a batch as flat arrays (rows, values, weights)."""
    lists = [getattr(p, values) for p in profiles]
    lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    rows = np.repeat(np.arange(len(lists)), lengths)
    flat = np.array([v for vs in lists for v in vs], dtype=dtype)
    w = np.array([x for p in profiles for x in getattr(p, weights)], dtype=np.float32)
    return rows, flat.reshape(-1), w


def _assign(out: np.ndarray, rows: np.ndarray, vocabulary: np.ndarray, names: np.ndarray,
            weights: np.ndarray) -> None:
    """``out[row, vocabulary.index(name)] = weight`` for the names in the vocabulary."""
    if not len(rows) or not len(vocabulary):
        return
    pos = np.minimum(np.searchsorted(vocabulary, names), len(vocabulary) - 1)
    ok = vocabulary[pos] == names
    out[rows[ok], pos[ok]] = weights[ok]

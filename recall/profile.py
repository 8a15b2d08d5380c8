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

Top-k, exactly (:meth:`ProfileChannel.recall`): the first k tracks ordered by (score
desc, track column asc), those of score 0 dropped. Without its artist part a track's
score is fixed by its (genre, language) level plus its popularity, so the tracks are
kept in pop-sorted lists: all tracks, per genre, per language and per (genre,
language) cell (built once at load). A query reads only the first k (+ ``PAD``) of the
lists its taste touches (the global one; its nonzero genres, languages and their
cells) plus its artists' tracks, and scores only those: a track outside them is beaten
by k tracks of its own list (the lists are sorted by a lower bound of every member's
score, and the bound is the track's exact score in its own list). When equal bounds
run past a list's read prefix, that row is scored densely over all n columns (the
same rule: rare). Candidates below the best k-th bound of any list are dropped before
the sort. Every candidate's score is computed with the very float32 operations of a
dense (B, n) score, so the result is that of the dense rule (tested).
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
PAD = 32  # list entries read past the k-th, so equal bounds at the k-th rarely fall back to dense
SMALL_BATCH = 8  # up to this many queries (a request) a dense score with a k-th value threshold is cheaper


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
        self._build_lists()
        # artist -> its track columns (CSR over the sorted distinct artists)
        artist_id = np.asarray(self.arrays["artist_id"], dtype=np.int64)
        order = np.argsort(artist_id, kind="stable")
        self._artists, counts = np.unique(artist_id, return_counts=True)
        self._artist_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        self._artist_cols = order.astype(np.int64)

    def _build_lists(self) -> None:
        """Track columns by (pop desc, column asc) as one CSR of lists: 0 = all tracks,
        1 + g = genre g, 1 + G + l = language l, 1 + G + L + g * L + l = cell (g, l)."""
        a = self.arrays
        pop = np.asarray(a["pop"], dtype=np.float32)
        n = len(pop)
        n_genres, n_languages = len(a["genres"]), len(a["languages"])
        genre = np.asarray(a["genre_code"], dtype=np.int64)
        language = np.asarray(a["language_code"], dtype=np.int64)
        ranked = np.lexsort((np.arange(n), -pop))  # pop desc, column asc
        groups = [np.zeros(n, np.int64), 1 + genre, 1 + n_genres + language,
                  1 + n_genres + n_languages + genre * n_languages + language]
        n_lists = 1 + n_genres + n_languages + n_genres * n_languages
        ids = np.concatenate([g[ranked] for g in groups])
        order = np.argsort(ids, kind="stable")  # stable: the pop order is kept inside each list
        self._list_cols = np.concatenate([ranked] * len(groups))[order]
        self._list_ptr = np.r_[0, np.cumsum(np.bincount(ids, minlength=n_lists))].astype(np.int64)

    def taste(self, queries: Sequence[Query],
              with_artists: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        artist = np.zeros((b, len(self._index) if with_artists else 0), np.float32)
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
        if with_artists:
            a_rows, a_cols, a_weights = self._artist_pairs(profiles)
            artist[a_rows, a_cols] = a_weights
        return g, lang, artist, from_prior

    def _artist_pairs(self, profiles: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, track column, weight float32) of every profile artist's tracks."""
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
            return np.repeat(rows, counts), cols, np.repeat(weights.astype(np.float32), counts)
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        out: list[Candidates] = []
        for lo in range(0, len(queries), CHUNK):
            out.extend(self._recall_chunk(list(queries[lo:lo + CHUNK]), k))
        return out

    def _recall_chunk(self, queries: list[Query], k: int) -> list[Candidates]:
        p, a = self.settings, self.arrays
        g, lang, from_prior, (a_rows, a_cols, a_weights) = self._taste_sparse(queries)
        b, n = len(queries), len(self._index)
        k = min(k, n)
        if k <= 0:
            return [Candidates(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int16),
                               self.reason_names) for _ in queries]
        if b <= SMALL_BATCH:
            return self._dense_chunk(queries, k)
        pop = a["pop"]
        genre_code, language_code = a["genre_code"], a["language_code"]
        n_genres, n_languages = g.shape[1], lang.shape[1]
        # the query's level parts, float32 as the dense score computes them
        genre_level = p.genre_weight * g  # (B, G)
        language_level = p.language_weight * lang  # (B, L)
        # the lists each row reads: all tracks, its nonzero genres, languages and their cells
        rows_g, gs = np.nonzero(genre_level > 0)
        rows_l, ls = np.nonzero(language_level > 0)
        cell = (genre_level > 0)[:, :, None] & (language_level > 0)[:, None, :]
        rows_c, cg, cl = np.nonzero(cell)
        list_row = np.concatenate([np.arange(b), rows_g, rows_l, rows_c])
        list_id = np.concatenate([np.zeros(b, np.int64), 1 + gs, 1 + n_genres + ls,
                                  1 + n_genres + n_languages + cg * n_languages + cl])
        list_genre = np.concatenate([np.full(b, -1), gs, np.full(len(ls), -1), cg])
        list_language = np.concatenate([np.full(b, -1), np.full(len(gs), -1), ls, cl])
        # a list's bound for its member t: (genre level + language level) + pop part (the
        # exact score of a track whose own list this is; a lower bound for the others)
        level = (np.where(list_genre >= 0, genre_level[list_row, np.maximum(list_genre, 0)], np.float32(0))
                 + np.where(list_language >= 0, language_level[list_row, np.maximum(list_language, 0)],
                            np.float32(0))).astype(np.float32)
        start, size = self._list_ptr[list_id], self._list_ptr[list_id + 1] - self._list_ptr[list_id]
        take = np.minimum(size, k + PAD)
        pop_part = (p.popularity_weight * pop).astype(np.float32)  # (n,)

        def bound(pos: np.ndarray, which: np.ndarray) -> np.ndarray:
            return level[which] + pop_part[self._list_cols[start[which] + pos]]

        # equal bounds running past the read prefix: that row is scored densely
        longer = np.flatnonzero(size > take)
        dense_rows = np.unique(list_row[longer[bound(np.full(len(longer), k - 1), longer)
                                               == bound(take[longer], longer)]]) \
            if len(longer) else np.zeros(0, np.int64)
        # the best k-th bound of any full-enough list: k tracks score at least that much
        full = np.flatnonzero(size >= k)
        floor = np.full(b, -np.inf, np.float32)
        if len(full):
            np.maximum.at(floor, list_row[full], bound(np.full(len(full), k - 1), full))
        # a list's entries with a bound below the floor cannot be in the top k: each list is
        # read down to the floor only (counted on the float64 pop parts with a margin for
        # the float32 sum: reading a few more is harmless)
        low = floor[list_row].astype(np.float64) - level
        need = low - 1e-6 * (1.0 + np.abs(floor[list_row]).astype(np.float64) + np.abs(level))
        span = float(p.popularity_weight) + 2.0
        ends = np.searchsorted(self._list_key(pop_part), list_id * span - need, side="right")
        take = np.clip(ends - start, 0, take)
        # the candidate (row, column) pairs, each once
        chosen = np.zeros((b, n), dtype=bool)
        offsets = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
        chosen[np.repeat(list_row, take), self._list_cols[np.repeat(start, take) + offsets]] = True
        chosen[a_rows, a_cols] = True
        chosen[dense_rows] = True
        rows, cols = np.nonzero(chosen)  # by row, then column
        artist = np.zeros((b, n), np.float32) if len(a_rows) else None
        if artist is not None:
            artist[a_rows, a_cols] = a_weights
        genre_part = genre_level[rows, genre_code[cols]]
        language_part = language_level[rows, language_code[cols]]
        artist_part = p.artist_weight * artist[rows, cols] if artist is not None else np.zeros(len(rows), np.float32)
        scores = genre_part + language_part + artist_part + pop_part[cols]
        keep = scores >= floor[rows]
        rows, cols, scores = rows[keep], cols[keep], scores[keep]
        genre_part, language_part, artist_part = genre_part[keep], language_part[keep], artist_part[keep]
        order = np.lexsort((cols, -scores, rows))  # per row: score desc, column asc
        rows, cols, scores = rows[order], cols[order], scores[order]
        genre_part, language_part, artist_part = genre_part[order], language_part[order], artist_part[order]
        first = np.searchsorted(rows, np.arange(b + 1))
        rank = np.arange(len(rows)) - first[rows]
        top = (rank < k) & (scores > 0)
        reasons = np.select(
            [artist_part > 0, genre_part > 0, language_part > 0],
            [0, np.where(from_prior[rows], 2, 1), 3], default=4).astype(np.int16)
        rows, cols, scores, reasons = rows[top], cols[top], scores[top].astype(np.float32), reasons[top]
        bounds = np.searchsorted(rows, np.arange(b + 1))
        ids = self._index.track_ids[cols]
        return [Candidates(ids[bounds[i]:bounds[i + 1]], scores[bounds[i]:bounds[i + 1]],
                           reasons[bounds[i]:bounds[i + 1]], self.reason_names) for i in range(b)]

    def _list_key(self, pop_part: np.ndarray) -> np.ndarray:
        """Every list entry's ``list * (w + 2) - pop part`` (float64, ascending: lists in
        order, each by pop desc), so one ``searchsorted`` finds where a list's pop part
        falls below a threshold (w: the popularity weight; cached per weight)."""
        w = float(self.settings.popularity_weight)
        if getattr(self, "_key_of", (None,))[0] != w:
            sizes = np.diff(self._list_ptr)
            list_of = np.repeat(np.arange(len(sizes)), sizes)
            self._key_of = (w, list_of * (w + 2.0) - pop_part.astype(np.float64)[self._list_cols])
        return self._key_of[1]

    def _taste_sparse(self, queries: list[Query]):
        """:meth:`taste` with the artist weights as (row, column, weight) triples
        instead of a dense (B, n) block."""
        profiles = [q.profile for q in queries]
        g, lang, _, from_prior = self.taste(queries, with_artists=False)
        return g, lang, from_prior, self._artist_pairs(profiles)

    def _dense_scores(self, queries: Sequence[Query]):
        """(scores, genre part, language part, artist part) each (B, n), and from_prior (B,):
        every track scored by the rule."""
        p, a = self.settings, self.arrays
        g, lang, artist, from_prior = self.taste(queries)
        genre_part = p.genre_weight * g[:, a["genre_code"]]
        language_part = p.language_weight * lang[:, a["language_code"]]
        artist_part = p.artist_weight * artist
        scores = genre_part + language_part + artist_part + p.popularity_weight * a["pop"][None, :]
        return scores, genre_part, language_part, artist_part, from_prior

    def _dense_chunk(self, queries: list[Query], k: int) -> list[Candidates]:
        """The same rule for a few queries: every track scored (B, n), cut at each row's
        k-th largest score (``np.partition``; every track tied with it kept), only the
        survivors sorted by (score desc, column asc)."""
        scores, genre_part, language_part, artist_part, from_prior = self._dense_scores(queries)
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
        out = []
        for i in range(len(queries)):
            cols = np.flatnonzero(scores[i] >= kth[i])
            cols = cols[np.lexsort((cols, -scores[i, cols]))][:k]
            cols = cols[scores[i, cols] > 0]
            reasons = np.select([artist_part[i, cols] > 0, genre_part[i, cols] > 0, language_part[i, cols] > 0],
                                [0, 2 if from_prior[i] else 1, 3], default=4).astype(np.int16)
            out.append(Candidates(self._index.track_ids[cols], scores[i, cols].astype(np.float32), reasons,
                                  self.reason_names))
        return out

    def dense_recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        """The reference rule, densely: every track scored (B, n), the first k by
        (score desc, column asc), score 0 dropped (what :meth:`recall` returns)."""
        scores, genre_part, language_part, artist_part, from_prior = self._dense_scores(queries)
        out = []
        for i in range(len(queries)):
            order = np.lexsort((np.arange(scores.shape[1]), -scores[i]))[:k]
            order = order[scores[i][order] > 0]
            reasons = np.select([artist_part[i, order] > 0, genre_part[i, order] > 0, language_part[i, order] > 0],
                                [0, 2 if from_prior[i] else 1, 3], default=4).astype(np.int16)
            out.append(Candidates(self._index.track_ids[order], scores[i][order].astype(np.float32), reasons,
                                  self.reason_names))
        return out


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

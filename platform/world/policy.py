"""The logging policy: which tracks each request (slate) showed, and with what
probability.

For every slate it draws a candidate pool of ``candidate_pool_size`` tracks from
sources mixed per scenario (``SOURCE_MIX``: the listener's taste genres, the active
interest's genre, the interest's and favourite artists, popular tracks, the listener's
history, the tracks of a show), scores them with a known noisy score

    score = 0.6 * popularity_z + 1.0 * genre taste + 0.5 * language taste
            + 0.4 * [from history] + Normal(0, 0.5)

and shows ``exposures_per_request`` of them, drawn without replacement from
softmax(score / logging_temperature) (Plackett-Luce, via Gumbel top-k).

``propensity`` of the track at position p is the Plackett-Luce probability that the
policy put it there given the pool and the tracks above it:
exp(s_p / T) / sum of exp(s / T) over pool tracks not yet shown. It is exact, so
off-policy estimators can reweight by it (conditionally on the candidate pool).

The policy knows long-term taste but not the session's interest, emotion or the show
ties, so there is something left for the models to learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encore.platform.world.catalog import Catalog, popularity_z
from encore.platform.world.history import ListeningHistory
from encore.platform.world.seeds import draw_columns
from encore.platform.world.users import Population

SOURCES = ("taste", "interest", "artist", "popular", "history", "kg")
SOURCE_MIX = {
    "daily_recommend": {"taste": 0.3, "interest": 0.27, "artist": 0.1, "popular": 0.1,
                        "history": 0.08, "kg": 0.15},
    "private_radio": {"taste": 0.22, "interest": 0.42, "artist": 0.1, "popular": 0.1,
                      "history": 0.06, "kg": 0.1},
    "playlist": {"taste": 0.3, "interest": 0.3, "history": 0.3, "kg": 0.1},
    "search": {"artist": 0.6, "interest": 0.2, "popular": 0.2},
}
SCORE_NOISE = 0.5


@dataclass(frozen=True)
class Slates:
    tracks: np.ndarray  # (slates, K), -1 where the pool ran out of distinct tracks
    propensity: np.ndarray  # (slates, K)


class _Segments:
    """Draw one item per query from segment ``g`` of a grouped, weighted list."""

    def __init__(self, groups: np.ndarray, items: np.ndarray, weights: np.ndarray, n_groups: int) -> None:
        order = np.lexsort((items, groups))
        self.items, groups, weights = items[order], groups[order], weights[order]
        totals = np.bincount(groups, weights=weights, minlength=n_groups)
        within = np.cumsum(weights) - np.concatenate([[0.0], np.cumsum(totals)])[groups]
        self.keys = groups + within / totals[groups]
        self.empty = totals == 0

    def draw(self, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        at = np.searchsorted(self.keys, group + rng.random(len(group)) * (1 - 1e-9))
        picked = self.items[np.minimum(at, len(self.items) - 1)]
        return np.where(self.empty[group], -1, picked)


class LoggingPolicy:
    def __init__(self, cat: Catalog, pop: Population, pool_size: int, slate_size: int,
                 temperature: float) -> None:
        self.cat, self.pop = cat, pop
        self.pool_size, self.slate_size, self.temperature = pool_size, min(slate_size, pool_size), temperature
        tracks = np.arange(cat.n_tracks)
        appeal = cat.track_popularity.astype(np.float64) ** 0.5
        self.by_genre = _Segments(cat.track_genre, tracks, appeal, len(cat.genres))
        self.by_artist = _Segments(cat.track_artist, tracks, appeal, cat.n_artists)
        self.popular = _Segments(np.zeros_like(tracks), tracks, appeal, 1)
        show_of_track = cat.track_show
        season_artist, season = np.nonzero(cat.artist_in_show)
        per_artist = [np.flatnonzero(cat.track_artist == a) for a in season_artist]
        show_groups = np.concatenate([show_of_track[show_of_track >= 0]]
                                     + [np.full(len(t), s) for t, s in zip(per_artist, season)])
        show_items = np.concatenate([tracks[show_of_track >= 0]] + per_artist)
        self.by_show = _Segments(show_groups.astype(np.int64), show_items,
                                 np.ones(len(show_items)), cat.n_shows)
        self.popularity_z = popularity_z(cat)
        self.scenario_sources = {
            scenario: np.repeat(np.arange(len(SOURCES)), _slot_counts(mix, pool_size))
            for scenario, mix in SOURCE_MIX.items()
        }

    def candidate_pools(self, rows: np.ndarray, scenarios: list[str], interest_genre: np.ndarray,
                        interest_artists: np.ndarray, history: ListeningHistory,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(slates, pool_size) candidate tracks and whether each came from history."""
        source = np.stack([self.scenario_sources[s] for s in scenarios])
        n, p = source.shape
        row = np.repeat(rows, p)
        src = source.ravel()
        pool = np.full(n * p, -1, dtype=np.int64)

        def fill(mask: np.ndarray, tracks: np.ndarray) -> None:
            pool[mask] = tracks

        is_ = {name: src == code for code, name in enumerate(SOURCES)}
        pool_genre_taste = self.pop.genre_taste[row[is_["taste"]]]
        fill(is_["taste"], self.by_genre.draw(draw_columns(pool_genre_taste, rng), rng))
        fill(is_["interest"], self.by_genre.draw(np.repeat(interest_genre, p)[is_["interest"]], rng))
        fill(is_["popular"], self.popular.draw(np.zeros(is_["popular"].sum(), dtype=np.int64), rng))
        fill(is_["history"], history.sample(row[is_["history"]], rng))
        artist_choices = np.concatenate(
            [interest_artists, self.pop.favourite_artists[rows]], axis=1)
        artist_rows = np.repeat(np.arange(n), p)[is_["artist"]]
        artist = draw_columns((artist_choices[artist_rows] >= 0).astype(np.float64) + 1e-12, rng)
        fill(is_["artist"], self.by_artist.draw(np.maximum(artist_choices[artist_rows, artist], 0), rng))
        affinity = self.pop.show_affinity[row[is_["kg"]]] + 0.02  # non-fans see shows too
        fill(is_["kg"], self.by_show.draw(draw_columns(affinity, rng), rng))

        missing = pool < 0  # a listener without history or an artist without tracks
        pool[missing] = self.by_genre.draw(draw_columns(self.pop.genre_taste[row[missing]], rng), rng)
        from_history = (is_["history"] & ~missing).reshape(n, p)
        return pool.reshape(n, p), from_history

    def choose(self, rows: np.ndarray, pool: np.ndarray, from_history: np.ndarray,
               rng: np.random.Generator) -> Slates:
        """Show slate_size tracks per pool by Plackett-Luce sampling; exact propensities."""
        cat = self.cat
        score = (0.6 * self.popularity_z[pool]
                 + 1.0 * self.pop.genre_taste[rows[:, None], cat.track_genre[pool]]
                 + 0.5 * self.pop.language_taste[rows[:, None], cat.track_language[pool]]
                 + 0.4 * from_history + rng.normal(0.0, SCORE_NOISE, pool.shape)) / self.temperature
        score[_duplicates(pool)] = -np.inf
        weight = np.exp(score - score.max(axis=1, keepdims=True))
        gumbel = np.where(np.isfinite(score), score + rng.gumbel(size=pool.shape), -np.inf)
        picked = np.argsort(-gumbel, axis=1, kind="stable")[:, : self.slate_size]
        picked_weight = np.take_along_axis(weight, picked, axis=1)
        remaining = weight.sum(axis=1, keepdims=True) - np.cumsum(picked_weight, axis=1) + picked_weight
        shown = picked_weight > 0
        propensity = np.where(shown, picked_weight / np.where(shown, remaining, 1.0), 0.0)
        tracks = np.where(shown, np.take_along_axis(pool, picked, axis=1), -1)
        return Slates(tracks=tracks, propensity=propensity)


def _slot_counts(mix: dict[str, float], pool_size: int) -> np.ndarray:
    share = np.array([mix.get(name, 0.0) for name in SOURCES])
    counts = np.floor(share / share.sum() * pool_size).astype(np.int64)
    counts[np.argmax(share)] += pool_size - counts.sum()
    return counts


def _duplicates(pool: np.ndarray) -> np.ndarray:
    """True for every repeat of a track already earlier in its row."""
    order = np.argsort(pool, axis=1, kind="stable")
    ordered = np.take_along_axis(pool, order, axis=1)
    repeat = np.zeros_like(pool, dtype=bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    out = np.zeros_like(repeat)
    np.put_along_axis(out, order, repeat, axis=1)
    return out

"""The logging policy: which tracks each request (slate) showed, and with what
probability.

For every slate it draws a candidate pool of ``candidate_pool_size`` tracks from
sources mixed per scenario (``SOURCE_MIX``: the listener's taste genres, the active
interest's genre, the interest's and favourite artists, popular tracks, the listener's
history, the tracks of a show; the discovery sources skip tracks the listener played
in their history window, see ``candidate_pools``), scores them with a known noisy score

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

What is logged for off-policy evaluation, and which estimator each piece supports:

- event log, exposure rows: ``position`` and ``propensity`` (the conditional
  Plackett-Luce probability above). Their product over positions 0..p is the
  probability of the whole prefix, so they support the position-wise / cascade IPS
  estimators that reweight a position's reward by the ratio of prefix probabilities
  (the target policy must be a Plackett-Luce-style ranker scored on the same pool).
- ``policy/slates.parquet``, one row per request (``request_id`` joins the events):
  ``pool_track_ids``, ``pool_scores`` and ``temperature``: the logging policy itself
  (softmax(score / temperature), repeats in a pool and excluded candidates already
  removed), so any marginal
  of it can be recomputed (``slate_marginals``), and direct-method or doubly-robust
  estimators can score the same candidates. Per shown track (list index = position):
  ``propensity`` (as in the event log), ``position_prob`` = P(track at this position)
  (marginal over the tracks above it) and ``inclusion_prob`` = P(track anywhere in the
  slate). ``position_prob`` supports position-based IPS (reward at position p weighted
  by pi_target(item at p) / position_prob, the estimator of the position-based click
  model); ``inclusion_prob`` supports item-level IPS on slate inclusion (rewards that
  do not depend on position). The pseudo-inverse (PI) slate estimator of Swaminathan
  et al. needs the logging policy's (position, item) marginals of every pool item, not
  only the shown ones: compute them from the pool and scores with ``slate_marginals``
  (``exact_position_marginals`` for small pools).
- ``marginal_draws``: 0 when the marginals are exact (every ordered slate enumerated:
  pools with at most EXACT_SLATES_LIMIT ordered k-subsets), else the number of
  seeded Gumbel top-k draws of the Monte-Carlo estimate (config
  ``world.marginal_draws``, 32 by default; Rao-Blackwellised, see ``slate_marginals``).
  With a pool of 60 and slates of 10, 32 draws give a median relative error of about
  3% on ``inclusion_prob`` and 12% on ``position_prob`` (measured against 5,000 draws);
  recompute with more draws from the logged pool where an estimator needs better.
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
    logits: np.ndarray  # (slates, pool): score / temperature, -inf for a repeat in the pool
    picked: np.ndarray  # (slates, K): pool index of each shown track


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
                 temperature: float, discovery_redraws: int = 8) -> None:
        self.cat, self.pop = cat, pop
        self.discovery_redraws = discovery_redraws
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
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slates, pool_size) candidate tracks, whether each came from history, and
        whether each is left out of the pool.

        The discovery sources (taste, interest, artist, popular) propose tracks the
        listener has not played in their history window (history.py): a candidate they
        draw that the listener played is redrawn from the same source up to
        ``discovery_redraws`` times, then (a narrow source ran dry: a favourite artist's
        few tracks) from the popular tracks of the whole catalogue as many times, and one
        still played after that (rare) is left out of the pool (``excluded``: never
        shown, like a repeat within the pool). So re-listening comes from the history
        source, at its share of the pool, and from the show (kg) source, unfiltered: a
        fan re-plays the show's soundtrack. Neither grows with time: the window keeps the
        history's size steady, and the past (past.py) fills it before day 0.
        """
        source = np.stack([self.scenario_sources[s] for s in scenarios])
        n, p = source.shape
        row = np.repeat(rows, p)
        src = source.ravel()
        slate = np.repeat(np.arange(n), p)
        artist_choices = np.concatenate([interest_artists, self.pop.favourite_artists[rows]], axis=1)
        pool = self.draw_sources(src, row, interest_genre[slate], artist_choices[slate], history, rng)
        missing = pool < 0  # a listener without history or an artist without tracks
        pool[missing] = self.by_genre.draw(draw_columns(self.pop.genre_taste[row[missing]], rng), rng)
        from_history = (src == SOURCES.index("history")) & ~missing
        src = np.where(missing, SOURCES.index("taste"), src)

        discovery = ~from_history & (src != SOURCES.index("kg"))
        played = self.redraw_played(pool, src, row, interest_genre[slate], artist_choices[slate],
                                    discovery, history, rng)
        return pool.reshape(n, p), from_history.reshape(n, p), played.reshape(n, p)

    def redraw_played(self, pool: np.ndarray, src: np.ndarray, row: np.ndarray, interest_genre: np.ndarray,
                      artist_choices: np.ndarray, check: np.ndarray, history: ListeningHistory,
                      rng: np.random.Generator) -> np.ndarray:
        """Redraw, in place, each ``check``ed candidate of ``pool`` that row's listener
        played in their window: from its source up to ``discovery_redraws`` times, then
        from the popular tracks as many times. Returns which are still played."""
        played = check & (history.play_counts(row, pool) > 0)
        popular = np.full(len(src), SOURCES.index("popular"))
        for attempt in range(2 * self.discovery_redraws):
            again = np.flatnonzero(played)
            if len(again) == 0:
                break
            if attempt == self.discovery_redraws:  # a narrow source ran dry: fall back to popular
                src = popular
            tracks = self.draw_sources(src[again], row[again], interest_genre[again],
                                       artist_choices[again], history, rng)
            tracks = np.where(tracks >= 0, tracks, pool[again])
            pool[again] = tracks
            played[again] = history.play_counts(row[again], tracks) > 0
        return played

    def draw_sources(self, src: np.ndarray, row: np.ndarray, interest_genre: np.ndarray,
                     artist_choices: np.ndarray, history: ListeningHistory | None,
                     rng: np.random.Generator) -> np.ndarray:
        """One track per candidate from its source (index into SOURCES) for population
        ``row``, given the candidate's interest genre and artist choices (interest and
        favourite artists, -1 pad); -1 where a source has nothing (no history, an
        artist without tracks)."""
        pool = np.full(len(src), -1, dtype=np.int64)
        is_ = {name: src == code for code, name in enumerate(SOURCES)}
        taste = is_["taste"]
        pool[taste] = self.by_genre.draw(draw_columns(self.pop.genre_taste[row[taste]], rng), rng)
        pool[is_["interest"]] = self.by_genre.draw(interest_genre[is_["interest"]], rng)
        pool[is_["popular"]] = self.popular.draw(np.zeros(is_["popular"].sum(), dtype=np.int64), rng)
        if history is not None:
            pool[is_["history"]] = history.sample(row[is_["history"]], rng)
        choices = artist_choices[is_["artist"]]
        artist = draw_columns((choices >= 0).astype(np.float64) + 1e-12, rng)
        pool[is_["artist"]] = self.by_artist.draw(
            np.maximum(choices[np.arange(len(choices)), artist], 0), rng)
        kg = is_["kg"]
        affinity = self.pop.show_affinity[row[kg]] + 0.02  # non-fans see shows too
        pool[kg] = self.by_show.draw(draw_columns(affinity, rng), rng)
        return pool

    def choose(self, rows: np.ndarray, pool: np.ndarray, from_history: np.ndarray,
               rng: np.random.Generator, excluded: np.ndarray | None = None) -> Slates:
        """Show slate_size tracks per pool by Plackett-Luce sampling; exact propensities.
        Repeats within a pool and ``excluded`` candidates get score -inf: never shown."""
        cat = self.cat
        score = (0.6 * self.popularity_z[pool]
                 + 1.0 * self.pop.genre_taste[rows[:, None], cat.track_genre[pool]]
                 + 0.5 * self.pop.language_taste[rows[:, None], cat.track_language[pool]]
                 + 0.4 * from_history + rng.normal(0.0, SCORE_NOISE, pool.shape)) / self.temperature
        blocked = _duplicates(pool)
        if excluded is not None:
            out = blocked | excluded
            out[out.all(axis=1)] = blocked[out.all(axis=1)]  # keep every pool non-empty
            blocked = out
        score[blocked] = -np.inf
        weight = np.exp(score - score.max(axis=1, keepdims=True))
        gumbel = np.where(np.isfinite(score), score + rng.gumbel(size=pool.shape), -np.inf)
        picked = np.argsort(-gumbel, axis=1, kind="stable")[:, : self.slate_size]
        picked_weight = np.take_along_axis(weight, picked, axis=1)
        remaining = weight.sum(axis=1, keepdims=True) - np.cumsum(picked_weight, axis=1) + picked_weight
        shown = picked_weight > 0
        propensity = np.where(shown, picked_weight / np.where(shown, remaining, 1.0), 0.0)
        tracks = np.where(shown, np.take_along_axis(pool, picked, axis=1), -1)
        return Slates(tracks=tracks, propensity=propensity, logits=score, picked=picked)


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


# Marginal slate probabilities for off-policy evaluation -----------------------------

#: Enumerate every ordered slate exactly when a pool has at most this many ordered
#: k-subsets (n! / (n - k)!); larger pools use the Monte-Carlo estimate.
EXACT_SLATES_LIMIT = 5040
_MARGINAL_CHUNK_CELLS = 4_000_000  # keys held at once by the Monte-Carlo estimate


def exact_position_marginals(logits: np.ndarray, k: int) -> np.ndarray:
    """(slates, pool, k): the exact Plackett-Luce probability that pool item i lands at
    position j of a slate of ``k`` drawn from softmax(``logits``) without replacement,
    by enumerating every ordered k-subset (small pools only: see EXACT_SLATES_LIMIT).
    Items with logit -inf are never shown (probability 0); a pool with fewer than k
    such finite items gives a shorter slate."""
    from itertools import permutations

    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    n_slates, n = logits.shape
    k = min(k, n)
    tuples = np.array(list(permutations(range(n), k)), dtype=np.int64).reshape(-1, k)
    finite = np.isfinite(logits)
    top = np.where(finite.any(axis=1), np.max(np.where(finite, logits, -np.inf), axis=1), 0.0)
    weight = np.where(finite, np.exp(logits - top[:, None]), 0.0)
    zero = ~finite
    prob = np.ones((n_slates, len(tuples)))
    used_weight = np.zeros_like(prob)
    used_zero = np.zeros_like(prob)
    for j in range(k):
        w = weight[:, tuples[:, j]]
        remaining = weight.sum(axis=1, keepdims=True) - used_weight
        zeros_left = zero.sum(axis=1, keepdims=True) - used_zero
        # Once no weight remains the slate has ended: spread the (irrelevant) tail
        # uniformly over the zero-weight items, so each item's marginals stay exact.
        ended = remaining <= 1e-300
        is_zero = zero[:, tuples[:, j]]
        step = np.where(ended, np.where(is_zero, 1.0 / np.maximum(zeros_left, 1), 0.0),
                        w / np.where(ended, 1.0, remaining))
        prob *= step
        used_weight += w
        used_zero += is_zero
    out = np.zeros((n_slates, n, k))
    for j in range(k):
        one_hot = np.zeros((len(tuples), n))
        one_hot[np.arange(len(tuples)), tuples[:, j]] = 1.0
        out[:, :, j] = prob @ one_hot
    out[zero] = 0.0
    return out


def slate_marginals(logits: np.ndarray, k: int, items: np.ndarray, positions: np.ndarray,
                    draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """For each queried pool item ``items[s, m]`` (-1: none) of slate ``s``: the
    probability that a Plackett-Luce slate of ``k`` drawn from softmax(``logits[s]``)
    contains it (inclusion) and that it sits at position ``positions[s, m]`` (0-based).

    Exact (enumeration) when the pool has at most EXACT_SLATES_LIMIT ordered k-subsets;
    otherwise a seeded Monte-Carlo estimate over ``draws`` Gumbel top-k draws per slate,
    Rao-Blackwellised: in each draw the other items' keys are kept and the item's own
    Gumbel is integrated out analytically, i.e. with o_0 >= o_1 >= ... the others' keys
    in decreasing order, P(at position j | others) = F(o_{j-1} - s_i) - F(o_j - s_i)
    and P(included | others) = 1 - F(o_{k-1} - s_i), F the standard Gumbel CDF; the
    mean over draws is unbiased and far less noisy than counting hits. Returns
    (inclusion, at_position, exact); 0 where ``items`` is -1."""
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    items = np.atleast_2d(np.asarray(items, dtype=np.int64))
    positions = np.atleast_2d(np.asarray(positions, dtype=np.int64))
    n_slates, n = logits.shape
    k = min(k, n)
    asked = items >= 0
    item = np.maximum(items, 0)
    pos = np.clip(positions, 0, k - 1)
    if len(logits) == 0:
        return np.zeros(items.shape), np.zeros(items.shape), True
    if _ordered_subsets(n, k) <= EXACT_SLATES_LIMIT:
        table = exact_position_marginals(logits, k)
        rows = np.arange(n_slates)[:, None]
        inclusion = table[rows, item].sum(axis=2)
        at_position = table[rows, item, pos]
        return np.where(asked, inclusion, 0.0), np.where(asked, at_position, 0.0), True

    inclusion = np.zeros(items.shape)
    at_position = np.zeros(items.shape)
    chunk = max(1, _MARGINAL_CHUNK_CELLS // (draws * (n + 1)))
    for lo in range(0, n_slates, chunk):
        sl = slice(lo, lo + chunk)
        inc, at = _rao_blackwell(logits[sl], k, item[sl], pos[sl], draws, rng)
        inclusion[sl], at_position[sl] = inc, at
    return np.where(asked, inclusion, 0.0), np.where(asked, at_position, 0.0), False


def _ordered_subsets(n: int, k: int) -> int:
    count = 1
    for i in range(n - k + 1, n + 1):
        count *= i
    return count


def _gumbel_cdf(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(-np.exp(-z))


def _rao_blackwell(logits: np.ndarray, k: int, item: np.ndarray, pos: np.ndarray, draws: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo marginals of one chunk of slates (see slate_marginals)."""
    n_slates, n = logits.shape
    # Keys in float32 (Gumbel = -log Exp(1)): half the memory traffic of float64; one
    # -inf column so that k + 1 <= columns.
    keys = np.empty((n_slates, draws, n + 1), dtype=np.float32)
    keys[:, :, :n] = logits[:, None, :]
    exponential = rng.standard_exponential(size=(n_slates, draws, n), dtype=np.float32)
    keys[:, :, :n] -= np.log(np.maximum(exponential, np.finfo(np.float32).tiny))
    keys[:, :, n] = -np.inf
    # v[..., 0] >= ... >= v[..., k]: the k + 1 largest keys of each draw.
    v = -np.sort(np.partition(-keys, k, axis=2)[:, :, : k + 1], axis=2).astype(np.float64)
    s = np.take_along_axis(logits, item, axis=1)[:, None, :]  # (slates, 1, m)
    x = np.take_along_axis(keys, np.broadcast_to(item[:, None, :], (n_slates, draws, item.shape[1])), axis=2)
    top_k = v[:, :, :k]
    in_top = x >= top_k[:, :, -1:]  # the item is in this draw's slate
    rank = (top_k[:, :, None, :] > x[..., None]).sum(axis=3)  # its position when in_top

    def others_key(j: np.ndarray) -> np.ndarray:
        """o_j: the j-th largest key among the other items (j may be -1: +inf)."""
        shifted = np.where(in_top & (j >= rank), j + 1, j)
        gathered = np.take_along_axis(v, np.clip(shifted, 0, k), axis=2)
        return np.where(j < 0, np.inf, gathered)

    last = np.full(x.shape, k - 1)
    j = np.broadcast_to(pos[:, None, :], x.shape)
    with np.errstate(invalid="ignore"):
        inclusion = 1.0 - _gumbel_cdf(others_key(last) - s)
        at_position = _gumbel_cdf(others_key(j - 1) - s) - _gumbel_cdf(others_key(j) - s)
    finite = np.isfinite(s)
    inclusion = np.where(finite, np.nan_to_num(inclusion), 0.0)
    at_position = np.where(finite, np.nan_to_num(at_position), 0.0)
    return inclusion.mean(axis=1), at_position.mean(axis=1)

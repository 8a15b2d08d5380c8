"""The listeners of the simulated world: profiles, long-term taste, drifting interests.

Who they are:
- ``regular`` listeners signed up long before the world starts and listen on some days;
  ``hyperactive`` ones listen many times a day in long sessions; ``new`` ones sign up
  during the world (no events before their signup date; some never listen at all, and
  only their profile is known); ``bot`` is an always-on player (a shop looping a small
  playlist for many hours), simulated separately in behaviour.py.
- Anonymous visitors (no user id) are extra taste rows after the users: each anonymous
  session is one visitor with a random taste and a single interest.

What they like, and why each part is there:
- The profile predicts taste, so profile-only recall works for new users: the age bucket
  tilts the genre prior (young: pop/hiphop/electronic; older: jazz/folk/classical) and
  the home language dominates language taste.
- Long-term taste: genre weights, language weights and a few favourite artists, each
  scaled to max 1.
- Show affinities: about a third of listeners are fans of one or two shows. A fan likes
  the show's soundtrack and the artists who appeared in its variety season (the ``kg``
  part of the utility), which is what the knowledge graph must recover.
- Interests: 1..max_interests per user, each a genre, three artists of it and an
  emotion centre; their weights drift over the days (a per-interest trend plus a random
  walk in log space), written out per day as truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from encore.platform.config import WorldConfig
from encore.platform.world import schema
from encore.platform.world.catalog import Catalog, language_origins
from encore.platform.world.rhythm import PEAKS
from encore.platform.world.seeds import stream

KIND_CODES = {kind: code for code, kind in enumerate(schema.USER_KINDS)}
FAVOURITE_ARTISTS = 8
ARTISTS_PER_INTEREST = 3
SHOW_FAN_SHARE = 0.35
DORMANT_NEW_USER_SHARE = 0.3  # new users with a profile but no events at all
# Genres each age bucket leans to (unknown genres get a random lean).
AGE_GENRE_LEAN = {
    "13-17": ("pop", "hiphop", "electronic", "rnb"),
    "18-24": ("pop", "hiphop", "electronic", "rnb"),
    "25-34": ("rock", "electronic", "rnb", "pop"),
    "35-44": ("rock", "jazz", "folk", "metal"),
    "45+": ("classical", "jazz", "folk", "rock"),
}


@dataclass(frozen=True)
class Population:
    """Users (rows 0..n_users-1) then anonymous visitors (rows n_users..)."""

    n_users: int
    kind: np.ndarray  # code into schema.USER_KINDS (users only)
    signup_day: np.ndarray  # day index relative to the world start (negative: before)
    never_active: np.ndarray  # bool: new users with only a profile
    age_bucket: np.ndarray
    region: np.ndarray  # index into Catalog.origins
    home_language: np.ndarray
    active_prob: np.ndarray  # chance of listening on a day
    sessions_per_day: np.ndarray  # mean extra sessions on an active day
    peak_mix: np.ndarray  # (rows, len(PEAKS)) weights of the daily peaks
    genre_taste: np.ndarray  # (rows, genres) in [0, 1]
    language_taste: np.ndarray  # (rows, languages) in [0, 1]
    favourite_artists: np.ndarray  # (rows, FAVOURITE_ARTISTS), -1 pad
    favourite_weight: np.ndarray  # (rows, FAVOURITE_ARTISTS)
    show_affinity: np.ndarray  # (rows, shows) in [0, 1]
    n_interests: np.ndarray
    interest_genre: np.ndarray  # (rows, max_interests)
    interest_artists: np.ndarray  # (rows, max_interests, ARTISTS_PER_INTEREST)
    interest_center: np.ndarray  # (rows, max_interests, 2) valence, arousal
    interest_weight: np.ndarray  # (days, rows, max_interests), 0 for unused slots

    @property
    def rows(self) -> int:
        return len(self.genre_taste)


def _counts(n: int, cfg: WorldConfig) -> dict[str, int]:
    def share(s: float) -> int:
        return max(1, round(n * s)) if s > 0 and n >= 4 else 0

    counts = {"bot": share(cfg.bot_share), "hyperactive": share(cfg.hyperactive_share),
              "new": share(cfg.new_user_share)}
    counts["regular"] = n - sum(counts.values())
    if counts["regular"] < 0:
        raise ValueError("bot, hyperactive and new user shares leave no room for regular users")
    return counts


def build_population(cfg: WorldConfig, cat: Catalog) -> Population:
    rng = stream(cfg.seed, "users")
    n_users = cfg.users
    visitors = cfg.anonymous_sessions_per_day * cfg.days
    rows = n_users + visitors
    n_genres, n_langs = len(cat.genres), len(cat.languages)

    counts = _counts(n_users, cfg)
    kind = rng.permutation(np.concatenate(
        [np.full(counts[k], KIND_CODES[k]) for k in schema.USER_KINDS]))
    is_new = kind == KIND_CODES["new"]
    signup_day = np.where(is_new, rng.integers(0, cfg.days, n_users), -rng.integers(30, 1500, n_users))
    never_active = is_new & (rng.random(n_users) < DORMANT_NEW_USER_SHARE)

    age_bucket = rng.choice(len(schema.AGE_BUCKETS), size=rows, p=[0.12, 0.3, 0.28, 0.17, 0.13])
    language_share = np.bincount(cat.artist_language, minlength=n_langs) + 1.0
    home_language = rng.choice(n_langs, size=rows, p=language_share / language_share.sum())
    origins_of = language_origins(cat.languages)
    region = np.array([cat.origins.index(origins_of[h][rng.integers(len(origins_of[h]))])
                       for h in home_language])

    hyper = kind == KIND_CODES["hyperactive"]
    active_prob = np.concatenate([np.where(hyper, 0.95, rng.uniform(0.25, 0.85, n_users)),
                                  np.ones(visitors)])
    sessions_per_day = np.concatenate([np.where(hyper, 5.0, rng.uniform(0.3, 1.2, n_users)),
                                       np.zeros(visitors)])
    peak_mix = rng.dirichlet(np.ones(len(PEAKS)), size=rows)

    lean = np.zeros((len(schema.AGE_BUCKETS), n_genres))
    for a, bucket in enumerate(schema.AGE_BUCKETS):
        for g, genre in enumerate(cat.genres):
            lean[a, g] = 1.0 if genre in AGE_GENRE_LEAN[bucket] else 0.0
    lean += rng.uniform(0.0, 0.3, size=lean.shape)
    genre_taste = rng.gamma(0.4 + 1.2 * lean[age_bucket])
    genre_taste /= genre_taste.max(axis=1, keepdims=True)
    language_taste = rng.uniform(0.0, 0.35, size=(rows, n_langs)) * (rng.random((rows, n_langs)) < 0.4)
    language_taste[np.arange(rows), home_language] = 1.0

    artist_appeal = (cat.artist_popularity[None, :] ** 0.5
                     * genre_taste[:, cat.artist_genre] ** 2
                     * language_taste[:, cat.artist_language])
    favourite_artists = _weighted_sample_rows(artist_appeal, FAVOURITE_ARTISTS, rng)
    favourite_artists[n_users:] = -1  # visitors have no history of favourites
    favourite_weight = np.where(favourite_artists >= 0,
                                rng.uniform(0.3, 1.0, favourite_artists.shape), 0.0)

    show_affinity = _show_affinity(rows, n_users, cat, language_taste, rng)
    interests = _interests(cfg, cat, rows, n_users, genre_taste, language_taste, rng)
    return Population(
        n_users=n_users, kind=kind, signup_day=signup_day, never_active=never_active,
        age_bucket=age_bucket, region=region, home_language=home_language,
        active_prob=active_prob, sessions_per_day=sessions_per_day, peak_mix=peak_mix,
        genre_taste=genre_taste, language_taste=language_taste,
        favourite_artists=favourite_artists, favourite_weight=favourite_weight,
        show_affinity=show_affinity, **interests,
    )


def _weighted_sample_rows(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct column indices per row, drawn without replacement ∝ weights
    (Gumbel top-k); columns with zero weight are never drawn (-1 when a row runs out)."""
    k = min(k, weights.shape[1])
    with np.errstate(divide="ignore"):
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
    top = np.argsort(-keys, axis=1, kind="stable")[:, :k]
    return np.where(np.isfinite(np.take_along_axis(keys, top, axis=1)), top, -1)


def _show_affinity(rows: int, n_users: int, cat: Catalog, language_taste: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """About SHOW_FAN_SHARE of users are fans of 1-2 shows, picked ∝ language taste."""
    show_language = np.array([
        np.bincount(cat.track_language[cat.track_show == s], minlength=len(cat.languages)).argmax()
        if cat.show_kind[s] == 0 else
        np.bincount(cat.artist_language[cat.artist_in_show[:, s]], minlength=len(cat.languages)).argmax()
        for s in range(cat.n_shows)
    ])
    appeal = language_taste[:, show_language] + 0.05
    picks = _weighted_sample_rows(appeal, 2, rng)
    fan = (rng.random(rows) < SHOW_FAN_SHARE) & (np.arange(rows) < n_users)
    second = rng.random(rows) < 0.4
    affinity = np.zeros((rows, cat.n_shows))
    r = np.arange(rows)
    affinity[r[fan], picks[fan, 0]] = rng.uniform(0.6, 1.0, fan.sum())
    both = fan & second & (picks[:, 1] >= 0)
    affinity[r[both], picks[both, 1]] = rng.uniform(0.4, 0.8, both.sum())
    return affinity


def _interests(cfg: WorldConfig, cat: Catalog, rows: int, n_users: int,
               genre_taste: np.ndarray, language_taste: np.ndarray,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Interest slots per row and their drifting weights over the days."""
    k = cfg.max_interests
    n_interests = np.where(np.arange(rows) < n_users, rng.integers(1, k + 1, rows), 1)
    used = np.arange(k)[None, :] < n_interests[:, None]
    interest_genre = _weighted_sample_rows(genre_taste ** 2 + 1e-3, k, rng)
    interest_genre = np.where(interest_genre >= 0, interest_genre, 0)

    genre_center = np.array([
        [cat.valence[cat.track_genre == g].mean(), cat.arousal[cat.track_genre == g].mean()]
        if (cat.track_genre == g).any() else [0.0, 0.0]
        for g in range(len(cat.genres))
    ])
    interest_center = np.clip(genre_center[interest_genre] + rng.normal(0, 0.3, (rows, k, 2)), -1, 1)

    interest_artists = np.full((rows, k, ARTISTS_PER_INTEREST), -1, dtype=np.int64)
    artist_appeal = cat.artist_popularity[None, :] ** 0.5 * language_taste[:, cat.artist_language]
    for slot in range(k):
        in_genre = cat.artist_genre[None, :] == interest_genre[:, slot:slot + 1]
        interest_artists[:, slot] = _weighted_sample_rows(
            artist_appeal * in_genre, ARTISTS_PER_INTEREST, rng)

    base = np.log(rng.dirichlet(np.ones(k), size=rows) + 1e-3)
    trend = rng.normal(0.0, 0.08, size=(rows, k))
    walk = np.cumsum(rng.normal(0.0, 0.1, size=(cfg.days, rows, k)), axis=0)
    logits = base[None] + trend[None] * np.arange(cfg.days)[:, None, None] + walk
    logits = np.where(used[None], logits, -np.inf)
    weight = np.exp(logits - logits.max(axis=2, keepdims=True))
    weight /= weight.sum(axis=2, keepdims=True)
    return {"n_interests": n_interests, "interest_genre": interest_genre,
            "interest_artists": interest_artists, "interest_center": interest_center,
            "interest_weight": weight}


def population_tables(cfg: WorldConfig, cat: Catalog, pop: Population) -> dict[str, pa.Table]:
    """users.parquet (the profile a platform knows) and the truth files: each user's
    kind, taste and interests (users only, not visitors)."""
    n = pop.n_users
    user_ids = np.arange(n, dtype=np.int64)
    origins, languages, genres = (np.array(x, dtype=object) for x in (cat.origins, cat.languages, cat.genres))
    signup = np.array([cfg.start_date + timedelta(days=int(d)) for d in pop.signup_day])
    users = pa.table({
        "user_id": user_ids, "signup_date": pa.array(signup, type=pa.date32()),
        "age_bucket": np.array(schema.AGE_BUCKETS, dtype=object)[pop.age_bucket[:n]],
        "region": origins[pop.region[:n]], "home_language": languages[pop.home_language[:n]],
    }, schema=schema.USERS)
    kinds = pa.table({
        "user_id": user_ids, "kind": np.array(schema.USER_KINDS, dtype=object)[pop.kind],
        "never_active": pop.never_active,
    }, schema=schema.USER_KIND_TRUTH)

    def as_map(keys: np.ndarray, values: np.ndarray, key_type: pa.DataType) -> pa.Array:
        keep = values > 0
        offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
        return pa.MapArray.from_arrays(offsets, pa.array(keys[keep], type=key_type),
                                       pa.array(values[keep].astype(np.float32)))

    taste = pa.table({
        "user_id": user_ids,
        "genre_weights": as_map(np.broadcast_to(genres, (n, len(genres))), pop.genre_taste[:n], pa.string()),
        "language_weights": as_map(np.broadcast_to(languages, (n, len(languages))),
                                   pop.language_taste[:n], pa.string()),
        "artist_weights": as_map(pop.favourite_artists[:n], pop.favourite_weight[:n], pa.int64()),
        "show_affinities": as_map(np.broadcast_to(np.arange(cat.n_shows), (n, cat.n_shows)),
                                  pop.show_affinity[:n], pa.int64()),
    }, schema=schema.USER_TASTE)
    return {"users/users.parquet": users, "truth/user_kinds.parquet": kinds,
            "truth/user_taste.parquet": taste,
            "truth/interests.parquet": _interest_table(cfg, cat, pop)}


def _interest_table(cfg: WorldConfig, cat: Catalog, pop: Population) -> pa.Table:
    n = pop.n_users
    day, user, slot = np.nonzero(pop.interest_weight[:, :n, :] > 0)
    dates = np.array([cfg.start_date + timedelta(days=d) for d in range(cfg.days)])
    artists = pop.interest_artists[user, slot]
    keep = artists >= 0
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int32)
    return pa.table({
        "user_id": user.astype(np.int64), "date": pa.array(dates[day], type=pa.date32()),
        "interest_id": slot.astype(np.int32),
        "weight": pop.interest_weight[day, user, slot].astype(np.float32),
        "genre": np.array(cat.genres, dtype=object)[pop.interest_genre[user, slot]],
        "artist_ids": pa.ListArray.from_arrays(offsets, pa.array(artists[keep], type=pa.int64())),
        "valence_center": pop.interest_center[user, slot, 0].astype(np.float32),
        "arousal_center": pop.interest_center[user, slot, 1].astype(np.float32),
    }, schema=schema.INTERESTS)

"""Each listener's listening before day 0, so the world starts in a steady state.

Without a past every listener would start day 0 with an empty history: nothing to
re-play, so the repeat share would start near 0 and climb for weeks. Instead, a user who
signed up before the world has listened for ``min(world.past_days, days since signup)``
days; on each such day they are active with their ``active_prob`` and play
``past_plays_per_session`` tracks in each of their ``1 + sessions_per_day`` sessions
(the expected count, Poisson-drawn). New users (signed up during the world) have no
past, and bots, whose playlist is their whole life, have none either.

Each past play is drawn, consistently with the listener's taste, from the same sources
as the logging policy's candidates (policy.py) in ``PAST_SOURCE_MIX``: a genre of their
long-term taste, the genre of one of their interests (chosen by its day-0 weight), one
of their interest or favourite artists, a popular track, or a track of a show they like;
within a genre or artist, tracks are drawn by popularity, with replacement, so
favourites are played several times. The result, play counts per (user, track), seeds
the listening history (history.py) and is written to ``users/past_plays.parquet``: it
is what the platform logged of each listener before the world's event log begins.

A play "repeats" when the listener played the track before: earlier in the event log
or in this past (``load.repeat_share``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from encore.platform.config import WorldConfig
from encore.platform.world import schema
from encore.platform.world.policy import SOURCES, LoggingPolicy
from encore.platform.world.seeds import draw_columns, stream
from encore.platform.world.users import KIND_CODES, Population

PAST_SOURCE_MIX = {"taste": 0.3, "interest": 0.35, "artist": 0.25, "popular": 0.05, "kg": 0.05}


@dataclass(frozen=True)
class ListeningPast:
    """Play counts before day 0, sorted by (user, track)."""

    user: np.ndarray
    track: np.ndarray
    plays: np.ndarray

    def table(self) -> pa.Table:
        return pa.table({"user_id": self.user.astype(np.int64), "track_id": self.track.astype(np.int64),
                         "plays": self.plays.astype(np.int32)}, schema=schema.PAST_PLAYS)


def listening_past(cfg: WorldConfig, pop: Population, policy: LoggingPolicy) -> ListeningPast:
    rng = stream(cfg.seed, "past")
    n = pop.n_users
    days = np.clip(-pop.signup_day, 0, cfg.past_days)
    has_past = (pop.kind != KIND_CODES["bot"]) & (pop.kind != KIND_CODES["new"]) & ~pop.never_active
    expected = (days * pop.active_prob[:n] * (1 + pop.sessions_per_day[:n]) * cfg.past_plays_per_session)
    per_user = np.where(has_past, rng.poisson(expected), 0)
    row = np.repeat(np.arange(n), per_user)

    share = np.array([PAST_SOURCE_MIX.get(name, 0.0) for name in SOURCES])
    src = rng.choice(len(SOURCES), size=len(row), p=share / share.sum())
    slot = draw_columns(pop.interest_weight[0, row], rng) if len(row) else np.zeros(0, dtype=np.int64)
    interest_genre = pop.interest_genre[row, slot]
    artist_choices = np.concatenate([pop.interest_artists[row, slot], pop.favourite_artists[row]], axis=1)
    track = policy.draw_sources(src, row, interest_genre, artist_choices, None, rng)
    missing = track < 0
    track[missing] = policy.by_genre.draw(draw_columns(pop.genre_taste[row[missing]], rng), rng)

    keys, plays = np.unique(row.astype(np.int64) * policy.cat.n_tracks + track, return_counts=True)
    return ListeningPast(user=keys // policy.cat.n_tracks, track=keys % policy.cat.n_tracks, plays=plays)

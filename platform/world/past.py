"""Each listener's listening before day 0, so the world starts in its steady state.

Listeners remember the plays of their last ``world.history_window_days`` days
(history.py). Without a past every listener would start day 0 with an empty memory
and the repeat share would start near 0 and climb; with a past unlike the world's own
listening it would still drift for a window's length towards the world's steady
state. So the past is drawn day by day, like the world's plays, for the
``world.past_days`` days before day 0 (at least the window: config checks it):

- a user who signed up before the world listens on each such day after their signup,
  Poisson(``active_prob * (1 + sessions_per_day) * past_plays_per_session``) plays,
  the world's own rate; new users (signed up during the world) and bots (whose
  playlist is their whole life) have no past;
- each play is the logging policy's first pick (``LoggingPolicy.choose``, by its score)
  from a small pool of ``PAST_POOL`` candidates (pool size / slate size, as in the
  world) drawn from the policy's sources (policy.py) in ``PAST_SOURCE_MIX``, the
  world's pool mix weighted by the scenarios' shares of plays: a genre of their
  long-term taste, the genre of one of their interests (by its day-0 weight), one of
  their interest or favourite artists, a popular track, a track they played in their
  window so far (the history source), or a track of a show they like; the discovery
  sources redraw tracks already in the window, as in the world
  (``LoggingPolicy.redraw_played``);
- the day's plays enter the listener's window before the next day is drawn.

So the window holds, on day 0, what it holds on any later day: as many plays, as many
distinct tracks, chosen by the same score, and the repeat share is flat from day 0.
The result, play counts per (user, track, day), seeds the listening history and is
written to ``users/past_plays.parquet`` (with each day's date): what the platform
logged of each listener before the world's event log begins.

A play "repeats" when the listener played the track in the previous
``history_window_days`` days: earlier in the event log or in this past
(``load.repeat_flags``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from encore.platform.config import WorldConfig
from encore.platform.world import schema
from encore.platform.world.history import ListeningHistory
from encore.platform.world.policy import SOURCES, LoggingPolicy
from encore.platform.world.seeds import draw_columns, stream
from encore.platform.world.users import KIND_CODES, Population

# The logging policy's pool mix (policy.SOURCE_MIX) weighted by the scenarios' shares of
# plays (about 60% private radio, 25% playlist, 12% daily recommend, 3% search).
PAST_SOURCE_MIX = {"taste": 0.24, "interest": 0.37, "artist": 0.09, "popular": 0.08, "history": 0.12,
                   "kg": 0.10}
PAST_POOL = 6  # candidates per past play: the policy's pool size / slate size


@dataclass(frozen=True)
class ListeningPast:
    """Play counts before day 0 per (user, track, day), sorted by (user, track, day);
    ``day`` is relative to the world's first day (-1: the day before)."""

    user: np.ndarray
    track: np.ndarray
    day: np.ndarray
    plays: np.ndarray

    def table(self, start_date: date) -> pa.Table:
        dates = np.datetime64(start_date, "D") + self.day.astype("timedelta64[D]")
        return pa.table({"user_id": self.user.astype(np.int64), "track_id": self.track.astype(np.int64),
                         "date": pa.array(dates, type=pa.date32()), "plays": self.plays.astype(np.int32)},
                        schema=schema.PAST_PLAYS)


def listening_past(cfg: WorldConfig, pop: Population, policy: LoggingPolicy) -> ListeningPast:
    rng = stream(cfg.seed, "past")
    n = pop.n_users
    days = np.clip(-pop.signup_day, 0, cfg.past_days)
    has_past = (pop.kind != KIND_CODES["bot"]) & (pop.kind != KIND_CODES["new"]) & ~pop.never_active
    per_day = pop.active_prob[:n] * (1 + pop.sessions_per_day[:n]) * cfg.past_plays_per_session
    share = np.array([PAST_SOURCE_MIX.get(name, 0.0) for name in SOURCES])
    history = ListeningHistory(policy.cat.n_tracks, cfg.history_window_days, day=-cfg.past_days)
    parts = []
    for day in range(-cfg.past_days, 0):  # one vectorised draw per day: the window moves on
        history.start_day(day)
        listens = has_past & (days >= -day)
        listener = np.repeat(np.arange(n), np.where(listens, rng.poisson(per_day), 0))
        row = np.repeat(listener, PAST_POOL)  # a small pool of candidates per play
        src = rng.choice(len(SOURCES), size=len(row), p=share / share.sum())
        slot = draw_columns(pop.interest_weight[0, row], rng) if len(row) else np.zeros(0, dtype=np.int64)
        interest_genre = pop.interest_genre[row, slot]
        artist_choices = np.concatenate([pop.interest_artists[row, slot], pop.favourite_artists[row]], axis=1)
        pool = policy.draw_sources(src, row, interest_genre, artist_choices, history, rng)
        missing = pool < 0
        pool[missing] = policy.by_genre.draw(draw_columns(pop.genre_taste[row[missing]], rng), rng)
        from_history = (src == SOURCES.index("history")) & ~missing
        src = np.where(missing, SOURCES.index("taste"), src)
        excluded = policy.redraw_played(pool, src, row, interest_genre, artist_choices,
                                        ~from_history & (src != SOURCES.index("kg")), history, rng)
        shape = (len(listener), PAST_POOL)
        excluded = excluded.reshape(shape)
        slates = policy.choose(listener, pool.reshape(shape), from_history.reshape(shape), rng, excluded)
        row, track = listener, slates.tracks[:, 0]
        history.record_plays(row, track)
        parts.append((row, track, np.full(len(row), day)))
    empty = np.zeros(0, np.int64)
    row, track, days = (np.concatenate(column) for column in zip(*parts)) if parts else (empty, empty, empty)

    n_days = max(cfg.past_days, 1)
    keys, plays = np.unique((row.astype(np.int64) * policy.cat.n_tracks + track) * n_days + days + n_days,
                            return_counts=True)
    pair, past_day = keys // n_days, keys % n_days - n_days
    return ListeningPast(user=pair // policy.cat.n_tracks, track=pair % policy.cat.n_tracks, day=past_day, plays=plays)

"""Planning a day: who listens, when, in which scenario, in which mood.

For each listener active on the day (a user's chance of being active is their
``active_prob``; hyperactive listeners are nearly always on), the plan draws:
- how many sessions (1 + Poisson(sessions_per_day)), their start hours from the
  listener's daily peaks, laid out in order so that consecutive sessions of a listener
  are separated by more than the inactivity gap (so the sessionization rule finds
  exactly these sessions);
- the scenario, and a planned length that never exceeds ``max_session_minutes`` (the
  listener tires: play is cut at the planned end); sessions end before midnight;
- the interest active in the session, drawn ∝ the interest's weight that day times
  exp(rhythm weight * weekend lift of its genre - MOOD_SELECTIVITY * emotion weight *
  |its arousal centre - the clock arousal|): listeners pick what they would enjoy now,
  so the same utility weights that switch off the emotion and rhythm parts also switch
  off these choices; and the session's target emotion: ``CLOCK_SHARE_OF_TARGET`` of the
  clock mood plus the rest from the interest's centre.
Anonymous visitors each get one radio or search session.
New users listen only from their signup day; dormant new users and bots are not
planned here (bots are simulated in bots.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encore.platform.config import SessionsConfig, WorldConfig
from encore.platform.world import schema
from encore.platform.world.rhythm import (
    CLOCK_SHARE_OF_TARGET, hour_emotion, sample_start_hours,
)
from encore.platform.world.seeds import draw_columns
from encore.platform.world.users import KIND_CODES, Population

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MAX_SESSIONS_PER_DAY = 12
SCENARIO_SHARE = {"daily_recommend": 0.3, "private_radio": 0.35, "playlist": 0.2, "search": 0.15}
VISITOR_SCENARIO_SHARE = {"private_radio": 0.6, "search": 0.4}
# Planned session length in minutes (low, high); high is capped at max_session_minutes.
SESSION_MINUTES = {"daily_recommend": (5, 40), "private_radio": (15, 240), "playlist": (10, 240),
                   "search": (2, 15)}
HYPERACTIVE_LENGTH_FACTOR = 1.5
AUTOPLAY_SCENARIOS = ("private_radio", "playlist")
AUTOPLAY_CODES = [schema.SCENARIOS.index(s) for s in AUTOPLAY_SCENARIOS]
TYPICAL_TRACK_MS = 210_000
LAST_END_HOUR = 23.9
MOOD_SELECTIVITY = 2.0


@dataclass(frozen=True)
class SessionPlan:
    """One entry per planned session, ordered by (round, row)."""

    row: np.ndarray
    round: np.ndarray  # rank of the session among its listener's sessions of the day
    scenario: np.ndarray  # index into schema.SCENARIOS
    start_ms: np.ndarray  # epoch ms
    limit_ms: np.ndarray  # planned end: no event after it
    interest_slot: np.ndarray
    target_valence: np.ndarray
    target_arousal: np.ndarray
    n_slates: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def subset(self, mask: np.ndarray) -> SessionPlan:
        return SessionPlan(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def plan_day(cfg: WorldConfig, sessions: SessionsConfig, pop: Population, day: int, day_start_ms: int,
             lift: np.ndarray, rng: np.random.Generator) -> SessionPlan:
    """The day's sessions (lengths within ``sessions``' maximum, pauses beyond its
    inactivity gap); ``lift`` is the day's rhythm lift per genre (rhythm.day_lift)."""
    weights = cfg.utility_weights
    n = pop.n_users
    listens = ((pop.kind != KIND_CODES["bot"]) & (pop.signup_day <= day) & ~pop.never_active
               & (rng.random(n) < pop.active_prob[:n]))
    users = np.flatnonzero(listens)
    per_user = np.minimum(1 + rng.poisson(pop.sessions_per_day[users]), MAX_SESSIONS_PER_DAY)
    visitors = n + day * cfg.anonymous_sessions_per_day + np.arange(cfg.anonymous_sessions_per_day)
    row = np.concatenate([np.repeat(users, per_user), visitors])
    is_visitor = row >= n

    scenario = np.where(
        is_visitor,
        _draw_scenario(VISITOR_SCENARIO_SHARE, len(row), rng),
        _draw_scenario(SCENARIO_SHARE, len(row), rng),
    )
    low = np.array([SESSION_MINUTES[s][0] for s in schema.SCENARIOS])[scenario]
    high = np.minimum(np.array([SESSION_MINUTES[s][1] for s in schema.SCENARIOS])[scenario],
                      sessions.max_session_minutes)
    minutes = rng.uniform(np.minimum(low, high), high)
    hyper = ~is_visitor & (pop.kind[np.minimum(row, n - 1)] == KIND_CODES["hyperactive"])
    minutes = np.where(hyper, np.minimum(minutes * HYPERACTIVE_LENGTH_FACTOR, sessions.max_session_minutes), minutes)

    hours = sample_start_hours(pop.peak_mix[row], rng, earliest=0.2, latest=23.0)
    order = np.lexsort((hours, row))
    row, scenario, minutes, hours = row[order], scenario[order], minutes[order], hours[order]
    first = np.r_[True, row[1:] != row[:-1]]
    rank = np.arange(len(row)) - np.maximum.accumulate(np.where(first, np.arange(len(row)), 0))
    pause_hours = (sessions.inactivity_gap_minutes + rng.uniform(1, 90, len(row))) / 60
    for level in range(1, int(rank.max(initial=0)) + 1):
        at = np.flatnonzero(rank == level)
        hours[at] = np.maximum(hours[at], hours[at - 1] + minutes[at - 1] / 60 + pause_hours[at])
    minutes = np.minimum(minutes, (LAST_END_HOUR - hours) * 60)
    keep = minutes >= 1.0
    row, scenario, minutes, hours, rank = (a[keep] for a in (row, scenario, minutes, hours, rank))

    clock_valence, clock_arousal = hour_emotion(hours)
    center = pop.interest_center[row]  # (sessions, max_interests, 2)
    suits = np.exp(weights.rhythm * lift[pop.interest_genre[row]]
                   - MOOD_SELECTIVITY * weights.emotion * np.abs(center[:, :, 1] - clock_arousal[:, None]))
    slot = draw_columns(pop.interest_weight[day, row] * suits, rng)
    chosen = center[np.arange(len(row)), slot]
    share = CLOCK_SHARE_OF_TARGET
    target = np.stack([share * clock_valence, share * clock_arousal], axis=1) + (1 - share) * chosen
    target = np.clip(target + rng.normal(0.0, 0.1, target.shape), -1.0, 1.0)

    autoplay = np.isin(scenario, AUTOPLAY_CODES)
    length_ms = (minutes * MS_PER_MINUTE).astype(np.int64)
    slates_to_fill = np.ceil(length_ms / (cfg.exposures_per_request * TYPICAL_TRACK_MS)).astype(np.int64) + 1
    browse_slates = 1 + np.minimum(rng.poisson(np.where(scenario == 0, 1.0, 0.5)), 3)
    start_ms = day_start_ms + (hours * MS_PER_HOUR).astype(np.int64)
    by_round = np.lexsort((row, rank))
    return SessionPlan(
        row=row[by_round], round=rank[by_round], scenario=scenario[by_round],
        start_ms=start_ms[by_round], limit_ms=(start_ms + length_ms)[by_round],
        interest_slot=slot[by_round],
        target_valence=target[by_round, 0], target_arousal=target[by_round, 1],
        n_slates=np.where(autoplay, slates_to_fill, browse_slates)[by_round],
    )


def _draw_scenario(share: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.array([share.get(s, 0.0) for s in schema.SCENARIOS])
    return rng.choice(len(schema.SCENARIOS), size=n, p=p / p.sum())

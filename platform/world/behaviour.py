"""What listeners do with what they are shown: the behaviour chain of a batch of sessions.

Per slate (request) the logging policy shows tracks (``exposure`` events, with position
and propensity). Then, in position order:

- Start a track (``play_start``): in the autoplay scenarios (private radio, playlist)
  nearly every shown track starts; in daily_recommend and search the listener picks,
  with probability sigmoid(PLAY_SLOPE * (utility - threshold) - POSITION_DECAY *
  position), so lower slots are picked less often whatever their utility.
- Skip it (``skip``, ``played_ms`` = when) with probability sigmoid(SKIP_SLOPE *
  (SKIP_THRESHOLD - utility)): the worse the track fits the current interest and mood,
  the lower its utility and the likelier a skip. A skip comes earlier the higher the
  mismatch: played fraction = U(0.02, 0.2) + (1 - mismatch) * U(0, 0.5).
- Otherwise it plays to the end (``play_end``, played_ms = duration), or now and then
  stops part way (``play_end`` with played_ms < duration); when the session reaches its
  planned end (the listener tires) the playing track is cut there, as a partial
  ``play_end``.
- After a complete play: ``heart`` (if not hearted already), ``share``, ``download``,
  ``comment``, each likelier the higher the utility; after a skip: ``dislike``,
  likelier the higher the mismatch; ``unheart`` (rare) when a hearted track now
  disappoints.

Time runs on within the session: browsing a slate takes seconds, each started track
takes a short pause plus its played time; the next slate comes after the last track
of the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encore.platform.world import schema
from encore.platform.world.history import ListeningHistory
from encore.platform.world.plan import AUTOPLAY_CODES, SessionPlan
from encore.platform.world.policy import LoggingPolicy, Slates
from encore.platform.world.users import Population
from encore.platform.world.utility import Context, UtilityModel

ACTION = {name: code for code, name in enumerate(schema.ACTIONS)}
AUTOPLAY_START_PROB = 0.98
PLAY_SLOPE, POSITION_DECAY = 1.5, 0.12
PLAY_THRESHOLD = {"daily_recommend": 1.0, "search": 0.6}
SKIP_SLOPE, SKIP_THRESHOLD = 1.6, 0.3
STOP_PROB = 0.04  # a listener stops a track part way for reasons of their own
REACTION_BASE = {"heart": 0.25, "share": 0.03, "download": 0.05, "comment": 0.015}
REACTION_UTILITY_MID = 1.5
DISLIKE_PER_MISMATCH = 0.3
UNHEART_PROB, UNHEART_BELOW = 0.3, 0.3
MIN_SKIP_MS = 1_000


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class EventColumns:
    """Event rows of one day before sorting; ``session`` indexes the day's sessions,
    ``slate`` the day's slates (-1: not from a slate), ``exposure`` the day's exposure
    truth rows (-1: not an exposure), ``order`` breaks ties of equal ts."""

    ts: np.ndarray
    session: np.ndarray
    slate: np.ndarray
    track: np.ndarray
    action: np.ndarray
    played_ms: np.ndarray  # -1: null
    position: np.ndarray  # -1: null
    propensity: np.ndarray  # nan: null
    exposure: np.ndarray
    order: np.ndarray

    @staticmethod
    def concat(parts: list[EventColumns]) -> EventColumns:
        return EventColumns(**{
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in EventColumns.__dataclass_fields__
        })


@dataclass
class BatchResult:
    events: EventColumns
    slate_session: np.ndarray  # per slate: index into the batch's sessions
    slate_rank: np.ndarray  # per slate: its rank within its session
    exposure_parts: dict[str, np.ndarray]  # per kept exposure: utility parts + mismatch
    exposure_track: np.ndarray
    exposure_session: np.ndarray
    session_end_ms: np.ndarray  # per session: ts of its last event
    pool: np.ndarray  # (slates, pool_size) candidate tracks per slate
    slates: Slates  # what the logging policy showed, its logits and propensities
    slate_exposed: np.ndarray  # per slate: shown before the session's planned end


class Behaviour:
    def __init__(self, pop: Population, policy: LoggingPolicy, utility: UtilityModel,
                 durations: np.ndarray) -> None:
        self.pop, self.policy, self.utility = pop, policy, utility
        self.durations = durations

    def simulate(self, plan: SessionPlan, lift: np.ndarray, history: ListeningHistory,
                 rng: np.random.Generator) -> BatchResult:
        """Simulate every session of ``plan`` (one round: at most one per listener);
        ``lift`` is the day's rhythm lift per genre (rhythm.day_lift)."""
        pop, k = self.pop, self.policy.slate_size
        slate_session = np.repeat(np.arange(len(plan)), plan.n_slates)
        first_slate = np.cumsum(plan.n_slates) - plan.n_slates  # per session
        slate_rank = np.arange(len(slate_session)) - first_slate[slate_session]
        rows = plan.row[slate_session]
        interest_genre = pop.interest_genre[rows, plan.interest_slot[slate_session]]
        interest_artists = pop.interest_artists[rows, plan.interest_slot[slate_session]]
        scenario_names = [schema.SCENARIOS[s] for s in plan.scenario[slate_session]]
        pool, from_history, excluded = self.policy.candidate_pools(
            rows, scenario_names, interest_genre, interest_artists, history, rng)
        slates = self.policy.choose(rows, pool, from_history, rng, excluded)

        n_slates = len(slate_session)
        track = slates.tracks.ravel()
        shown = track >= 0
        track = np.maximum(track, 0)
        exp_slate = np.repeat(np.arange(n_slates), k)
        exp_row = rows[exp_slate]
        exp_session = slate_session[exp_slate]
        ctx = Context(
            rows=exp_row,
            interest_genre=interest_genre[exp_slate],
            interest_artists=interest_artists[exp_slate],
            target_valence=plan.target_valence[exp_session],
            target_arousal=plan.target_arousal[exp_session],
            weekend_lift=lift,
            play_counts=history.play_counts(exp_row, track),
        )
        parts = self.utility.parts(track, ctx, rng)
        utility, mismatch = parts["utility"], parts["mismatch"]
        position = np.tile(np.arange(k), n_slates)

        scenario = plan.scenario[exp_session]
        autoplay = np.isin(scenario, AUTOPLAY_CODES)
        threshold = np.array([PLAY_THRESHOLD.get(s, 0.0) for s in schema.SCENARIOS])[scenario]
        start_prob = np.where(autoplay, AUTOPLAY_START_PROB,
                              _sigmoid(PLAY_SLOPE * (utility - threshold) - POSITION_DECAY * position))
        played = shown & (rng.random(len(track)) < start_prob)
        skip = played & (rng.random(len(track)) < _sigmoid(SKIP_SLOPE * (SKIP_THRESHOLD - utility)))
        stop = played & ~skip & (rng.random(len(track)) < STOP_PROB)
        duration = self.durations[track]
        skip_fraction = rng.uniform(0.02, 0.2, len(track)) + (1 - mismatch) * rng.uniform(0, 0.5, len(track))
        stop_fraction = rng.uniform(0.5, 0.95, len(track))
        played_ms = np.where(skip, np.maximum(skip_fraction * duration, MIN_SKIP_MS),
                             np.where(stop, stop_fraction * duration, duration)).astype(np.int64)
        played_ms = np.minimum(played_ms, duration)

        # Timeline: slate starts, then each started track after a short pause.
        browse = np.where(autoplay[::k], rng.integers(500, 2_000, n_slates),
                          rng.integers(3_000, 40_000, n_slates)) if n_slates else np.zeros(0, np.int64)
        pause = rng.integers(500, 8_000, len(track))
        spent = np.where(played, pause + played_ms, 0).reshape(n_slates, k)
        slate_total = browse + spent.sum(axis=1)
        before = np.cumsum(slate_total) - slate_total
        slate_start = plan.start_ms[slate_session] + before - before[first_slate][slate_session]
        play_start = (slate_start[:, None] + browse[:, None] + np.cumsum(spent, axis=1) - spent).ravel() + pause

        # The listener tires: nothing after the planned end; the playing track is cut.
        limit = plan.limit_ms[exp_session]
        exposed = shown & (slate_start[exp_slate] <= limit)
        played &= exposed & (play_start <= limit)
        cut = played & (play_start + played_ms > limit)
        played_ms = np.where(cut, limit - play_start, played_ms)
        skip &= played & ~cut
        complete = played & ~skip & ~stop & ~cut
        end_ts = play_start + played_ms

        hearted_before = history.is_hearted(exp_row, track)
        strength = _sigmoid(2.0 * (utility - REACTION_UTILITY_MID))
        reactions = {
            name: complete & (rng.random(len(track)) < base * strength)
            for name, base in REACTION_BASE.items()
        }
        reactions["heart"] &= ~hearted_before
        reactions["dislike"] = skip & (rng.random(len(track)) < DISLIKE_PER_MISMATCH * mismatch)
        reactions["unheart"] = (played & hearted_before & (utility < UNHEART_BELOW)
                                & (rng.random(len(track)) < UNHEART_PROB))

        history.record_plays(exp_row[played], track[played])
        history.record_hearts(exp_row[reactions["heart"]], track[reactions["heart"]], hearted=True)
        history.record_hearts(exp_row[reactions["unheart"]], track[reactions["unheart"]], hearted=False)

        exposure_ref = np.cumsum(exposed) - 1
        events = [
            self._rows(exposed, slate_start[exp_slate], ACTION["exposure"], exp_session, exp_slate,
                       track, position=position, propensity=slates.propensity.ravel(),
                       exposure=exposure_ref),
            self._rows(played, play_start, ACTION["play_start"], exp_session, exp_slate, track),
            self._rows(played & ~skip, end_ts, ACTION["play_end"], exp_session, exp_slate, track,
                       played_ms=played_ms),
            self._rows(skip, end_ts, ACTION["skip"], exp_session, exp_slate, track, played_ms=played_ms),
        ] + [self._rows(mask, end_ts, ACTION[name], exp_session, exp_slate, track)
             for name, mask in reactions.items()]
        columns = EventColumns.concat(events)
        session_end = np.full(len(plan), np.iinfo(np.int64).min)
        np.maximum.at(session_end, columns.session, columns.ts)
        return BatchResult(
            events=columns, slate_session=slate_session, slate_rank=slate_rank,
            exposure_parts={name: values[exposed] for name, values in parts.items()},
            exposure_track=track[exposed], exposure_session=exp_session[exposed],
            session_end_ms=session_end, pool=pool, slates=slates,
            slate_exposed=exposed.reshape(n_slates, k).any(axis=1),
        )

    @staticmethod
    def _rows(mask: np.ndarray, ts: np.ndarray, action: int, session: np.ndarray,
              slate: np.ndarray, track: np.ndarray, *, played_ms: np.ndarray | None = None,
              position: np.ndarray | None = None, propensity: np.ndarray | None = None,
              exposure: np.ndarray | None = None) -> EventColumns:
        n = int(mask.sum())
        index = np.flatnonzero(mask)

        def pick(values: np.ndarray | None, null: float) -> np.ndarray:
            return values[mask] if values is not None else np.full(n, null)

        return EventColumns(
            ts=ts[mask].astype(np.int64), session=session[mask], slate=slate[mask],
            track=track[mask], action=np.full(n, action, dtype=np.int64),
            played_ms=pick(played_ms, -1).astype(np.int64),
            position=pick(position, -1).astype(np.int64),
            propensity=pick(propensity, np.nan).astype(np.float64),
            exposure=pick(exposure, -1).astype(np.int64),
            order=index * len(schema.ACTIONS) + action,
        )

"""The world's ground-truth reward of a ranked list: expected complete plays.

``RewardModel.expected_completions(users, hours, day, lists)`` answers, for many
(listener, hour, list) at once, the expected number of **complete plays** (a
``play_end`` with the whole track played, the platform's label of
:mod:`encore.platform.contracts.labels`) the listener would make if the world showed them
the list at that hour of world day ``day``, under the world's own utility
(:mod:`encore.platform.world.utility`) and behaviour (:mod:`encore.platform.world.behaviour`).
It is exact up to numerical quadrature and deterministic: no random draw is made.

What is averaged over, and how (each step is what the world does when it simulates):

1. **The session's state.** The world draws the interest active in a session with
   probability ∝ the interest's weight that day x exp(rhythm weight x weekend lift of its
   genre - MOOD_SELECTIVITY x emotion weight x |its arousal centre - clock arousal|)
   (:func:`encore.platform.world.plan.plan_day`); the reward sums over every interest
   slot with exactly these probabilities. The session's target emotion is
   CLOCK_SHARE_OF_TARGET x the clock mood at ``hour`` + the rest x the interest's centre,
   plus Normal(0, TARGET_NOISE) per coordinate, clipped to [-1, 1]: the normal is
   integrated by Gauss-Hermite quadrature (``emotion_nodes`` per coordinate).
2. **The utility** of every (listener, track) in that state: ``UtilityModel.parts``
   itself with the ``noise`` part left out; its familiarity part reads ``play_counts``
   (plays of the track by the listener in the world's memory window; 0 when not given).
   The noise part, ``noise weight x Normal(0, 1)``, is integrated by Gauss-Hermite
   quadrature (``noise_nodes`` points).
3. **The behaviour.** The list is shown as consecutive slates of the world's slate size
   (``exposures_per_request``): list index i sits at position ``i mod slate_size`` of
   its slate. A track is started with probability ``sigmoid(PLAY_SLOPE x (u - threshold)
   - POSITION_DECAY x position)`` in the browsing scenarios (daily_recommend, search) and
   AUTOPLAY_START_PROB in the autoplay ones; a started track is not skipped with
   probability ``1 - sigmoid(SKIP_SLOPE x (SKIP_THRESHOLD - u))`` and then not stopped
   part way with probability ``1 - STOP_PROB``. So

       E[complete plays] = sum over shown tracks i of
           E_state,noise[ P(start | u_i, pos_i) x P(no skip | u_i) ] x (1 - STOP_PROB).

What it leaves out, on purpose: the session's planned end (the world cuts the track
playing when the listener tires, so the reward is that of a listener who browses every
slate of the list: an upper bound on what a short session would complete), and the
effect of one play on the next within the list (familiarity is as of ``play_counts``,
not updated along the list). Ids padded with -1 are not shown and count 0; a track shown
twice counts twice (the world never shows one twice in a slate; lists should not either).

Tests (tests/unit/platform/world/test_reward.py) check hand-computed cases and that the
mean of the world's own simulation of a fixed slate agrees with this expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from encore.platform.config import WorldConfig
from encore.platform.world import schema
from encore.platform.world.behaviour import (
    AUTOPLAY_START_PROB, PLAY_SLOPE, PLAY_THRESHOLD, POSITION_DECAY, SKIP_SLOPE, SKIP_THRESHOLD, STOP_PROB,
)
from encore.platform.world.catalog import Catalog, build_catalog
from encore.platform.world.plan import AUTOPLAY_SCENARIOS, MOOD_SELECTIVITY
from encore.platform.world.rhythm import CLOCK_SHARE_OF_TARGET, day_lift, hour_emotion
from encore.platform.world.users import Population, build_population
from encore.platform.world.utility import Context, UtilityModel

TARGET_NOISE = 0.1  # plan_day: the session target's Normal(0, 0.1) jitter per coordinate


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with sum w f(z) ≈ E[f(Z)], Z ~ Normal(0, 1)."""
    x, w = np.polynomial.hermite.hermgauss(n)
    return np.sqrt(2.0) * x, w / np.sqrt(np.pi)


def completion_probability(utility: np.ndarray, position: np.ndarray, scenario: str,
                           noise_scale: float, noise_nodes: int = 16) -> np.ndarray:
    """P(a shown track is played to the end) given its utility without the noise part
    (``utility``) and its slate position, averaged over the noise part
    ``noise_scale x Normal(0, 1)`` (behaviour.py's start -> skip -> stop chain)."""
    if scenario not in schema.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {schema.SCENARIOS}")
    z, w = _hermite(noise_nodes) if noise_scale > 0 else (np.zeros(1), np.ones(1))
    u = utility[..., None] + noise_scale * z
    if scenario in AUTOPLAY_SCENARIOS:
        start = np.full(u.shape, AUTOPLAY_START_PROB)
    else:
        start = _sigmoid(PLAY_SLOPE * (u - PLAY_THRESHOLD.get(scenario, 0.0))
                         - POSITION_DECAY * np.asarray(position)[..., None])
    keep = 1.0 - _sigmoid(SKIP_SLOPE * (SKIP_THRESHOLD - u))
    return (start * keep) @ w * (1.0 - STOP_PROB)


@dataclass(frozen=True)
class SessionStates:
    """Per query: the probability of each interest slot (n, slots) and, per slot and
    emotion quadrature node, the target (valence, arousal) and the node's weight."""

    slot_prob: np.ndarray  # (n, slots)
    target_valence: np.ndarray  # (n, slots, nodes)
    target_arousal: np.ndarray  # (n, slots, nodes)
    node_weight: np.ndarray  # (nodes,)


class RewardModel:
    """The ground-truth reward of a world (see the module docstring).

    Built from the world's config (``WorldConfig``; the world folder's manifest holds
    it): the catalog and the listeners are rebuilt from the seed exactly as
    ``generate_world`` built them."""

    def __init__(self, cfg: WorldConfig, cat: Catalog | None = None, pop: Population | None = None, *,
                 noise_nodes: int = 16, emotion_nodes: int = 3) -> None:
        self.cfg = cfg
        self.cat = cat if cat is not None else build_catalog(cfg)
        self.pop = pop if pop is not None else build_population(cfg, self.cat)
        weights = cfg.utility_weights
        self.noise_scale = float(weights.noise)
        self.utility = UtilityModel(self.cat, self.pop, weights.model_copy(update={"noise": 0.0}))
        self.slate_size = min(cfg.exposures_per_request, cfg.candidate_pool_size)
        self.noise_nodes, self.emotion_nodes = noise_nodes, emotion_nodes

    @classmethod
    def from_world(cls, world_dir: Path | str, **kwargs) -> RewardModel:
        """The reward of the world in ``world_dir`` (its manifest's config)."""
        from encore.platform.world.load import _read_manifest

        return cls(_read_manifest(Path(world_dir)).config, **kwargs)

    def day_index(self, day: date) -> int:
        index = (day - self.cfg.start_date).days
        if not 0 <= index < self.cfg.days:
            raise ValueError(f"{day} is not a day of this world ({self.cfg.start_date}, {self.cfg.days} days)")
        return index

    def session_states(self, rows: np.ndarray, hours: np.ndarray, day: int) -> SessionStates:
        """What plan_day would draw for a session of ``rows`` starting at ``hours`` on
        world day ``day``: interest-slot probabilities and target-emotion nodes."""
        pop, weights = self.pop, self.cfg.utility_weights
        lift = day_lift(self.cat.genres, (self.cfg.start_date + timedelta(days=day)).weekday())
        clock_valence, clock_arousal = hour_emotion(np.asarray(hours, dtype=np.float64))
        center = pop.interest_center[rows]  # (n, slots, 2)
        suits = np.exp(weights.rhythm * lift[pop.interest_genre[rows]]
                       - MOOD_SELECTIVITY * weights.emotion * np.abs(center[:, :, 1] - clock_arousal[:, None]))
        slot_weight = pop.interest_weight[day, rows] * suits
        slot_prob = slot_weight / slot_weight.sum(axis=1, keepdims=True)
        z, w = _hermite(self.emotion_nodes)
        zv, za = (a.ravel() for a in np.meshgrid(z, z, indexing="ij"))
        node_weight = np.outer(w, w).ravel()
        share = CLOCK_SHARE_OF_TARGET
        mean_v = share * clock_valence[:, None] + (1 - share) * center[:, :, 0]
        mean_a = share * clock_arousal[:, None] + (1 - share) * center[:, :, 1]
        return SessionStates(
            slot_prob=slot_prob,
            target_valence=np.clip(mean_v[..., None] + TARGET_NOISE * zv, -1.0, 1.0),
            target_arousal=np.clip(mean_a[..., None] + TARGET_NOISE * za, -1.0, 1.0),
            node_weight=node_weight,
        )

    def completion_matrix(self, users: np.ndarray, hours: np.ndarray, day: int, lists: np.ndarray,
                          play_counts: np.ndarray | None = None, scenario: str = "daily_recommend",
                          states: SessionStates | None = None) -> np.ndarray:
        """(n, L): P(complete play) of each list entry (0 where the id is -1)."""
        users = np.asarray(users, dtype=np.int64)
        lists = np.asarray(lists, dtype=np.int64).reshape(len(users), -1)
        n, length = lists.shape
        if n == 0 or length == 0:
            return np.zeros((n, length))
        if users.min() < 0 or users.max() >= self.pop.rows:
            raise ValueError(f"user rows must be in [0, {self.pop.rows})")
        if lists.max() >= self.cat.n_tracks:
            raise ValueError(f"track ids must be < {self.cat.n_tracks} (or -1 for none)")
        shown = lists >= 0
        tracks = np.maximum(lists, 0).ravel()
        counts = (np.zeros((n, length)) if play_counts is None
                  else np.asarray(play_counts, dtype=np.float64).reshape(n, length)).ravel()
        st = states if states is not None else self.session_states(users, np.asarray(hours, np.float64), day)
        position = np.tile(np.arange(length) % self.slate_size, n)
        rows = np.repeat(users, length)
        zero_rng = np.random.default_rng(0)  # parts() draws noise; its weight is 0 here
        total = np.zeros(n * length)
        slots = st.slot_prob.shape[1]
        for slot in range(slots):
            p_slot = np.repeat(st.slot_prob[:, slot], length)
            if not p_slot.any():
                continue
            for node, node_w in enumerate(st.node_weight):
                ctx = Context(
                    rows=rows,
                    interest_genre=np.repeat(self.pop.interest_genre[users, slot], length),
                    interest_artists=np.repeat(self.pop.interest_artists[users, slot], length, axis=0),
                    target_valence=np.repeat(st.target_valence[:, slot, node], length),
                    target_arousal=np.repeat(st.target_arousal[:, slot, node], length),
                    weekend_lift=day_lift(self.cat.genres,
                                          (self.cfg.start_date + timedelta(days=day)).weekday()),
                    play_counts=counts,
                )
                u = self.utility.parts(tracks, ctx, zero_rng)["utility"]
                total += p_slot * node_w * completion_probability(
                    u, position, scenario, self.noise_scale, self.noise_nodes)
        return np.where(shown, total.reshape(n, length), 0.0)

    def expected_completions(self, users: np.ndarray, hours: np.ndarray, day: int, lists: np.ndarray,
                             play_counts: np.ndarray | None = None, scenario: str = "daily_recommend",
                             chunk: int = 256) -> np.ndarray:
        """(n,): the expected complete plays of each list (see the module docstring).

        ``users``: population rows (= user ids; anonymous visitors follow the users);
        ``hours``: fractional UTC hour of the request; ``day``: world day index (0 = the
        world's first date); ``lists``: (n, L) track ids, -1 = nothing shown;
        ``play_counts``: (n, L) plays of each listed track by the listener in the world's
        memory window (familiarity), 0 when None."""
        users = np.asarray(users, dtype=np.int64)
        lists = np.asarray(lists, dtype=np.int64).reshape(len(users), -1)
        hours = np.broadcast_to(np.asarray(hours, dtype=np.float64), users.shape)
        out = np.zeros(len(users))
        for lo in range(0, len(users), chunk):
            hi = lo + chunk
            counts = None if play_counts is None else np.asarray(play_counts).reshape(lists.shape)[lo:hi]
            out[lo:hi] = self.completion_matrix(users[lo:hi], hours[lo:hi], day, lists[lo:hi], counts,
                                                scenario).sum(axis=1)
        return out

    def ideal_lists(self, users: np.ndarray, hours: np.ndarray, day: int, length: int,
                    scenario: str = "daily_recommend", worst: bool = False) -> np.ndarray:
        """(n, length): per query the tracks with the highest (``worst``: lowest)
        completion probability at the first position, best first: the oracle list, an
        upper reference for any recommender (familiarity left at 0)."""
        users = np.asarray(users, dtype=np.int64)
        hours = np.broadcast_to(np.asarray(hours, dtype=np.float64), users.shape)
        out = np.empty((len(users), length), dtype=np.int64)
        for i in range(len(users)):
            p = self._first_position(int(users[i]), float(hours[i]), day, scenario)
            out[i] = np.argsort(p if worst else -p, kind="stable")[:length]
        return out

    def _first_position(self, user: int, hour: float, day: int, scenario: str) -> np.ndarray:
        """P(complete) of every catalog track at position 0 for one listener: the
        tracks as one-track lists of that listener."""
        tracks = np.arange(self.cat.n_tracks)
        return self.completion_matrix(np.full(len(tracks), user), np.full(len(tracks), hour), day,
                                      tracks[:, None], None, scenario)[:, 0]


def window_play_counts(world_dir: Path | str, users: np.ndarray, day: date, lists: np.ndarray,
                       window_days: int) -> np.ndarray:
    """(n, L): how many times each listed track was played (``play_start``) by the
    listener in the ``window_days`` days before ``day`` (the world's memory of plays,
    ``world.history_window_days``), from the event log and ``users/past_plays.parquet``:
    the familiarity the world would use at the start of ``day``."""
    from encore.platform.world.load import load_world

    world = load_world(world_dir)
    first = day - timedelta(days=window_days)
    days = [d for d in world.dates if first.isoformat() <= d < day.isoformat()]
    frames = []
    for _, events in world.iter_event_days(days, columns=["user_id", "track_id", "action"]):
        plays = events[events["action"] == "play_start"]
        frames.append(plays.groupby(["user_id", "track_id"]).size().rename("plays").reset_index())
    past = world.past_plays()
    if len(past):
        past = past[pd.to_datetime(past["date"]).dt.date >= first]
        count_col = "plays" if "plays" in past.columns else None
        grouped = (past.groupby(["user_id", "track_id"])[count_col].sum() if count_col
                   else past.groupby(["user_id", "track_id"]).size())
        frames.append(grouped.rename("plays").reset_index())
    if not frames:
        return np.zeros(np.shape(lists))
    counts = pd.concat(frames).groupby(["user_id", "track_id"])["plays"].sum()
    users = np.asarray(users, dtype=np.int64)
    lists = np.asarray(lists, dtype=np.int64)
    n_tracks = int(max(lists.max(initial=0), counts.index.get_level_values(1).max()) + 1)
    keys = (counts.index.get_level_values(0).to_numpy(np.int64) * n_tracks
            + counts.index.get_level_values(1).to_numpy(np.int64))
    order = np.argsort(keys)
    keys, values = keys[order], counts.to_numpy(np.float64)[order]
    query = (users[:, None] * n_tracks + np.maximum(lists, 0)).ravel()
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    found = (keys[at] == query) & (lists.ravel() >= 0)
    return np.where(found, values[at], 0.0).reshape(lists.shape)

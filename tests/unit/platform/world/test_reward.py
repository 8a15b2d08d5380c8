"""The world's ground-truth reward (encore.platform.world.reward): hand-checkable cases and
agreement with the world's own simulation of a fixed slate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from encore.platform.config import SessionsConfig, UtilityWeights
from encore.platform.world import schema
from encore.platform.world.behaviour import ACTION, Behaviour
from encore.platform.world.history import ListeningHistory
from encore.platform.world.plan import MS_PER_HOUR, plan_day
from encore.platform.world.policy import Slates
from encore.platform.world.reward import RewardModel
from encore.platform.world.rhythm import day_lift
from encore.platform.world.seeds import stream
from encore.platform.world.utility import UtilityModel

TINY = {"users": 120, "tracks": 600, "artists": 60, "shows": 8, "anonymous_sessions_per_day": 5, "days": 7}
SATURDAY = 5  # start_date is a Monday


@pytest.fixture(scope="module")
def model(world_config) -> RewardModel:
    return RewardModel(world_config(**TINY))


def test_empty_and_unshown_lists_score_zero(model):
    users = np.array([0, 1])
    assert model.expected_completions(users, [9.0, 20.0], 0, np.zeros((2, 0), np.int64)).tolist() == [0, 0]
    assert model.expected_completions(users, [9.0, 20.0], 0, np.full((2, 5), -1)).tolist() == [0, 0]


def test_all_parts_off_is_the_behaviour_chain_by_hand(world_config):
    zero = UtilityWeights(**dict.fromkeys(UtilityWeights.model_fields, 0.0))
    model = RewardModel(world_config(**TINY, utility_weights=zero))
    lists = np.arange(12)[None, :]  # 12 > slate size 10: positions 0..9, 0, 1

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    positions = np.r_[np.arange(10), 0, 1]
    # utility 0: start = sigmoid(1.5 * (0 - 1.0) - 0.12 * pos); no skip = 1 - sigmoid(1.6 * 0.3); no stop = 0.96
    by_hand = (sigmoid(-1.5 - 0.12 * positions) * (1 - sigmoid(0.48)) * 0.96).sum()
    got = model.expected_completions(np.array([3]), [12.0], 2, lists)
    assert got[0] == pytest.approx(by_hand, rel=1e-9)
    radio = model.expected_completions(np.array([3]), [12.0], 2, lists, scenario="private_radio")
    assert radio[0] == pytest.approx(12 * 0.98 * (1 - sigmoid(0.48)) * 0.96, rel=1e-9)


def test_best_tracks_beat_worst_and_lower_positions_count_less(model):
    users, hours = np.array([4, 17, 30]), np.array([8.0, 13.0, 21.0])
    best = model.ideal_lists(users, hours, 1, 10)
    worst = model.ideal_lists(users, hours, 1, 10, worst=True)
    r_best = model.expected_completions(users, hours, 1, best)
    r_worst = model.expected_completions(users, hours, 1, worst)
    assert np.all(r_best > r_worst + 0.5)
    # position decay: a track shown lower (behind unshown slots) is completed less often
    lower = np.concatenate([np.full((3, 6), -1), best[:, :1]], axis=1)
    assert np.all(model.expected_completions(users, hours, 1, best[:, :1])
                  > model.expected_completions(users, hours, 1, lower))
    radio = [model.expected_completions(users, hours, 1, lst, scenario="private_radio")
             for lst in (best, best[:, ::-1])]
    np.testing.assert_allclose(radio[0], radio[1])  # autoplay: every shown track starts
    again = model.expected_completions(users, hours, 1, best)
    np.testing.assert_array_equal(r_best, again)  # deterministic


def test_familiarity_raises_reward_only_while_its_part_is_on(world_config, model):
    users, hours = np.arange(5), np.full(5, 9.0)
    lists = np.tile(np.arange(10), (5, 1))
    counts = np.full((5, 10), 4)
    assert np.all(model.expected_completions(users, hours, 0, lists, counts)
                  > model.expected_completions(users, hours, 0, lists))
    off = RewardModel(world_config(**TINY, utility_weights=UtilityWeights(familiarity=0.0)))
    np.testing.assert_allclose(off.expected_completions(users, hours, 0, lists, counts),
                               off.expected_completions(users, hours, 0, lists))


def test_switching_off_the_kg_part_costs_a_fan_their_soundtrack(world_config, model):
    fan = int(np.argmax(model.pop.show_affinity[: model.pop.n_users].max(axis=1)))
    show = int(np.argmax(model.pop.show_affinity[fan]))
    soundtrack = np.flatnonzero(model.cat.track_show == show)
    if len(soundtrack) == 0:  # a variety show: its artists' tracks
        soundtrack = np.flatnonzero(model.cat.artist_in_show[model.cat.track_artist, show])
    lists = soundtrack[:10][None, :]
    off = RewardModel(world_config(**TINY, utility_weights=UtilityWeights(kg=0.0)))
    on_r = model.expected_completions(np.array([fan]), [20.0], 3, lists)
    off_r = off.expected_completions(np.array([fan]), [20.0], 3, lists)
    assert on_r[0] > off_r[0] * 1.2


class _FixedSlates:
    """A logging policy stand-in that shows each session a given slate."""

    def __init__(self, lists: np.ndarray) -> None:
        self.lists, self.slate_size = lists, lists.shape[1]

    def candidate_pools(self, rows, scenarios, interest_genre, interest_artists, history, rng):
        return self.lists, np.zeros(self.lists.shape, bool), np.zeros(self.lists.shape, bool)

    def choose(self, rows, pool, from_history, rng, excluded=None):
        k = self.slate_size
        return Slates(tracks=pool, propensity=np.ones(pool.shape), logits=np.zeros(pool.shape),
                      picked=np.broadcast_to(np.arange(k), pool.shape).copy())


def test_agrees_with_the_worlds_own_simulation(model):
    """Sessions planned by the world's plan_day (daily_recommend, one slate each, no
    session cut) shown fixed slates and simulated by Behaviour.simulate: their complete
    plays add up to the reward's expectation, within sampling error."""
    cfg, cat, pop = model.cfg, model.cat, model.pop
    day = SATURDAY
    date = cfg.start_date + timedelta(days=day)
    day_start = int(datetime(date.year, date.month, date.day, tzinfo=timezone.utc).timestamp() * 1000)
    lift = day_lift(cat.genres, date.weekday())
    daily = schema.SCENARIOS.index("daily_recommend")
    rng = np.random.default_rng(5)
    simulated = expected = variance = 0.0
    for rep in range(30):
        plan = plan_day(cfg, SessionsConfig(), pop, day, day_start, lift, stream(99, "reward-test", rep))
        n = len(plan)
        plan = replace(plan, scenario=np.full(n, daily), n_slates=np.ones(n, np.int64),
                       limit_ms=plan.start_ms + 10 * 24 * MS_PER_HOUR)
        # half the slates random tracks, half drawn from the listener's favourite genres
        lists = np.stack([rng.choice(cat.n_tracks, 10, replace=False) for _ in range(n)])
        liked = np.argsort(-pop.genre_taste[plan.row][:, cat.track_genre], axis=1)[:, : 200]
        pick = np.stack([rng.choice(200, 10, replace=False) for _ in range(n)])
        lists[::2] = np.take_along_axis(liked, pick, axis=1)[::2]
        behaviour = Behaviour(pop, _FixedSlates(lists), UtilityModel(cat, pop, cfg.utility_weights),
                              cat.track_duration_ms)
        result = behaviour.simulate(plan, lift, ListeningHistory(cat.n_tracks, cfg.history_window_days),
                                    stream(99, "reward-sim", rep))
        ev = result.events
        complete = (ev.action == ACTION["play_end"]) & (ev.played_ms == cat.track_duration_ms[ev.track])
        simulated += complete.sum()
        hours = (plan.start_ms - day_start) / MS_PER_HOUR
        p = model.completion_matrix(plan.row, hours, day, lists)
        expected += p.sum()
        variance += (p * (1 - p)).sum()
    sigma = np.sqrt(2 * variance)  # x2: entries of one session share its interest and mood
    assert expected > 1000
    assert abs(simulated - expected) < 4 * sigma, (simulated, expected, sigma)

"""Team-draft interleaving by hand with a seeded coin (encore.serving.ab.interleave)."""

from __future__ import annotations

import numpy as np

from encore.serving.ab.interleave import credit, preference, team_draft


def test_team_draft_by_hand():
    coins = iter([True, False])  # round 1: A first; round 3: B first
    shown, teams = team_draft([1, 2, 3, 4], [2, 5, 1, 6], 4, lambda: next(coins))
    # r1 level, coin A -> A adds 1; r2 B behind -> B adds 2; r3 level, coin B -> B skips 2, adds 5;
    # r4 A behind -> A skips 1, 2 -> adds 3
    assert shown.tolist() == [1, 2, 5, 3]
    assert teams.tolist() == [0, 1, 1, 0]
    a, b = credit(teams[None], np.array([[1.0, 0.0, 1.0, 1.0]]))
    assert (a.tolist(), b.tolist()) == ([2.0], [1.0])


def test_team_draft_with_a_seeded_coin_is_reproducible_and_pads():
    def run(seed):
        rng = np.random.default_rng(seed)
        return team_draft([1, 2], [2, 3, -1], 5, lambda: rng.random() < 0.5)

    shown, teams = run(0)
    assert np.array_equal(shown, run(0)[0])
    assert sorted(shown[:3].tolist()) == [1, 2, 3] and shown[3:].tolist() == [-1, -1]
    assert teams[3:].tolist() == [-1, -1]


def test_identical_rankings_split_fairly():
    rng = np.random.default_rng(0)
    a = np.arange(10)
    _, teams = team_draft(a, a, 10, lambda: rng.random() < 0.5)
    assert (teams == 0).sum() == (teams == 1).sum() == 5


def test_preference():
    out = preference(np.array([1.0, 2.0, 0.0, 1.0]), np.array([2.0, 2.0, 1.0, 0.0]))
    assert out == {"wins_b": 2, "wins_a": 1, "ties": 1, "preference_b": 2.5 / 4}

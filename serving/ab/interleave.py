"""Team-draft interleaving (Radlinski, Kurup & Joachims 2008, "How does clickthrough
data reflect retrieval quality?").

Two rankings A and B are merged into one list shown to the listener: in each round the
team with fewer picks so far (a fair coin when they are level) adds its highest-ranked
track not already in the list. Each shown track belongs to the team that picked it; a
listener's outcome (complete plays) on a track credits that team. Over listeners, B
wins a listener when its team's credit is larger; the preference for B is
``(wins + ties / 2) / listeners``, 0.5 meaning no preference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

A, B = 0, 1


def team_draft(a: Sequence[int], b: Sequence[int], length: int, coin: Callable[[], bool]
               ) -> tuple[np.ndarray, np.ndarray]:
    """The interleaved list (length,) of track ids (-1 padded when both run out) and
    each slot's team (0 = A, 1 = B, -1 = none). ``coin()`` True means A picks first in a
    level round (a seeded coin: ``lambda: rng.random() < 0.5``). -1 ids in the inputs
    are skipped."""
    a = [int(x) for x in a if x >= 0]
    b = [int(x) for x in b if x >= 0]
    shown: list[int] = []
    teams: list[int] = []
    taken: set[int] = set()
    picks = [0, 0]
    cursor = [0, 0]
    rankings = (a, b)

    def next_of(team: int) -> int | None:
        ranking = rankings[team]
        while cursor[team] < len(ranking) and ranking[cursor[team]] in taken:
            cursor[team] += 1
        return ranking[cursor[team]] if cursor[team] < len(ranking) else None

    while len(shown) < length:
        left = [next_of(A), next_of(B)]
        if left[A] is None and left[B] is None:
            break
        if picks[A] < picks[B]:
            team = A
        elif picks[B] < picks[A]:
            team = B
        else:
            team = A if coin() else B
        if left[team] is None:  # that team ran out: the other one picks
            team = 1 - team
        track = left[team]
        assert track is not None
        shown.append(track)
        teams.append(team)
        taken.add(track)
        picks[team] += 1
    pad = length - len(shown)
    return (np.array(shown + [-1] * pad, np.int64), np.array(teams + [-1] * pad, np.int64))


def credit(teams: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per listener the credit of team A and of team B: the sum of ``outcome`` (n, L)
    over the slots each team picked (``teams`` (n, L))."""
    teams, outcome = np.asarray(teams), np.asarray(outcome, np.float64)
    return (np.where(teams == A, outcome, 0.0).sum(axis=1), np.where(teams == B, outcome, 0.0).sum(axis=1))


def preference(credit_a: np.ndarray, credit_b: np.ndarray) -> dict[str, float]:
    """Wins, ties and losses of B over listeners and ``(wins + ties / 2) / n``."""
    wins = int((credit_b > credit_a).sum())
    losses = int((credit_b < credit_a).sum())
    ties = int(len(credit_a) - wins - losses)
    n = max(len(credit_a), 1)
    return {"wins_b": wins, "wins_a": losses, "ties": ties, "preference_b": (wins + ties / 2) / n}

"""Simulated online A/B: the world as the environment that answers each
configuration's lists for the same listeners, hours and random numbers.

For each held-out request (listener, UTC hour, day) and each list, the world's ground
truth (:class:`encore.platform.world.reward.RewardModel`: its own utility and
behaviour, familiarity from its memory window) gives P(complete play) of every list
entry (n, L). The **truth** of a configuration is the expected complete plays of its
list (the row sums): no sampling noise, what the counterfactual estimates try to
recover. A **sampled** run draws each slot's outcome as ``U[request, slot] < P`` with one
uniform per (request, slot) shared by every list (common random numbers, seeded): what
one online test on these listeners would see, with the noise shared by A and B.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

DAY_MS, HOUR_MS = 86_400_000, 3_600_000


def completion_matrices(world_dir: Path | str, users: np.ndarray, request_ms: np.ndarray, day_of: np.ndarray,
                        days: list[date], lists: dict[str, np.ndarray], reward_model: Any,
                        scenario: str = "daily_recommend") -> dict[str, np.ndarray]:
    """name -> (n, L) P(complete play) of each list entry at its request's hour and day
    (``day_of``: index into ``days``); familiarity read once for all lists."""
    from encore.platform.world.reward import window_play_counts

    names = list(lists)
    stacked = np.hstack([np.asarray(lists[n], np.int64) for n in names])
    widths = np.cumsum([0] + [np.asarray(lists[n]).shape[1] for n in names])
    out = {n: np.zeros(np.asarray(lists[n]).shape) for n in names}
    hours = (np.asarray(request_ms) % DAY_MS) / HOUR_MS
    for i, day in enumerate(days):
        at = np.flatnonzero(day_of == i)
        if len(at) == 0:
            continue
        counts = window_play_counts(world_dir, users[at], day, stacked[at], reward_model.cfg.history_window_days)
        index = reward_model.day_index(day)
        for j, name in enumerate(names):
            part = slice(widths[j], widths[j + 1])
            for lo in range(0, len(at), 256):
                rows = at[lo:lo + 256]
                out[name][rows] = reward_model.completion_matrix(
                    users[rows], hours[rows], index, stacked[rows, part], counts[lo:lo + 256, part], scenario)
    return out


def common_uniforms(n: int, length: int, seed: int) -> np.ndarray:
    """(n, length) uniforms: one per (request, slot), shared by every list."""
    return np.random.default_rng(seed).random((n, length))


def sampled(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """(n, L) 0/1 outcomes ``U < P`` (common random numbers)."""
    return (uniforms[:, : probabilities.shape[1]] < probabilities).astype(np.float64)

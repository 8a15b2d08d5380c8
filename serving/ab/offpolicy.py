"""Counterfactual (off-policy) estimates of a recommender's online reward from the
logged exposures of another policy (the world's logging policy) and their propensities.

Setting (item-level, "inclusion" model; Li et al. 2018, "Offline evaluation of ranking
policies with click models"): the reward of a list is the sum of its items' rewards,
an item's reward (a complete play, a heart) depends on the listener and the item, not
on the rest of the list. The logging policy shows slates drawn from a candidate pool;
``propensity`` of a logged exposure is the probability that the logging policy puts that
track into that slate (``inclusion_prob`` of ``policy/slates.parquet``). The target
policy is deterministic: listener u's list ``L_u`` (its first K tracks, -1 padded).

For a logged exposure e of listener u (track i_e, reward r_e, propensity p_e), the
importance weight is ``w_e = min(1[i_e in L_u] / p_e, clip)``; ``S_u`` is the number of
logged slates of u. Per listener (shapes: n listeners, m logged exposures, K list):

- **IPS**: ``V_u = sum_e w_e r_e / S_u``. Without clipping it is unbiased for the
  reward of the part of ``L_u`` that the logging policy could show (tracks in a pool);
  tracks no pool held are invisible to it (support deficiency), so it is biased low
  when the target list leaves the logging policy's support.
- **SNIPS** (Swaminathan & Joachims 2015): self-normalised, pooled over listeners,
  ``V = mean_u(|L_u|) * sum_u sum_e w_e r_e / sum_u sum_e w_e``: the mean reward per
  matched list item, scaled to the list. ``sum_e w_e / S_u`` estimates how many list
  items the logging policy supports, so SNIPS extrapolates the supported items'
  reward to the whole list (biased when the supported items are unrepresentative,
  far less variable than IPS).
- **DM** (direct method): ``V_u = sum_j q(u, L_u[j], j)`` with a reward model ``q``.
- **DR** (doubly robust; Dudik et al. 2011): ``DM + sum_e w_e (r_e - q_e) / S_u`` with
  ``q_e = q(u, i_e, position_e)``: unbiased when either the propensities (with full
  support) or the reward model are right.
- **ESS** (Kish): ``(sum w)^2 / sum w^2`` over every logged exposure: how many
  exposures the estimate effectively rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoggedExposures:
    """Logged exposures of ``n`` listeners (arrays of one row per exposure, m rows)."""

    listener: np.ndarray  # (m,) int: index of the exposure's listener in 0..n-1
    track: np.ndarray  # (m,) int
    position: np.ndarray  # (m,) int: logged slate position
    propensity: np.ndarray  # (m,) float in (0, 1]: P(logging policy shows the track in the slate)
    reward: np.ndarray  # (m,) float
    slates: np.ndarray  # (n,) int: logged slates per listener
    hour: np.ndarray | None = None  # (m,) UTC hour of each exposure (for a reward model), if known

    def __post_init__(self) -> None:
        m = len(self.listener)
        for name in ("track", "position", "propensity", "reward"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"logged {name} has {len(getattr(self, name))} rows, listener has {m}")
        if m and (np.min(self.propensity) <= 0 or np.max(self.propensity) > 1 + 1e-9):
            raise ValueError("propensities must be in (0, 1]")
        if m and (np.min(self.listener) < 0 or np.max(self.listener) >= len(self.slates)):
            raise ValueError("listener index out of range of slates")

    @property
    def n(self) -> int:
        return len(self.slates)

    def with_reward(self, reward: np.ndarray) -> "LoggedExposures":
        return LoggedExposures(self.listener, self.track, self.position, self.propensity,
                               np.asarray(reward, np.float64), self.slates, self.hour)


def in_list(log: LoggedExposures, lists: np.ndarray) -> np.ndarray:
    """(m,) bool: the exposure's track is in its listener's target list (-1 = no item)."""
    lists = np.asarray(lists, np.int64)
    rows = lists[log.listener]
    return ((rows == np.asarray(log.track, np.int64)[:, None]) & (rows >= 0)).any(axis=1)


def weights(log: LoggedExposures, lists: np.ndarray, clip: float | None = None) -> np.ndarray:
    """(m,) importance weights ``min(1[track in list] / propensity, clip)``."""
    w = np.where(in_list(log, lists), 1.0 / np.asarray(log.propensity, np.float64), 0.0)
    return np.minimum(w, clip) if clip is not None else w


def _per_listener(log: LoggedExposures, values: np.ndarray) -> np.ndarray:
    """(n,) sum of ``values`` over each listener's exposures / their slates (nan: no slates)."""
    total = np.bincount(log.listener, weights=values, minlength=log.n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(log.slates > 0, total / np.maximum(log.slates, 1), np.nan)


def ips(log: LoggedExposures, lists: np.ndarray, clip: float | None = None) -> np.ndarray:
    """(n,) per-listener IPS value (nan for listeners without logged slates)."""
    return _per_listener(log, weights(log, lists, clip) * log.reward)


def snips_parts(log: LoggedExposures, lists: np.ndarray, clip: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(n,) numerators ``sum_e w_e r_e / S_u`` and denominators ``sum_e w_e / S_u`` (0 for
    listeners without slates): ``snips`` is a ratio of their sums."""
    w = weights(log, lists, clip)
    return (np.nan_to_num(_per_listener(log, w * log.reward)), np.nan_to_num(_per_listener(log, w)))


def list_lengths(lists: np.ndarray) -> np.ndarray:
    return (np.asarray(lists) >= 0).sum(axis=1).astype(np.float64)


def snips(log: LoggedExposures, lists: np.ndarray, clip: float | None = None,
          rows: np.ndarray | None = None) -> float:
    """The pooled SNIPS value over listeners ``rows`` (default all; may repeat: a
    bootstrap resample); 0 when no exposure matches."""
    num, den = snips_parts(log, lists, clip)
    rows = np.arange(log.n) if rows is None else rows
    d = den[rows].sum()
    return float(num[rows].sum() / d * list_lengths(lists)[rows].mean()) if d > 0 else 0.0


def direct(q_lists: np.ndarray, lists: np.ndarray) -> np.ndarray:
    """(n,) DM value: the reward model's sum over each list (``q_lists`` (n, K))."""
    return np.where(np.asarray(lists) >= 0, q_lists, 0.0).sum(axis=1)


def doubly_robust(log: LoggedExposures, lists: np.ndarray, q_lists: np.ndarray, q_logged: np.ndarray,
                  clip: float | None = None) -> np.ndarray:
    """(n,) DR value: DM plus the weighted residuals of the logged exposures
    (``q_logged`` (m,): the reward model at each exposure's track and logged position);
    listeners without slates get DM alone."""
    correction = np.nan_to_num(_per_listener(log, weights(log, lists, clip) * (log.reward - q_logged)))
    return direct(q_lists, lists) + correction


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size of importance weights (0 when all are 0)."""
    w = np.asarray(w, np.float64)
    s2 = float((w ** 2).sum())
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0

"""Paired comparisons over listeners: the difference B - A of a metric with a paired
percentile bootstrap confidence interval, a verdict, and the sample size a too-wide
interval would need.

Pairing: A and B are measured on the same listeners (same requests, same hours, same
random numbers), so the bootstrap resamples *listeners* and recomputes both sides on
the resample (Efron & Tibshirani 1993, ch. 13); the listener-to-listener variation
that both share cancels in the difference.

Verdict at level ``confidence``: ``better`` when the whole interval of B - A lies on the
side the metric prefers (``higher`` or ``lower`` is better), ``worse`` when on the other,
else ``no detectable difference``. A metric with no preferred direction (``neutral``,
e.g. the repeat share) gets ``higher`` / ``lower`` / ``no detectable difference``.

Required sample size (normal approximation of the paired difference, two-sided test at
``1 - confidence`` with ``power``): ``n = ((z_{1-alpha/2} + z_power) * sd / |d|)^2`` for
the observed mean difference ``d`` and the per-listener standard deviation ``sd`` of
the differences; reported when the verdict is "no detectable difference" (None when
``d`` is 0). ``lift``: B / A - 1 with its interval from the same resamples (``lift_ci``).
``mde``: the smallest difference the current ``n`` detects with that power,
``(z_{1-alpha/2} + z_power) * sd / sqrt(n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"
DIRECTIONS = ("higher", "lower", "neutral")


def _resamples(n: int, samples: int, seed: int, chunk: int = 100):
    """Yield (rows, n) index arrays of listeners drawn with replacement; ``samples``
    rows in all, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    for lo in range(0, samples, chunk):
        yield rng.integers(0, n, (min(chunk, samples - lo), n))


def bootstrap_means(a: np.ndarray, b: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """(samples, 3): per resample of listeners the mean of ``a``, of ``b`` and of b - a
    (the same listeners on both sides)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values need equal 1-d shapes, got {a.shape} and {b.shape}")
    out = np.empty((samples, 3))
    row = 0
    for idx in _resamples(len(a), samples, seed):
        ma, mb = a[idx].mean(axis=1), b[idx].mean(axis=1)
        out[row:row + len(idx)] = np.stack([ma, mb, mb - ma], axis=1)
        row += len(idx)
    return out


def bootstrap_statistic(stat: Callable[[np.ndarray], tuple[float, float]], n: int, samples: int,
                        seed: int) -> np.ndarray:
    """(samples, 3): for a statistic that is not a mean of per-listener values (coverage,
    a ratio estimator), ``stat(listener indices) -> (value of A, value of B)`` on each
    resample; columns A, B, B - A."""
    out = np.empty((samples, 3))
    row = 0
    for idx in _resamples(n, samples, seed):
        for one in idx:
            va, vb = stat(one)
            out[row] = (va, vb, vb - va)
            row += 1
    return out


def verdict(ci_low: float, ci_high: float, direction: str = "higher") -> str:
    """The verdict of the module docstring for an interval of B - A."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if ci_low > 0:
        return {"higher": BETTER, "lower": WORSE, "neutral": "higher"}[direction]
    if ci_high < 0:
        return {"higher": WORSE, "lower": BETTER, "neutral": "lower"}[direction]
    return NO_DIFFERENCE


def required_sample_size(sd: float, diff: float, confidence: float, power: float) -> int | None:
    """Listeners needed to detect ``diff`` (see the module docstring); None when diff is 0."""
    if diff == 0 or not np.isfinite(diff):
        return None
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2) + NormalDist().inv_cdf(power)
    return int(np.ceil((z * sd / abs(diff)) ** 2))


def minimum_detectable(sd: float, n: int, confidence: float, power: float) -> float:
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2) + NormalDist().inv_cdf(power)
    return float(z * sd / np.sqrt(max(n, 1)))


def summarise(point: tuple[float, float], boot: np.ndarray, confidence: float, power: float, *,
              direction: str = "higher", sd: float | None = None, n: int = 0,
              recentre: bool = False) -> dict[str, Any]:
    """One metric's comparison: A, B, B - A at the point estimate, the percentile CI of
    B - A from ``boot`` (rows: A, B, B - A per resample), the verdict and, when the
    interval straddles 0, the sample size it would need (``sd``: per-listener sd of the
    differences; else the bootstrap sd x sqrt(n)). ``recentre``: for a statistic the
    resampling itself biases (coverage: a resample holds fewer distinct listeners), the
    interval is the point estimate plus the quantiles of the resampled values around
    their own mean."""
    a, b = point
    alpha = (1 - confidence) / 2
    if recentre:
        boot = boot - boot.mean(axis=0) + np.array([a, b, b - a])
    low, high = (float(np.quantile(boot[:, 2], q)) for q in (alpha, 1 - alpha))
    diff = b - a
    sd = float(sd) if sd is not None else float(boot[:, 2].std(ddof=1) * np.sqrt(max(n, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = boot[:, 1] / boot[:, 0] - 1.0
    lift = lift[np.isfinite(lift)]
    out: dict[str, Any] = {
        "a": float(a), "b": float(b), "diff": float(diff), "ci_low": low, "ci_high": high,
        "lift_ci": ([float(np.quantile(lift, alpha)), float(np.quantile(lift, 1 - alpha))] if len(lift) and a
                    else None),
        "a_ci": [float(np.quantile(boot[:, 0], alpha)), float(np.quantile(boot[:, 0], 1 - alpha))],
        "b_ci": [float(np.quantile(boot[:, 1], alpha)), float(np.quantile(boot[:, 1], 1 - alpha))],
        "lift": float(diff / a) if a else None, "level": confidence, "direction": direction,
        "verdict": verdict(low, high, direction), "n": int(n),
        "mde": minimum_detectable(sd, n, confidence, power),
        "required_n": None,
    }
    if out["verdict"] == NO_DIFFERENCE:
        out["required_n"] = required_sample_size(sd, diff, confidence, power)
    return out


def compare_means(a: np.ndarray, b: np.ndarray, samples: int, confidence: float, power: float, seed: int,
                  direction: str = "higher") -> dict[str, Any]:
    """``summarise`` for a per-listener metric (mean over listeners) with its paired
    bootstrap over listeners."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0:
        raise ValueError("no listeners to compare")
    boot = bootstrap_means(a, b, samples, seed)
    sd = float((b - a).std(ddof=1)) if len(a) > 1 else 0.0
    return summarise((float(a.mean()), float(b.mean())), boot, confidence, power, direction=direction, sd=sd,
                     n=len(a))

"""Offline ranking metrics in numpy: AUC, GAUC per listener, log loss, and the report
``evaluate`` builds for every head against a reference scorer.

- ``auc(labels, scores)``: Mann-Whitney with average ranks for ties; None when only one
  class is present.
- ``gauc(labels, scores, groups)``: the AUC of each group (listener) that has both
  classes, averaged with weights = the group's rows (the usual GAUC of the DIN paper).
- ``logloss(labels, probs)``: mean binary cross-entropy, probabilities clipped to
  [1e-7, 1 - 1e-7].
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

EPS = 1e-7


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    y = np.asarray(labels) > 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def gauc(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> float | None:
    frame = pd.DataFrame({"y": np.asarray(labels) > 0.5, "s": np.asarray(scores, dtype=np.float64),
                          "g": np.asarray(groups)})
    frame["r"] = frame.groupby("g")["s"].rank(method="average")
    agg = frame.groupby("g").agg(n=("y", "size"), pos=("y", "sum"))
    agg["rank_pos"] = frame[frame["y"]].groupby("g")["r"].sum()
    agg = agg[(agg["pos"] > 0) & (agg["pos"] < agg["n"])]
    if agg.empty:
        return None
    neg = agg["n"] - agg["pos"]
    per_group = (agg["rank_pos"] - agg["pos"] * (agg["pos"] + 1) / 2) / (agg["pos"] * neg)
    return float(np.average(per_group, weights=agg["n"]))


def logloss(labels: np.ndarray, probs: np.ndarray) -> float:
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def head_metrics(labels: np.ndarray, scores: np.ndarray, groups: np.ndarray,
                 probabilities: bool = True) -> dict[str, float | None]:
    out: dict[str, float | None] = {"auc": auc(labels, scores), "gauc": gauc(labels, scores, groups)}
    if probabilities:
        out["logloss"] = logloss(labels, scores)
    return out


def evaluate(labels: Mapping[str, np.ndarray], probs: Mapping[str, np.ndarray], groups: np.ndarray,
             reference: Mapping[str, np.ndarray], base_rates: Mapping[str, float]) -> dict[str, dict]:
    """Per head: the model's AUC / GAUC / log loss, the reference scorer's AUC / GAUC,
    the log loss of predicting the training base rate, the positive rate, and the AUC
    lift over the reference."""
    report: dict[str, dict] = {}
    for h, y in labels.items():
        model = head_metrics(y, probs[h], groups)
        ref = head_metrics(y, reference[h], groups, probabilities=False)
        report[h] = {
            "model": model, "reference": ref,
            "base_rate_logloss": logloss(y, np.full(len(y), base_rates[h])),
            "positive_rate": float(np.mean(y)) if len(y) else None, "rows": int(len(y)),
            "auc_lift": (model["auc"] - ref["auc"]) if model["auc"] is not None and ref["auc"] is not None else None,
        }
    return report


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order that sorts ``scores`` ascending, tie-group id of each sorted entry)."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    return order, np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1


def _weighted_auc(y: np.ndarray, groups: np.ndarray, w: np.ndarray) -> float:
    """AUC with row weights over entries already sorted by score (``y``, ``w`` in that
    order; ``groups``: tie-group ids): sum over positive-negative pairs of w_i w_j
    ([s_i > s_j] + [s_i = s_j] / 2) / (W_pos W_neg)."""
    wp = np.bincount(groups, weights=w * y)
    wn = np.bincount(groups, weights=w * (1 - y))
    below = np.cumsum(wn) - wn
    den = wp.sum() * wn.sum()
    return float((wp * (below + 0.5 * wn)).sum() / den) if den > 0 else float("nan")


def paired_auc_difference(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, groups: np.ndarray, *,
                          samples: int = 200, confidence: float = 0.95, seed: int = 7) -> dict[str, float] | None:
    """AUC(a) - AUC(b) on the same rows, with a paired cluster bootstrap CI: listeners
    (``groups``) are resampled with replacement ``samples`` times and both models'
    AUCs are computed on the same resample (a row weighs its listener's draw count), so
    the CI is that of the difference, not of two independent AUCs. None with one class."""
    y = (np.asarray(labels) > 0.5).astype(np.float64)
    if y.min() == y.max():
        return None
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(codes.max()) + 1
    prepared = []
    for s in (np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)):
        order, ties = _tie_groups(s)
        prepared.append((order, y[order], ties))
    point = [_weighted_auc(ys, ties, np.ones(len(y))) for _, ys, ties in prepared]
    rng = np.random.default_rng(seed)
    diffs = np.empty(samples)
    for i in range(samples):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups).astype(np.float64)[codes]
        a, b = (_weighted_auc(ys, ties, w[order]) for order, ys, ties in prepared)
        diffs[i] = a - b
    alpha = (1 - confidence) / 2
    return {"diff": point[0] - point[1], "ci_low": float(np.nanquantile(diffs, alpha)),
            "ci_high": float(np.nanquantile(diffs, 1 - alpha)), "auc_a": point[0], "auc_b": point[1]}

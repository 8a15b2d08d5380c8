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

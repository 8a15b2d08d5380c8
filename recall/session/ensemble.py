"""Weighted ensembles of session scorers, and choosing their weights and the simple
methods' hyper-parameters on pairs kept apart from the reported ones.

* :func:`tune_report_split`: the validation pairs split by session (seeded) into a
  tuning part and a reported part, so no session lends pairs to both.
* :func:`normalise_rows` / :func:`model_component`: a component's (B, N + 1) scores
  divided by the row maximum (negatives to 0), and a model's softmax divided by its
  maximum (= exp(logit - max logit)); column 0 (padding) is 0.
* :func:`combine`: sum_c w_c * component_c, column 0 = -inf.
* :func:`objective`: min(P@20 / 23.50, MRR@20 / 9.02): both of the issue's targets at
  once (1.0 = both met), so a choice cannot buy one figure with the other.
* :class:`GridAccumulator`: P@K / MRR@K of many candidates (weights or hyper-parameters)
  on the same pairs, batch by batch; :func:`grid_ranks`: the ranks of every weight
  vector of a grid at once, exact up to ``cutoff`` (see there); :func:`coordinate_search`: a small grid walked one
  axis at a time from a start point (every point evaluated once, all recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from encore.recall.session.metrics import RankAccumulator, target_ranks

P_TARGET = 23.50  # S2-DHCN's P@20, published on the official Nowplaying test split
MRR_TARGET = 9.02  # the kNN + transition hybrid's MRR@20 on the official test split


def session_groups(sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """(n,) group id per pair: consecutive pairs whose prefixes extend each other
    (SR-GNN pairs of one session, in order) share a group. Two sessions whose prefixes
    happen to chain land in one group, which only makes the split coarser."""
    group = np.zeros(len(sequences), np.int64)
    g = 0
    for i in range(1, len(sequences)):
        prev, cur = sequences[i - 1], sequences[i]
        if not (len(cur) > len(prev) and list(cur[:len(prev)]) == list(prev)):
            g += 1
        group[i] = g
    return group


def tune_report_split(sequences: Sequence[Sequence[int]], seed: int = 10,
                      tune_share: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(tuning indices, reported indices), whole sessions to one side (seeded)."""
    if not 0.0 < tune_share < 1.0:
        raise ValueError(f"tune_share must be in (0, 1), got {tune_share}")
    group = session_groups(sequences)
    n_groups = int(group.max(initial=-1)) + 1
    to_tune = np.random.default_rng(seed).random(n_groups) < tune_share
    mask = to_tune[group]
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """float32 (B, N + 1): max(scores, 0) / its row maximum (rows of zeros stay 0), column 0 = 0."""
    s = np.maximum(np.asarray(scores, np.float32), 0.0)
    s[:, 0] = 0.0
    top = s.max(axis=1, keepdims=True)
    np.divide(s, top, out=s, where=top > 0)
    return s


def model_component(logits: np.ndarray) -> np.ndarray:
    """float32 (B, N + 1): softmax over the items 1..N divided by its maximum."""
    z = np.asarray(logits, np.float32)[:, 1:]
    out = np.zeros((len(z), z.shape[1] + 1), np.float32)
    np.exp(z - z.max(axis=1, keepdims=True), out=out[:, 1:])
    return out


def combine(components: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """float32 (B, N + 1): sum of weight * component over ``weights`` (column 0 = -inf)."""
    out: np.ndarray | None = None
    for name, w in weights.items():
        if w == 0:
            continue
        term = components[name] * np.float32(w)
        out = term if out is None else np.add(out, term, out=out)
    if out is None:
        raise ValueError("an ensemble needs a non-zero weight")
    out[:, 0] = -np.inf
    return out


def objective(result: Mapping[str, float]) -> float:
    return min(result["P@20"] / P_TARGET, result["MRR@20"] / MRR_TARGET)


class GridAccumulator:
    """P@K / MRR@K of named candidates over the same pairs, fed batch by batch."""

    def __init__(self) -> None:
        self.accs: dict[str, RankAccumulator] = {}

    def add(self, name: str, scores: np.ndarray, labels: np.ndarray) -> None:
        self.add_ranks(name, target_ranks(scores, labels))

    def add_ranks(self, name: str, ranks: np.ndarray) -> None:
        self.accs.setdefault(name, RankAccumulator()).add(ranks)

    def results(self) -> dict[str, dict[str, float]]:
        return {name: {**acc.result(), "objective": round(objective(acc.result()), 4)}
                for name, acc in self.accs.items()}

    def best(self) -> str:
        res = self.results()
        return max(res, key=lambda n: (res[n]["objective"], res[n]["P@20"]))


def grid_ranks(components: Mapping[str, np.ndarray], labels: np.ndarray, grid: Sequence[Mapping[str, float]],
               top: int = 100, cutoff: int = 20) -> list[np.ndarray]:
    """The target's rank under ``combine(components, w)`` for every ``w`` in ``grid``,
    exact whenever it is <= ``cutoff`` (larger ranks come back as some value > cutoff).

    Each row's candidates are the target and every component's ``top`` highest items
    (B, C). An item outside them scores at most sum_c w_c * (c's ``top``-th value), the
    bound; where the target scores above the bound, no outside item can pass or tie it
    and the rank among the candidates is the rank; where it does not and its candidate
    rank is already > ``cutoff``, the true rank is larger still; the few rows left
    (candidate rank <= cutoff, target <= bound) are ranked over all items. So every
    weight vector costs (B, C) work, not (B, N).
    Components: float32 (B, N + 1), column 0 (padding) never ranked."""
    labels = np.asarray(labels, np.int64)
    names = sorted({c for w in grid for c in w})
    rows = np.arange(len(labels))
    ids = [labels[:, None]]
    kth: dict[str, np.ndarray] = {}
    for c in names:
        x = components[c]
        m = min(top, x.shape[1] - 1)
        idx = np.argpartition(-x, m - 1, axis=1)[:, :m]
        kth[c] = np.take_along_axis(x, idx, axis=1).min(axis=1).astype(np.float64)
        ids.append(idx)
    cand = np.sort(np.concatenate(ids, axis=1), axis=1)
    keep = cand != 0
    keep[:, 1:] &= cand[:, 1:] != cand[:, :-1]  # each item once
    vals = {c: np.take_along_axis(components[c], cand, axis=1).astype(np.float64) for c in names}
    own = {c: components[c][rows, labels].astype(np.float64) for c in names}
    before = cand < labels[:, None]
    out = []
    for w in grid:
        s = sum(float(w.get(c, 0.0)) * vals[c] for c in names)
        t = sum(float(w.get(c, 0.0)) * own[c] for c in names)
        bound = sum(float(w.get(c, 0.0)) * kth[c] for c in names)
        assert isinstance(s, np.ndarray) and isinstance(t, np.ndarray)
        higher = ((s > t[:, None]) & keep).sum(axis=1)
        tied = ((s == t[:, None]) & keep & before).sum(axis=1)
        rank = 1 + higher + tied
        unsure = np.flatnonzero((rank <= cutoff) & (t <= bound))
        if len(unsure):
            sub = {c: components[c][unsure] for c in w}
            rank[unsure] = target_ranks(combine(sub, w), labels[unsure])
        out.append(rank)
    return out


def sparse_grid_ranks(parts: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], labels: np.ndarray,
                      grid: Sequence[Mapping[str, float]]) -> list[np.ndarray]:
    """Exact target ranks (1 + higher + tied with a smaller id, over items 1..N) of
    ``combine`` for every ``w`` in ``grid``, for components given as coordinate lists
    (row, item, value) -- duplicates summed, then divided by the row maximum -- whose
    other items score 0. Work scales with the entries, not with B x N."""
    labels = np.asarray(labels, np.int64)
    names = sorted(parts)
    n_cols = int(max([int(labels.max(initial=0))] + [int(p[1].max(initial=0)) for p in parts.values()])) + 1
    keys_list, comp_of, vals_list = [], [], []
    for j, c in enumerate(names):
        rows, items, vals = parts[c]
        key = rows.astype(np.int64) * n_cols + items
        uk, inv = np.unique(key, return_inverse=True)
        v = np.bincount(inv, weights=vals, minlength=len(uk))
        v = np.maximum(v, 0.0)
        r = uk // n_cols
        top = np.zeros(len(labels))
        np.maximum.at(top, r, v)
        v = np.divide(v, top[r], out=np.zeros_like(v), where=top[r] > 0)
        keys_list.append(uk)
        comp_of.append(np.full(len(uk), j))
        vals_list.append(v)
    all_keys = np.concatenate(keys_list + [np.arange(len(labels)) * n_cols + labels])  # the targets always present
    union, inv = np.unique(all_keys, return_inverse=True)
    matrix = np.zeros((len(union), len(names)))
    offset = 0
    for j, v in enumerate(vals_list):
        matrix[inv[offset:offset + len(v)], j] = v
        offset += len(v)
    u_row, u_item = union // n_cols, union % n_cols
    target_at = inv[offset:]
    before = u_item < labels[u_row]
    n_before = np.bincount(u_row, weights=before, minlength=len(labels))
    outside_before = (labels - 1) - n_before  # items 1..label-1 outside the union: they score 0
    out = []
    for w in grid:
        score = matrix @ np.array([float(w.get(c, 0.0)) for c in names])
        t = score[target_at]
        higher = np.bincount(u_row, weights=score > t[u_row], minlength=len(labels))
        tied = np.bincount(u_row, weights=(score == t[u_row]) & before, minlength=len(labels))
        out.append((1 + higher + tied + np.where(t == 0, outside_before, 0)).astype(np.int64))
    return out


def weight_grid(components: Sequence[str], values: Mapping[str, Iterable[float]]) -> list[dict[str, float]]:
    """Every combination of ``values`` per component (the first component's weight is
    fixed to 1: the scores are scale free)."""
    grid: list[dict[str, float]] = [{components[0]: 1.0}]
    for c in components[1:]:
        grid = [{**g, c: float(v)} for g in grid for v in values[c]]
    return grid


def weights_name(weights: Mapping[str, float]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in weights.items())


def coordinate_search(start: Mapping[str, Any], axes: Mapping[str, Sequence[Any]],
                      evaluate: Callable[[dict[str, Any]], dict[str, float]], rounds: int = 2,
                      valid: Callable[[dict[str, Any]], bool] = lambda p: True
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Walk ``axes`` one at a time from ``start``, keeping the best value of each
    (``objective``, ties by P@20), ``rounds`` times; returns the best point and every
    evaluated point with its result (each point evaluated once)."""
    seen: dict[str, dict[str, Any]] = {}

    def score(point: dict[str, Any]) -> tuple[float, float]:
        key = repr(sorted(point.items()))
        if key not in seen:
            res = evaluate(point)
            seen[key] = {"params": dict(point), **res, "objective": round(objective(res), 4)}
        r = seen[key]
        return r["objective"], r["P@20"]

    best = dict(start)
    best_score = score(best)
    for _ in range(rounds):
        moved = False
        for axis, values in axes.items():
            for v in values:
                cand = {**best, axis: v}
                if cand == best or not valid(cand):
                    continue
                sc = score(cand)
                if sc > best_score:
                    best, best_score, moved = cand, sc, True
        if not moved:
            break
    return best, list(seen.values())

"""The baselines of the emotion model, in numpy (the project pins no scikit-learn), and
the metrics and folds every comparison shares.

* ``Ridge``: standardised inputs, closed-form ``w = (X'X + alpha I)^-1 X'y`` on centred
  targets, one output per column of ``y`` (N, K); alpha per column by leave-one-out
  error over a grid.
* ``GradientBoostedTrees``: least-squares gradient boosting (Friedman, "Greedy Function
  Approximation: A Gradient Boosting Machine", Ann. Statist. 2001) with histogram splits
  as in LightGBM (Ke et al., NeurIPS 2017): every input is cut into at most ``bins``
  quantile bins once; each tree grows level by level to ``depth`` (every node picks
  its own feature and bin), a split needs ``min_leaf`` rows on each side, leaves are
  ``learning_rate * sum(residual) / (n + l2)``; each tree sees a ``subsample`` of the
  rows. One model per target column.
* ``kfold``: seeded shuffled folds; ``group_kfold``: the same over groups of rows (no
  group on both sides of a fold); ``r2``/``mae`` per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def kfold(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint test index arrays covering 0..n-1 (seeded shuffle)."""
    if folds < 2 or n < folds:
        raise ValueError(f"need at least {folds} rows for {folds} folds, got {n}")
    return [np.sort(part) for part in np.array_split(np.random.default_rng(seed).permutation(n), folds)]


def group_kfold(groups: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """``folds`` disjoint test index arrays covering 0..n-1 where the rows of one group
    (``groups`` (n,)) always share a fold: the shuffled groups are dealt to the folds,
    each next group to the fold with the fewest rows so far (sizes stay even)."""
    labels, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)[1:]
    n_groups = len(sizes)
    if folds < 2 or n_groups < folds:
        raise ValueError(f"need at least {folds} groups for {folds} folds, got {n_groups}")
    fold_of = np.empty(n_groups, np.int64)
    filled = np.zeros(folds, np.int64)
    for g in np.random.default_rng(seed).permutation(n_groups):
        fold_of[g] = int(filled.argmin())
        filled[fold_of[g]] += sizes[g]
    return [np.flatnonzero(fold_of[labels] == k) for k in range(folds)]


def r2(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column: 1 - SSE / SST (SST about the column mean)."""
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    return 1.0 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)


def mae(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(y, np.float64) - np.asarray(p, np.float64)).mean(0)


@dataclass
class Ridge:
    """Ridge regression; with several ``alphas`` each target column takes the one of least
    leave-one-out error (closed form from one SVD: residual_i / (1 - h_ii))."""

    alphas: tuple[float, ...] = (1.0,)
    mean_: np.ndarray | None = None
    std_: np.ndarray | None = None
    coef_: np.ndarray | None = None  # (F, K)
    intercept_: np.ndarray | None = None  # (K,)
    alpha_: np.ndarray | None = None  # (K,) the chosen alpha per column

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Ridge":
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        y = y[:, None] if y.ndim == 1 else y
        self.mean_, std = x.mean(0), x.std(0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        z = (x - self.mean_) / self.std_
        self.intercept_ = y.mean(0)
        yc = y - self.intercept_
        u, s, vt = np.linalg.svd(z, full_matrices=False)
        uty = u.T @ yc
        best_err = np.full(y.shape[1], np.inf)
        self.coef_, self.alpha_ = np.zeros((z.shape[1], y.shape[1])), np.zeros(y.shape[1])
        for alpha in self.alphas:
            shrink = s / (s ** 2 + alpha)  # (r,)
            coef = vt.T @ (shrink[:, None] * uty)
            hat = (u ** 2) @ (s ** 2 / (s ** 2 + alpha)) + 1.0 / len(z)  # the intercept's share too
            loo = ((yc - z @ coef) / (1.0 - hat)[:, None]) ** 2
            err = loo.mean(0)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            self.coef_[:, better], self.alpha_[better] = coef[:, better], alpha
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.coef_ is not None and self.intercept_ is not None, "Ridge is not fitted"
        assert self.mean_ is not None and self.std_ is not None
        return ((np.asarray(x, np.float64) - self.mean_) / self.std_) @ self.coef_ + self.intercept_


@dataclass
class _Tree:
    features: list[np.ndarray]  # per level: (2^level,) feature of each node
    thresholds: list[np.ndarray]  # per level: (2^level,) bin; bin <= threshold goes left
    leaves: np.ndarray  # (2^depth,)

    def predict(self, binned: np.ndarray) -> np.ndarray:
        node = np.zeros(len(binned), np.int64)
        rows = np.arange(len(binned))
        for feats, thr in zip(self.features, self.thresholds):
            node = 2 * node + (binned[rows, feats[node]] > thr[node])
        return self.leaves[node]


@dataclass
class GradientBoostedTrees:
    # settings without defaults: they come from ``EmotionConfig.gbt_*`` (``emotion_bench._gbt``)
    trees: int
    depth: int
    learning_rate: float
    min_leaf: int
    subsample: float
    bins: int
    l2: float = 1.0
    seed: int = 0
    edges_: list[np.ndarray] = field(default_factory=list)
    base_: np.ndarray | None = None  # (K,)
    models_: list[list[_Tree]] = field(default_factory=list)  # per target column

    def _bin(self, x: np.ndarray) -> np.ndarray:
        return np.stack([np.searchsorted(e, x[:, f], side="right") for f, e in enumerate(self.edges_)],
                        axis=1).astype(np.int64)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GradientBoostedTrees":
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        y = y[:, None] if y.ndim == 1 else y
        q = np.linspace(0, 1, self.bins + 1)[1:-1]
        self.edges_ = [np.unique(np.quantile(x[:, f], q)) for f in range(x.shape[1])]
        binned = self._bin(x)
        rng = np.random.default_rng(self.seed)
        self.base_ = y.mean(0)
        self.models_ = []
        for k in range(y.shape[1]):
            pred = np.full(len(y), self.base_[k])
            trees = []
            for _ in range(self.trees):
                rows = rng.random(len(y)) < self.subsample if self.subsample < 1 else np.ones(len(y), bool)
                tree = self._grow(binned[rows], y[rows, k] - pred[rows])
                pred += tree.predict(binned)
                trees.append(tree)
            self.models_.append(trees)
        return self

    def _grow(self, binned: np.ndarray, residual: np.ndarray) -> _Tree:
        n, n_feat = binned.shape
        nb = self.bins
        node = np.zeros(n, np.int64)
        flat_feature = np.arange(n_feat)[None, :] * nb
        features, thresholds = [], []
        for level in range(self.depth):
            n_nodes = 2 ** level
            idx = ((node[:, None] * n_feat) * nb + flat_feature + binned).ravel()  # (n * F,)
            size = n_nodes * n_feat * nb
            g = np.bincount(idx, np.repeat(residual, n_feat), minlength=size).reshape(n_nodes, n_feat, nb)
            c = np.bincount(idx, minlength=size).reshape(n_nodes, n_feat, nb).astype(np.float64)
            gl, cl = g.cumsum(-1), c.cumsum(-1)  # left = bins <= b
            gt, ct = gl[..., -1:], cl[..., -1:]
            gr, cr = gt - gl, ct - cl
            gain = gl ** 2 / (cl + self.l2) + gr ** 2 / (cr + self.l2) - gt ** 2 / (ct + self.l2)
            gain = np.where((cl >= self.min_leaf) & (cr >= self.min_leaf), gain, -np.inf)
            best = gain.reshape(n_nodes, -1).argmax(1)
            best_gain = gain.reshape(n_nodes, -1)[np.arange(n_nodes), best]
            feat, thr = best // nb, best % nb
            # no useful split: everything goes left (bin <= nb - 1), the right child stays empty
            thr = np.where(best_gain > 1e-12, thr, nb - 1)
            feat = np.where(best_gain > 1e-12, feat, 0)
            features.append(feat)
            thresholds.append(thr)
            node = 2 * node + (binned[np.arange(n), feat[node]] > thr[node])
        n_leaves = 2 ** self.depth
        sums = np.bincount(node, residual, minlength=n_leaves)
        counts = np.bincount(node, minlength=n_leaves)
        return _Tree(features, thresholds, self.learning_rate * sums / (counts + self.l2))

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.base_ is not None, "GradientBoostedTrees is not fitted"
        binned = self._bin(np.asarray(x, np.float64))
        out = np.tile(self.base_, (len(binned), 1))
        for k, trees in enumerate(self.models_):
            for tree in trees:
                out[:, k] += tree.predict(binned)
        return out

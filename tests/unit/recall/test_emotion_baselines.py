"""Ridge, gradient-boosted trees, folds and metrics of the emotion benchmark, on hand
values and planted signals."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.emotion_baselines import GradientBoostedTrees, Ridge, kfold, mae, r2


def test_r2_and_mae_by_hand() -> None:
    y = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 2.0]])
    p = np.array([[1.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    # column 0: SSE 1, SST 2 -> 0.5; column 1: SSE 3, SST 8/3 -> -1/8
    assert r2(y, p) == pytest.approx([0.5, -0.125])
    assert mae(y, p) == pytest.approx([1 / 3, 1.0])


def test_kfold_partitions_every_row_once() -> None:
    folds = kfold(11, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(11))
    assert [len(f) for f in folds] == [4, 4, 3]
    assert [f.tolist() for f in kfold(11, 3, seed=0)] == [f.tolist() for f in folds]
    with pytest.raises(ValueError, match="at least 3 rows"):
        kfold(2, 3, seed=0)


def test_ridge_recovers_a_line_and_shrinks_with_alpha() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = 2 * x[:, 0] + 1
    exact = Ridge((1e-9,)).fit(x, y)
    assert exact.predict(np.array([[10.0]]))[0, 0] == pytest.approx(21.0)
    # standardised x has sum of squares n = 4, so alpha = 4 halves the slope
    half = Ridge((4.0,)).fit(x, y)
    assert half.predict(np.array([[3.0]]))[0, 0] - half.predict(np.array([[0.0]]))[0, 0] == pytest.approx(3.0)


def test_ridge_picks_the_alpha_each_column_needs() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 30))
    y = np.stack([x[:, 0] + 0.1 * rng.normal(size=200), rng.normal(size=200)], 1)  # signal, pure noise
    model = Ridge((1e-3, 1e4)).fit(x, y)
    assert model.alpha_ is not None and model.alpha_.tolist() == [1e-3, 1e4]


def test_boosted_trees_learn_a_step_ridge_cannot() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(600, 3))
    y = np.where(np.abs(x[:, 0]) > 0.5, 1.0, -1.0) + 0.1 * rng.normal(size=600)
    train, test = np.arange(400), np.arange(400, 600)
    trees = GradientBoostedTrees(trees=60, depth=3, learning_rate=0.2, min_leaf=10, subsample=0.8,
                                 bins=64).fit(x[train], y[train])
    line = Ridge().fit(x[train], y[train])
    assert r2(y[test, None], trees.predict(x[test]))[0] > 0.9 > 0.1 > r2(y[test, None], line.predict(x[test]))[0]

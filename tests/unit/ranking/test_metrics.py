"""ranking.metrics.paired_auc_difference: the point values are the plain AUCs, and the
paired cluster bootstrap CI by construction."""

from __future__ import annotations

import numpy as np
import pytest

from encore.ranking.metrics import auc, paired_auc_difference


def test_paired_auc_difference_by_hand():
    y = np.array([1, 0, 1, 0, 1, 0])
    a = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])  # perfect: AUC 1
    b = np.array([0.5, 0.5, 0.1, 0.9, 0.6, 0.2])
    # b: positives 0.5, 0.1, 0.6; negatives 0.5, 0.9, 0.2 -> 0.5: (0.5 tie, <0.9, >0.2) = 1.5;
    # 0.1: 0; 0.6: (>0.5, <0.9, >0.2) = 2 -> 3.5 / 9
    assert auc(y, b) == pytest.approx(3.5 / 9)
    out = paired_auc_difference(y, a, b, np.array([0, 0, 1, 1, 2, 2]), samples=300, seed=1)
    assert out["auc_a"] == pytest.approx(1.0) and out["auc_b"] == pytest.approx(3.5 / 9)
    assert out["diff"] == pytest.approx(1 - 3.5 / 9)
    assert out["ci_low"] <= out["diff"] <= out["ci_high"] <= 1.0
    # identical scores: the difference is 0 in every resample
    same = paired_auc_difference(y, b, b, np.array([0, 0, 1, 1, 2, 2]), samples=50)
    assert same["diff"] == 0 and same["ci_low"] == 0 and same["ci_high"] == 0
    assert paired_auc_difference(np.ones(3), a[:3], b[:3], np.zeros(3)) is None


def test_paired_difference_separates_a_planted_signal_from_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    groups = np.repeat(np.arange(400), 10)
    noise = rng.normal(size=4000)
    better, worse = y * 0.6 + noise, y * 0.5 + noise + 0.05 * rng.normal(size=4000)
    out = paired_auc_difference(y, better, worse, groups, samples=100)
    assert out["ci_low"] > 0  # paired: the shared noise cancels, the small gap is resolved

"""Paired bootstrap, verdicts and sample sizes (encore.serving.ab.stats) by hand."""

from __future__ import annotations

import numpy as np
import pytest

from encore.serving.ab.stats import (
    NO_DIFFERENCE, bootstrap_means, bootstrap_statistic, compare_means, required_sample_size, verdict,
)


def test_verdict_by_direction():
    assert verdict(0.1, 0.3) == "better" and verdict(-0.3, -0.1) == "worse"
    assert verdict(-0.1, 0.2) == NO_DIFFERENCE
    assert verdict(0.1, 0.3, "lower") == "worse" and verdict(-0.3, -0.1, "lower") == "better"
    assert verdict(0.1, 0.3, "neutral") == "higher"
    with pytest.raises(ValueError, match="direction"):
        verdict(0, 1, "up")


def test_required_sample_size_by_hand():
    # (z_0.975 + z_0.8) = 1.95996 + 0.84162 = 2.80158; (2.80158 * 1 / 0.5)^2 = 31.40 -> 32
    assert required_sample_size(1.0, 0.5, 0.95, 0.8) == 32
    assert required_sample_size(1.0, 0.0, 0.95, 0.8) is None


def test_paired_bootstrap_shifted_copy_is_exact_and_deterministic():
    a = np.random.default_rng(0).normal(5.0, 2.0, 300)
    boot = bootstrap_means(a, a + 1.0, 200, seed=3)
    assert np.allclose(boot[:, 2], 1.0)  # the same listeners on both sides: the shift, always
    assert np.array_equal(boot, bootstrap_means(a, a + 1.0, 200, seed=3))
    out = compare_means(a, a + 1.0, 200, 0.95, 0.8, seed=3)
    assert out["diff"] == pytest.approx(1.0) and out["ci_low"] == pytest.approx(1.0)
    assert out["verdict"] == "better" and out["required_n"] is None


def test_pairing_detects_what_an_unpaired_comparison_would_miss():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 3.0, 400)  # large listener-to-listener variation, shared by A and B
    b = a + 0.1 + rng.normal(0.0, 0.2, 400)
    out = compare_means(a, b, 500, 0.95, 0.8, seed=0)
    assert out["ci_low"] > 0 and out["verdict"] == "better"
    # the unpaired interval of the two means is about 2 * 1.96 * 3 * sqrt(2 / 400) = 0.83 wide
    assert out["ci_high"] - out["ci_low"] < 0.1


def test_identical_configurations_give_no_difference():
    a = np.random.default_rng(2).poisson(3.0, 100).astype(float)
    out = compare_means(a, a.copy(), 100, 0.95, 0.8, seed=0)
    assert out["ci_low"] == out["ci_high"] == 0.0 and out["verdict"] == NO_DIFFERENCE
    assert out["required_n"] is None


def test_noisy_no_difference_reports_a_required_sample_size():
    rng = np.random.default_rng(4)
    a = rng.normal(0, 1, 50)
    b = a + rng.normal(0.05, 1.0, 50)
    out = compare_means(a, b, 300, 0.95, 0.8, seed=0)
    assert out["verdict"] == NO_DIFFERENCE
    sd = float((b - a).std(ddof=1))
    assert out["required_n"] == required_sample_size(sd, out["diff"], 0.95, 0.8) > 50


def test_bootstrap_statistic_resamples_listeners_for_both_sides():
    a, b = np.arange(10.0), np.arange(10.0) * 2
    boot = bootstrap_statistic(lambda idx: (float(a[idx].max()), float(b[idx].max())), 10, 50, seed=0)
    assert np.allclose(boot[:, 1], 2 * boot[:, 0]) and np.allclose(boot[:, 2], boot[:, 0])

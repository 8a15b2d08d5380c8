"""IPS, SNIPS, DR and ESS on a hand-built log (encore.serving.ab.offpolicy), every
number computed by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from encore.serving.ab.offpolicy import (
    LoggedExposures, direct, doubly_robust, effective_sample_size, ips, snips, weights,
)

# listener 0: two slates; listener 1: one slate; listener 2: none.
LOG = LoggedExposures(
    listener=np.array([0, 0, 0, 1, 1]),
    track=np.array([10, 11, 12, 20, 21]),
    position=np.array([0, 1, 0, 2, 0]),
    propensity=np.array([0.2, 0.25, 0.5, 0.1, 0.5]),
    reward=np.array([1.0, 0.0, 0.0, 1.0, 1.0]),
    slates=np.array([2, 1, 0]),
)
LISTS = np.array([[10, 12, 99], [21, 30, -1], [40, 41, 42]])


def test_weights_match_only_listed_tracks():
    # 10 in L0: 1/0.2 = 5; 11 not; 12 in L0: 1/0.5 = 2; 20 not in L1; 21 in L1: 2
    assert weights(LOG, LISTS).tolist() == pytest.approx([5, 0, 2, 0, 2])
    assert weights(LOG, LISTS, clip=4).tolist() == pytest.approx([4, 0, 2, 0, 2])


def test_ips_by_hand():
    v = ips(LOG, LISTS)
    # u0: (5 * 1 + 2 * 0) / 2 slates = 2.5; u1: 2 * 1 / 1 = 2; u2: no slates
    assert v[:2].tolist() == pytest.approx([2.5, 2.0]) and np.isnan(v[2])
    assert ips(LOG, LISTS, clip=4)[:2].tolist() == pytest.approx([2.0, 2.0])


def test_snips_by_hand():
    # numerators 5/2, 2/1, 0; denominators (5 + 2)/2, 2/1, 0 -> 4.5 / 5.5 = 9/11 per matched item;
    # list lengths 3 (99 is a track, only never logged), 2, 3 -> mean 8/3; SNIPS = 9/11 * 8/3 = 24/11
    assert snips(LOG, LISTS) == pytest.approx(24 / 11)
    # a bootstrap resample that repeats listener 1 twice: (2 + 2) / (2 + 2) * 2 = 2
    assert snips(LOG, LISTS, rows=np.array([1, 1])) == pytest.approx(2.0)


def test_dm_and_dr_by_hand():
    q_lists = np.full(LISTS.shape, 0.3)
    q_logged = np.full(5, 0.4)
    # DM: 3 x 0.3, 2 x 0.3 (one pad), 3 x 0.3
    assert direct(q_lists, LISTS).tolist() == pytest.approx([0.9, 0.6, 0.9])
    # DR corrections: u0 (5 * 0.6 + 2 * (-0.4)) / 2 = 1.1; u1 2 * 0.6 / 1 = 1.2; u2 0
    assert doubly_robust(LOG, LISTS, q_lists, q_logged).tolist() == pytest.approx([2.0, 1.8, 0.9])
    # a perfect reward model (q = the logged reward) leaves DM alone
    assert doubly_robust(LOG, LISTS, q_lists, LOG.reward).tolist() == pytest.approx([0.9, 0.6, 0.9])


def test_effective_sample_size_by_hand():
    assert effective_sample_size(np.array([5.0, 0, 2, 0, 2])) == pytest.approx(81 / 33)
    assert effective_sample_size(np.ones(7)) == pytest.approx(7)
    assert effective_sample_size(np.zeros(3)) == 0.0


def test_bad_propensities_are_refused():
    with pytest.raises(ValueError, match="propensities"):
        LoggedExposures(np.array([0]), np.array([1]), np.array([0]), np.array([0.0]), np.array([1.0]),
                        np.array([1]))

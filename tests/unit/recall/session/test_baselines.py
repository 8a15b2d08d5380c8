"""The simple session baselines and the metrics, on hand-computed toy data."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.session.baselines import SessionBaselines
from encore.recall.session.metrics import RankAccumulator, target_ranks

SESSIONS = [[1, 2, 3], [1, 2, 4], [2, 3], [5, 1]]


def test_transition_counts_of_the_last_item():
    b = SessionBaselines.fit(SESSIONS, num_items=5)
    s = b.scores("transition", [[5, 2]])
    # after 2: 3 twice, 4 once
    assert s[0, 1:].tolist() == [0, 0, 2, 1, 0]
    assert s[0, 0] == -np.inf


def test_session_knn_by_hand():
    b = SessionBaselines.fit(SESSIONS, num_items=5, neighbours=2)
    # query [1, 2]: weights 1 -> 1/2, 2 -> 1; |s| = 2
    # sims: S0 (1,2,3): 1.5/sqrt(6); S1: 1.5/sqrt(6); S2 (2,3): 1/sqrt(4); S3 (5,1): .5/sqrt(4)
    s = b.scores("session_knn", [[1, 2]])[0]
    top = 1.5 / np.sqrt(6)
    assert s[3] == pytest.approx(top) and s[4] == pytest.approx(top)
    assert s[1] == pytest.approx(2 * top) and s[5] == 0.0  # S2, S3 are not among the 2 neighbours


def test_item_knn_cosine():
    b = SessionBaselines.fit(SESSIONS, num_items=5)
    s = b.scores("item_knn", [[2]])[0]
    # item 2 in S0, S1, S2; item 3 in S0, S2: co = 2, cos = 2 / sqrt(3 * 2)
    assert s[3] == pytest.approx(2 / np.sqrt(6))
    assert s[5] == 0.0


def test_hybrid_is_the_sum_of_row_normalised_scores():
    b = SessionBaselines.fit(SESSIONS, num_items=5)
    q = [[1, 2]]
    knn, tr = b.scores("session_knn", q)[0, 1:], b.scores("transition", q)[0, 1:]
    assert np.allclose(b.scores("hybrid", q)[0, 1:], knn / knn.max() + tr / tr.max())


def test_ranks_break_ties_by_smaller_id_and_metrics():
    scores = np.array([[-np.inf, 0.5, 0.9, 0.5, 0.0],
                       [-np.inf, 0.0, 0.0, 0.0, 0.0]])
    ranks = target_ranks(scores, np.array([3, 4]))
    assert ranks.tolist() == [3, 4]  # 0.9 and the tied smaller id 1 come first
    acc = RankAccumulator(cutoffs=(3, 1))
    acc.add(ranks)
    assert acc.result() == {"P@3": 50.0, "MRR@3": pytest.approx(100 / 6, abs=0.01), "P@1": 0.0, "MRR@1": 0.0,
                            "pairs": 2}

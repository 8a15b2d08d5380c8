"""STAN, V-SKNN (div match weight, IDF) and sequential rules, hand-computed on tiny sessions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from encore.recall.session.baselines import SessionBaselines
from encore.recall.session.knn import KnnParams, NeighbourIndex, rule_scores

SESSIONS = [[1, 2, 3], [1, 2, 4], [2, 3], [5, 1]]  # oldest first: S3 is the most recent
E = math.exp


def test_index_keeps_the_last_occurrence_of_a_repeated_item():
    ix = NeighbourIndex.fit([[1, 2, 1, 3]], num_items=3)
    assert ix.sess_items.tolist() == [2, 1, 3] and ix.sess_pos.tolist() == [2, 3, 4]
    assert ix.sizes.tolist() == [3]


def test_stan_by_hand():
    ix = NeighbourIndex.fit(SESSIONS, num_items=5)
    p = KnnParams(k=2, lambda1=1.0, lambda2=2.0, lambda3=1.0)
    # query [1, 2] (L = 2): w(1) = e^-1, w(2) = 1; |s| = 2; ages S0..S3 = 3, 2, 1, 0
    base = (1 + E(-1)) / math.sqrt(6)
    sims = {0: base * E(-1.5), 1: base * E(-1.0), 2: 0.5 * E(-0.5), 3: 0.5 * E(-1) * 1.0}
    assert sorted(sims, key=sims.get, reverse=True)[:2] == [2, 1]
    s = ix.scores([[1, 2]], p)[0]
    # S2 = (2, 3), match item 2 at position 1; S1 = (1, 2, 4), match item 2 at position 2
    expect = {1: sims[1] * E(-1), 2: sims[2] + sims[1], 3: sims[2] * E(-1), 4: sims[1] * E(-1), 5: 0.0}
    for item, v in expect.items():
        assert s[item] == pytest.approx(v, rel=1e-5), item
    after = ix.scores([[1, 2]], KnnParams(k=2, lambda1=1.0, lambda2=2.0, lambda3=1.0, after_only=True))[0]
    assert after[1:].tolist() == pytest.approx([0.0, 0.0, sims[2] * E(-1), sims[1] * E(-1), 0.0], rel=1e-5)


def test_vsknn_div_match_weight_and_idf_by_hand():
    ix = NeighbourIndex.fit(SESSIONS, num_items=5)
    # query [1, 2]: w(1) = 1/2, w(2) = 1; S0, S1: 1.5 / sqrt(6); S2: 1 / 2; S3 (5, 1): 0.5 / 2
    # div: S3's most recent query item is 1 (position 1 of 2): weight 1 / (2 - 1 + 1)
    s = ix.scores([[1, 2]], KnnParams(k=4, match_weight="div"))[0]
    assert s[5] == pytest.approx(0.25 / 2)
    assert s[1] == pytest.approx(2 * 1.5 / math.sqrt(6) + 0.25 / 2)
    idf = ix.scores([[1, 2]], KnnParams(k=4, match_weight="div", idf_weight=1.0))[0]
    assert idf[5] == pytest.approx(0.125 * (1 + math.log(4 / 1)))  # item 5 is in 1 of 4 sessions
    assert idf[3] == pytest.approx((1.5 / math.sqrt(6) + 0.5) * (1 + math.log(4 / 2)))


def test_linear_knn_is_the_baselines_session_knn_and_ties_prefer_recent_sessions():
    ix = NeighbourIndex.fit(SESSIONS, num_items=5)
    b = SessionBaselines.fit(SESSIONS, num_items=5, neighbours=1)
    # query [3]: S0 (1, 2, 3) 1/sqrt(3), S2 (2, 3) 1/sqrt(2): S2 wins
    assert np.allclose(b.scores("session_knn", [[3]])[0, 1:], ix.scores([[3]], KnnParams(k=1))[0, 1:])
    rows, sess, sim, _ = ix.neighbours([[1, 2], [4]], KnnParams(k=2))
    assert rows.tolist() == [0, 0, 1] and sess.tolist() == [1, 0, 1]  # S0 and S1 tie: S1 is more recent
    assert sim[2] == pytest.approx(1 / math.sqrt(3))


def test_sequential_rules_by_hand():
    ix = NeighbourIndex.fit(SESSIONS, num_items=5)
    rules = ix.sequential_rules(steps=2)
    # after 1: 2 (gap 1) in S0 and S1, 3 (gap 2) in S0, 4 (gap 2) in S1
    s = rule_scores(rules, [[5, 1], [3]])
    assert s[0, 1:].tolist() == pytest.approx([0.0, 2.0, 0.5, 0.5, 0.0])
    assert s[1].sum() == 0.0  # 3 always ends its session
    # one step is the first-order transition counts
    b = SessionBaselines.fit(SESSIONS, num_items=5)
    assert np.allclose(rule_scores(ix.sequential_rules(steps=1), [[5, 2]])[0, 1:],
                       b.scores("transition", [[5, 2]])[0, 1:])


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="lambda3"):
        KnnParams(lambda3=0.0)
    with pytest.raises(ValueError, match="after_only"):
        KnnParams(after_only=True)
    with pytest.raises(ValueError, match="item ids"):
        NeighbourIndex.fit([[0, 1]], num_items=3)

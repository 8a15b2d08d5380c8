"""The Last.fm benchmark protocol on hand-made data: the hold-out rule, AUC and
recall@K computed by hand, the scorers' formulas on a 3 x 3 matrix, and the matrices
built from the loader's frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.recall import lastfm_protocol as lp


def test_auc_counts_pairs_and_half_ties():
    # pairs: 3>2, 3>1, 1<2, 1=1 (half): 2.5 of 4
    assert lp.auc(np.array([3.0, 1.0]), np.array([2.0, 1.0])) == pytest.approx(0.625)
    assert lp.auc(np.array([5.0]), np.array([1.0, 2.0])) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        lp.auc(np.array([]), np.array([1.0]))


def test_holdout_split_holds_out_a_fifth_and_samples_unseen_negatives():
    listens = np.zeros((4, 20), np.float32)
    listens[0, :5] = 1  # 5 artists: round(1.0) = 1 held out
    listens[1, :2] = 1  # 2: round(0.4) = 0, not a test user
    listens[2, :3] = 1  # 3: round(0.6) = 1
    listens[3, :8] = 1  # 8: round(1.6) = 2
    split = lp.holdout_split(listens, seed=3)
    per_user = np.bincount(split.pos[:, 0], minlength=4)
    assert per_user.tolist() == [1, 0, 1, 2]
    assert np.bincount(split.neg[:, 0], minlength=4).tolist() == [1, 0, 1, 2]
    assert (listens[split.pos[:, 0], split.pos[:, 1]] == 1).all()
    assert (split.train[split.pos[:, 0], split.pos[:, 1]] == 0).all()  # held out of train
    assert (listens[split.neg[:, 0], split.neg[:, 1]] == 0).all()  # never listened to
    assert split.train.sum() == listens.sum() - len(split.pos) and split.test_users == 3
    again = lp.holdout_split(listens, seed=3)
    np.testing.assert_array_equal(again.pos, split.pos)
    np.testing.assert_array_equal(again.neg, split.neg)


def test_recall_at_k_ranks_only_artists_outside_train():
    train = np.array([[1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    split = lp.Split(train, pos=np.array([[0, 2], [0, 3], [1, 0]]), neg=np.array([[0, 1], [1, 1]]))
    scores = np.array([[9.0, 5.0, 4.0, 1.0],   # user 0: train artist 0 masked; top-1 = 1, top-2 = 1, 2
                       [1.0, 1.0, 0.0, 9.0]])  # user 1: artist 3 masked; 0 and 1 tie, 0 wins (smaller)
    assert lp.recall_at_k(scores, split, 1) == pytest.approx((0 + 1) / 2)
    assert lp.recall_at_k(scores, split, 2) == pytest.approx((0.5 + 1) / 2)
    # AUC of the same scores: positives (4, 1, 1) vs negatives (5, 1): 0 + 0 + 0.5 ... by hand:
    # 4>1 (1), 1<5, 1=1 (0.5), 1<5, 1=1 (0.5), 4<5 -> 2 of 6
    assert lp.evaluate(scores, split, ks=())["auc"] == pytest.approx(2 / 6)


R = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)


def test_item_cf_and_the_walks_match_the_hand_computed_scores():
    # every pair of artists shares one of two listeners: cosine 1/2
    np.testing.assert_allclose(lp.item_cf(R)[0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(lp.popularity(R)[1], [2, 2, 2])
    # user 0 -> artists 0, 1 (1/2 each) -> their listeners (1/2 each) -> those listeners' artists (1/2 each),
    # the walk back to the same artist dropped: from 0: (0, 1/4, 1/4); from 1: (1/4, 0, 1/4)
    np.testing.assert_allclose(lp.kg_p3(R, np.zeros((3, 0), np.float32), 0.0)[0], [0.125, 0.125, 0.25])
    # a KG entity shared by artists 1 and 2 (weight 1): from artist 1 the contexts are users 0, 2 and the
    # entity (1/3 each), leading back to artists (0, 1) / (1, 2) / (1, 2) (1/2 each): (1/6, 1/2, 1/3), the
    # walk back to artist 1 dropped; from artist 0 nothing changes: (0, 1/4, 1/4)
    kg = np.array([[0], [1], [1]], np.float32)
    np.testing.assert_allclose(lp.kg_p3(R, kg, 1.0)[0], [1 / 12, 1 / 8, 7 / 24], rtol=1e-6)
    # the KG alone: user 0's artist 1 -> entity -> artist 2 (artist 0 has no KG link)
    np.testing.assert_allclose(lp.kg_walk(R, kg)[0], [0, 0, 0.25])


def test_similar_listeners_keeps_the_k_nearest():
    listens = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 1]], np.float32)
    # cos(0, 1) = 2/sqrt 6, cos(0, 2) = 1/2: with k = 1 only listener 1 votes
    np.testing.assert_allclose(lp.similar_listeners(listens, 1)[0], 2 / np.sqrt(6) * listens[1], rtol=1e-6)
    np.testing.assert_allclose(lp.similar_listeners(listens, 2)[0],
                               2 / np.sqrt(6) * listens[1] + 0.5 * listens[2], rtol=1e-6)


def test_two_hop_links_and_matrices_from_the_loader_frames():
    kg = np.array([[1, 0], [1, 1]], np.float32)  # artist 0 - e0, artist 1 - e0, e1
    np.testing.assert_array_equal(lp.two_hop(kg), [[1, 1], [1, 1]])  # 0 -> e0 -> 1 -> e1
    np.testing.assert_array_equal(lp.kg_context(kg, 0.5), [[1.5, 0.5], [1.5, 1.5]])
    user_artists = pd.DataFrame({"user_id": [7, 7, 8, 9], "artist_id": [10, 11, 11, 99], "weight": [5, 1, 2, 3]})
    triples = pd.DataFrame({"head": [0, 1, 50, 0], "relation": ["r", "r", "s", "t"], "tail": [50, 60, 60, 0]})
    mapping = pd.DataFrame({"artist_id": [11, 10], "entity_id": [1, 0]})
    m = lp.matrices(user_artists, triples, mapping)
    assert m.user_ids.tolist() == [7, 8] and m.artist_ids.tolist() == [10, 11]  # artist 99 is not in the KG
    np.testing.assert_array_equal(m.listens, [[1, 1], [0, 1]])
    # entities 0, 1, 50, 60: artist 10 (entity 0) - 50; artist 11 (entity 1) - 60; the self-loop 0-0 dropped
    np.testing.assert_array_equal(m.kg, [[0, 0, 1, 0], [0, 0, 0, 1]])
    assert m.describe()["interactions"] == 3


@pytest.mark.realdata
def test_rank_normalise_and_blend_by_hand():
    scores = np.array([[3.0, 1.0], [1.0, 10.0]])
    # ranks over all 4 entries: 1.0 and 1.0 tie at ranks 1-2 -> 1.5; 3 -> 3; 10 -> 4
    np.testing.assert_allclose(lp.rank_normalise(scores), [[0.75, 0.375], [0.375, 1.0]])
    other = np.array([[0.0, 2.0], [3.0, 1.0]])  # ranks 1, 3, 4, 2
    np.testing.assert_allclose(lp.blend(scores, other, 0.25),
                               [[0.75 * 0.75 + 0.25 * 0.25, 0.75 * 0.375 + 0.25 * 0.75],
                                [0.75 * 0.375 + 0.25 * 1.0, 0.75 * 1.0 + 0.25 * 0.5]])
    np.testing.assert_allclose(lp.blend(scores, other, 0.0), lp.rank_normalise(scores))


def _two_scenes() -> tuple[np.ndarray, np.ndarray]:
    """Artists 0-3 share KG entity 0, artists 4-7 entity 1; users 0-2 listen to 0-2,
    users 3-5 to 4-6; artists 3 and 7 have no listener, only their KG link."""
    train = np.zeros((6, 8), np.float32)
    train[:3, :3] = 1.0
    train[3:, 4:7] = 1.0
    kg = np.zeros((8, 2), np.float32)
    kg[:4, 0] = 1.0
    kg[4:, 1] = 1.0
    return train, kg


def test_bpr_kg_lifts_unheard_artists_through_their_kg_entity():
    train, kg = _two_scenes()
    scores = lp.bpr_kg(train, kg, dim=4, epochs=60, lr=0.1, reg=1e-3, seed=3)
    assert scores.shape == (6, 8)
    # the unheard artist of the user's own scene outscores the other scene's
    assert (scores[:3, 3] > scores[:3, 7]).all() and (scores[3:, 7] > scores[3:, 3]).all()
    # and the listened artists of the scene outscore the other scene's listened ones
    assert scores[0, :3].min() > scores[0, 4:7].max()
    np.testing.assert_array_equal(scores, lp.bpr_kg(train, kg, dim=4, epochs=60, lr=0.1, reg=1e-3, seed=3))


def test_bpr_without_kg_share_cannot_place_an_artist_nobody_heard():
    train, kg = _two_scenes()
    with_kg = lp.bpr_kg(train, kg, dim=4, epochs=60, lr=0.1, reg=1e-3, seed=3)
    plain = lp.bpr_kg(train, kg, dim=4, epochs=60, lr=0.1, reg=1e-3, seed=3, kg_share=0.0)
    margin = lambda s: (s[:3, 3] - s[:3, 7]).mean() + (s[3:, 7] - s[3:, 3]).mean()  # noqa: E731
    assert margin(with_kg) > margin(plain) + 0.5


def test_choose_blend_picks_the_best_validation_weight_and_ties_go_small():
    train, kg = _two_scenes()
    train = np.repeat(train, 3, axis=0)  # 18 users, 3 artists each: 1 held out per user
    weight, aucs = lp.choose_blend(train, kg, 0.5, kg, (0.0, 0.5, 1.0), dim=4, epochs=30, lr=0.1)
    assert set(aucs) == {"w=0.0", "w=0.5", "w=1.0"}
    best = max(aucs.values())
    assert aucs[f"w={weight}"] == best
    assert all(aucs[f"w={w}"] < best for w in (0.0, 0.5, 1.0) if w < weight)


def test_real_last_fm_matrices_have_the_protocol_counts(shared_data_dir) -> None:
    from encore.platform.data.lastfm_kg import load_lastfm_kg

    data = load_lastfm_kg(shared_data_dir)
    m = lp.matrices(data.user_artists, data.kg, data.artist_entity)
    # ../shared/data/README.md: 1,872 users, 3,846 artists, 21,173 interactions
    assert {k: m.describe()[k] for k in ("users", "artists", "interactions", "kg_entities")} == {
        "users": 1872, "artists": 3846, "interactions": 21173, "kg_entities": 9366}
    assert int((m.kg.sum(axis=1) > 0).sum()) == 3844  # all but two mapped artists have a KG link (not a self-loop)

"""MIND: interest counts by hand, one routing step against numpy, label-aware attention by
hand, the interests on a planted two-taste history, save -> load -> identical recall."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from encore.platform.config import ChannelConfig, MINDParams
from encore.recall.neural.mind import interest_count
from encore.recall.query import Profile
from encore.recall.registry import CHANNEL_KINDS, build_channel, load_channel

from testkit.recall import AS_OF, query
from testkit.recall_neural import TASTE_GROUPS, planted_tables

GROUP_OF = {t: g for g, tracks in TASTE_GROUPS.items() for t in tracks}
LENGTHS = [0, 1, 2, 3, 4, 8, 16, 1000]


def test_interest_count_by_hand():
    dynamic = MINDParams(interests="dynamic", max_interests=4)
    assert interest_count(LENGTHS, dynamic).tolist() == [1, 1, 1, 1, 2, 3, 4, 4]
    assert interest_count([7, 15, 31], dynamic).tolist() == [2, 3, 4]  # floor, not round
    assert interest_count(LENGTHS, MINDParams(interests="dynamic", max_interests=2)).tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert interest_count(LENGTHS, MINDParams(interests="fixed", max_interests=4)).tolist() == [4] * 8
    assert interest_count(LENGTHS, MINDParams(interests="single", max_interests=4)).tolist() == [1] * 8
    assert interest_count([], dynamic).shape == (0,)
    assert CHANNEL_KINDS["mind"].spaces == ("interests",)


def test_graph_interest_count_is_the_numpy_rule():
    from encore.recall.neural.mind import interest_count_tf

    lengths = np.arange(0, 70)
    for mode in ("dynamic", "fixed", "single"):
        for k_max in (1, 3, 4, 6):
            expected = interest_count(lengths, SimpleNamespace(interests=mode, max_interests=k_max))
            assert interest_count_tf(lengths, mode, k_max).numpy().tolist() == expected.tolist(), (mode, k_max)


def _squash(z):
    sq = (z ** 2).sum(-1, keepdims=True)
    return z * (sq / (1 + sq)) / np.sqrt(sq + 1e-9)


def _routing_numpy(u_hat, steps, interests, logits, iterations):
    b = np.broadcast_to(logits, (len(u_hat), *logits.shape)).astype(np.float64)
    for _ in range(iterations):
        masked = np.where(interests[:, :, None], b, -np.inf)
        w = np.exp(masked - masked.max(axis=1, keepdims=True))
        w = w / w.sum(axis=1, keepdims=True) * steps[:, None, :]
        caps = _squash(np.einsum("bkt,btd->bkd", w, u_hat))
        b = b + np.einsum("bkd,btd->bkt", caps, u_hat)
    return caps


def test_routing_matches_numpy():
    from encore.recall.neural.mind import b2i_routing

    rng = np.random.default_rng(3)
    u_hat = rng.normal(size=(2, 4, 3))
    steps = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)  # padding at the end
    interests = np.array([[1, 1], [1, 0]], bool)  # the second example has K = 1
    logits = rng.normal(size=(2, 4))
    # one iteration by hand for example 0: w = softmax over the 2 interests of the logits
    w = np.exp(logits) / np.exp(logits).sum(axis=0)
    z0 = (w[:, :3, None] * u_hat[0, None, :3]).sum(axis=1)
    caps1 = b2i_routing(u_hat.astype(np.float32), steps, interests, logits.astype(np.float32), 1).numpy()
    np.testing.assert_allclose(caps1[0], _squash(z0), atol=1e-5)
    # K = 1: every unpadded behaviour goes to the one interest; the masked interest is 0
    np.testing.assert_allclose(caps1[1, 0], _squash(u_hat[1, :2].sum(axis=0)), atol=1e-5)
    np.testing.assert_allclose(caps1[1, 1], 0.0, atol=1e-6)
    for iterations in (2, 3):
        got = b2i_routing(u_hat.astype(np.float32), steps, interests, logits.astype(np.float32), iterations).numpy()
        np.testing.assert_allclose(got, _routing_numpy(u_hat, steps, interests, logits, iterations), atol=1e-4)
    # padding steps do not move the capsules whatever their vectors
    moved = u_hat.copy()
    moved[0, 3] = 100.0
    again = b2i_routing(moved.astype(np.float32), steps, interests, logits.astype(np.float32), 3).numpy()
    np.testing.assert_allclose(again, b2i_routing(u_hat.astype(np.float32), steps, interests,
                                                  logits.astype(np.float32), 3).numpy(), atol=1e-6)


def test_label_aware_attention_by_hand():
    from encore.recall.neural.mind import label_aware_weights

    v = np.array([[[1, 0], [0, 1], [0.6, 0.8]]], np.float32)  # 3 interests, the third masked
    mask = np.array([[True, True, False]])
    target = np.array([[0.6, 0.8]], np.float32)
    w = label_aware_weights(v, mask, target, power=2.0, temperature=0.5).numpy()[0]
    logits = np.array([0.36, 0.64]) / 0.5  # (v . e)^2 / temperature
    np.testing.assert_allclose(w, np.r_[np.exp(logits) / np.exp(logits).sum(), 0.0], atol=1e-6)
    # the sign is kept: an interest pointing away from the target weighs less than an orthogonal one
    w = label_aware_weights(v, mask, np.array([[-1.0, 0.0]], np.float32), 2.0, 1.0).numpy()[0]
    np.testing.assert_allclose(w[:2], np.exp([-1.0, 0.0]) / np.exp([-1.0, 0.0]).sum(), atol=1e-6)
    # non-integer power: sign(s) |s|^p, no NaN
    w = label_aware_weights(v, mask, np.array([[-0.6, 0.8]], np.float32), 1.5, 1.0).numpy()[0]
    logits = np.array([-(0.6 ** 1.5), 0.8 ** 1.5])
    np.testing.assert_allclose(w[:2], np.exp(logits) / np.exp(logits).sum(), atol=1e-6)
    # p = 0: the uniform mean of the unmasked interests
    np.testing.assert_allclose(label_aware_weights(v, mask, target, 0.0, 0.05).numpy()[0], [0.5, 0.5, 0.0])


def test_model_masks_interests_by_history_length():
    from encore.recall.neural.encoding import Vocabulary, encode_queries
    from encore.recall.neural.mind import MIND

    tables = planted_tables(users_per_group=1, days=1)
    vocab = Vocabulary.fit(tables.tracks, None)
    params = MINDParams(embedding_dim=8, history_length=20, hidden_units=(8,), max_interests=4)
    model = MIND(vocab, params)
    lengths = [0, 1, 3, 4, 8, 20]
    queries = [query(user_id=10 + n, plays=[(t, AS_OF - 1000 * (n - i)) for i, t in enumerate(TASTE_GROUPS[0][:n])])
               for n in lengths]
    features = encode_queries(queries, vocab, params.history_length, params.session_length)
    vectors, mask = model.query_outputs(features)["interests"]
    assert vectors.shape == (6, 4, 8) and mask.numpy().sum(axis=1).tolist() == [1, 1, 1, 2, 3, 4]
    np.testing.assert_allclose(np.linalg.norm(vectors.numpy(), axis=-1), 1.0, atol=1e-5)
    assert model.routing_logits.trainable is False
    np.testing.assert_allclose(MIND(vocab, params).routing_logits.numpy(), model.routing_logits.numpy())


def _mixed(a: int, b: int, user_id: int = 7000):
    """Ten plays alternating between taste groups a and b (dynamic K = 3)."""
    history = [t for pair in zip(TASTE_GROUPS[a][:5], TASTE_GROUPS[b][:5]) for t in pair]
    return query(user_id=user_id, plays=[(t, AS_OF - 1000 * (len(history) - i)) for i, t in enumerate(history)])


@pytest.fixture(scope="module")
def planted():
    return planted_tables()


def _config(**params) -> ChannelConfig:
    base = {"epochs": 8, "batch_size": 64, "embedding_dim": 16, "learning_rate": 0.01, "hidden_units": [32],
            "history_length": 10}
    return ChannelConfig(name="mind", kind="mind", k=20, quota=10, params={**base, **params})


@pytest.fixture(scope="module")
def fitted(planted):
    return build_channel(_config()).fit(planted)


@pytest.mark.slow
def test_a_two_taste_history_gets_interests_and_candidates_of_both_tastes(fitted):
    """A mixed history of 10 plays gets floor(log2 10) = 3 interests; the merged top k is
    the best k of the union of the interests' own top-k lists, each track at its best
    score, and its top 30 (of 60 tracks) holds both tastes. Which interest specialises in which taste
    varies with training (TensorFlow's CPU kernels are not bit-reproducible), so the
    per-interest split is not asserted."""
    assert fitted.training["report"]["interests"] == "dynamic"
    for a, b in ((0, 1), (1, 2), (0, 2)):
        q = _mixed(a, b)
        vectors, mask = fitted.query_vectors([q])["interests"]
        assert mask[0].tolist() == [True, True, True, False]
        ids, scores = fitted._indexes["interests"].search_exact(vectors[0][mask[0]], 30)
        best: dict[int, float] = {}
        for t, score in zip(ids.ravel().tolist(), scores.ravel().tolist()):
            best[t] = max(best.get(t, -np.inf), score)
        expected = sorted(best, key=lambda t: (-best[t], t))[:30]
        merged = fitted.recall([q], 30)[0]
        assert merged.track_ids.tolist() == expected
        np.testing.assert_allclose(merged.scores, [best[t] for t in expected], atol=1e-6)
        groups = np.bincount([GROUP_OF[t] for t in merged.track_ids[:30]], minlength=3)
        assert groups[a] >= 1 and groups[b] >= 1, (a, b, groups)


@pytest.mark.slow
def test_a_listener_without_history_gets_one_interest(fitted):
    q = query(user_id=123456, profile=Profile(genres=("rock",), genre_weights=(1.0,)))
    _, mask = fitted.query_vectors([q])["interests"]
    assert mask[0].tolist() == [True, False, False, False]
    found = fitted.recall([q], 10)[0]
    assert len(found) == 10 and np.all(np.diff(found.scores) <= 0)
    assert found.reason_of(0) == "interests"


@pytest.mark.slow
def test_single_ablation_has_one_interest(planted):
    channel = build_channel(_config(interests="single", epochs=1)).fit(planted)
    _, mask = channel.query_vectors([_mixed(0, 1)])["interests"]
    assert mask.tolist() == [[True, False, False, False]]
    assert channel.training["report"]["examples_per_k"]["1"] == channel.training["samples"]


@pytest.mark.slow
def test_save_load_gives_identical_recall(fitted, tmp_path):
    fitted.save(tmp_path / "mind")
    loaded = load_channel(tmp_path / "mind")
    assert type(loaded).kind == "mind" and loaded.training["samples"] == fitted.training["samples"] > 0
    queries = [_mixed(0, 1), _mixed(1, 2, 7001), query(user_id=77),
               query(user_id=78, plays=[(t, AS_OF - 1000 * (i + 1)) for i, t in enumerate(TASTE_GROUPS[2][:4])])]
    for a, b in zip(fitted.recall(queries, 15), loaded.recall(queries, 15)):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    va, ma = fitted.query_vectors(queries)["interests"]
    vb, mb = loaded.query_vectors(queries)["interests"]
    assert ma.tolist() == mb.tolist()
    np.testing.assert_allclose(va[ma], vb[mb], atol=1e-5)
    # serving is deterministic: the same queries twice give the same vectors
    np.testing.assert_allclose(loaded.query_vectors(queries)["interests"][0], vb, atol=0)

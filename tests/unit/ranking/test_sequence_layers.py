"""The sequence rankers' layers against hand computation: the AUGRU cell (and its
AGRU / AIGRU / GRU siblings) step by step in numpy, DIN's local activation unit as a
Dense over [k, q, k - q, k * q], Dice; and the behaviour-sequence features of the
shared spec and input pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from encore.ranking import inputs
from encore.ranking.features import ranking_feature_spec, sequence_feature
from encore.ranking.layers import Dice, InterestEvolution, LocalActivationUnit


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# fixed tiny weights: input 3, hidden 2
W = np.array([[0.1, -0.2, 0.3, 0.0, 0.5, -0.1],
              [0.2, 0.1, -0.3, 0.4, 0.0, 0.2],
              [-0.1, 0.3, 0.2, -0.2, 0.1, 0.3]], np.float32)  # W_u | W_r | W_h
U = np.array([[0.3, 0.1, -0.2, 0.2, 0.1, -0.4],
              [-0.1, 0.2, 0.1, 0.3, -0.3, 0.2]], np.float32)  # U_u | U_r | U_h
BIAS = np.array([0.05, -0.05, 0.1, 0.0, -0.1, 0.02], np.float32)
X = np.array([[[1.0, 0.5, -0.5], [0.2, -1.0, 0.3], [0.7, 0.1, 0.9]]], np.float32)  # (1, T=3, 3)
A = np.array([[0.2, 0.5, 0.3], [0.9, 0.0, 0.1]], np.float32)  # (N=2, T=3)


def _layer(kind: str) -> InterestEvolution:
    layer = InterestEvolution(2, kind)
    layer.build(X.shape)
    layer.kernel.assign(W)
    layer.recurrent.assign(U)
    layer.bias.assign(BIAS)
    return layer


def _by_hand(kind: str, mask: np.ndarray) -> np.ndarray:
    """The paper's equations, one step at a time, per candidate."""
    out = []
    for n in range(A.shape[0]):
        h = np.zeros(2, np.float32)
        for t in range(X.shape[1]):
            x, a = X[0, t], A[n, t]
            if kind == "aigru":
                x = a * x
            u = _sigmoid(x @ W[:, 0:2] + h @ U[:, 0:2] + BIAS[0:2])
            r = _sigmoid(x @ W[:, 2:4] + h @ U[:, 2:4] + BIAS[2:4])
            h_tilde = np.tanh(x @ W[:, 4:6] + r * (h @ U[:, 4:6]) + BIAS[4:6])
            if kind == "augru":
                u = a * u
            elif kind == "agru":
                u = np.full(2, a)
            if mask[t]:
                h = (1 - u) * h + u * h_tilde
        out.append(h)
    return np.stack(out)


def test_augru_one_step_hand_computed() -> None:
    """First step from h0 = 0, written out number by number: u = sigmoid(W_u x + b_u),
    r irrelevant (U h0 = 0), h~ = tanh(W_h x + b_h), h1 = a u h~."""
    layer = _layer("augru")
    x = X[:, :1]
    got = layer(layer.prepare(tf.constant(x)), tf.constant(A[:, :1]), tf.constant([[True]])).numpy()
    # x = (1.0, 0.5, -0.5)
    wu = np.array([1.0 * 0.1 + 0.5 * 0.2 + -0.5 * -0.1, 1.0 * -0.2 + 0.5 * 0.1 + -0.5 * 0.3]) + [0.05, -0.05]
    wh = np.array([1.0 * 0.5 + 0.5 * 0.0 + -0.5 * 0.1, 1.0 * -0.1 + 0.5 * 0.2 + -0.5 * 0.3]) + [-0.1, 0.02]
    u, h_tilde = 1 / (1 + np.exp(-wu)), np.tanh(wh)
    expected = np.stack([a * u * h_tilde for a in (0.2, 0.9)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["augru", "agru", "aigru", "gru"])
def test_interest_evolution_matches_the_equations(kind: str) -> None:
    layer = _layer(kind)
    mask = np.array([True, False, True])  # the middle step is padding: the state is kept
    projected = layer.prepare(tf.constant(X))
    got = layer(projected, tf.constant(A) if kind != "gru" else None, tf.constant(mask[None])).numpy()
    expected = _by_hand(kind, mask)
    if kind == "gru":
        expected = expected[:1]  # no attention: one state per listener
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    if kind == "gru":  # the extractor's every state: the last is the final one
        states = layer.sequences(projected, tf.constant(mask[None])).numpy()
        assert states.shape == (1, 3, 2)
        np.testing.assert_allclose(states[:, -1], got, rtol=1e-6)
        np.testing.assert_allclose(states[:, 1], states[:, 0], rtol=1e-6)  # the padded step kept the state


def test_augru_with_full_attention_is_a_gru_and_zero_attention_keeps_the_state() -> None:
    layer, gru = _layer("augru"), _layer("gru")
    projected = layer.prepare(tf.constant(X))
    mask = tf.constant([[True, True, True]])
    ones = layer(projected, tf.ones((1, 3)), mask).numpy()
    np.testing.assert_allclose(ones, gru(projected, None, mask).numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer(projected, tf.zeros((1, 3)), mask).numpy(), 0.0)


def test_din_local_activation_unit_is_a_dense_over_the_four_way_concat() -> None:
    rng = np.random.default_rng(0)
    d, t, n = 3, 4, 2
    keys = rng.normal(size=(1, t, d)).astype(np.float32)
    queries = rng.normal(size=(n, d)).astype(np.float32)
    mask = np.array([[False, True, True, True]])
    unit = LocalActivationUnit(hidden=(5,), activation="relu")
    weights = unit(tf.constant(keys), tf.constant(queries), tf.constant(mask)).numpy()
    wk, wq, wd, wp, b = (v.numpy() for v in (unit.w_key, unit.w_query, unit.w_diff, unit.w_prod, unit.bias))
    w_out, b_out = (v.numpy() for v in unit.out.weights)
    big = np.concatenate([wk, wq, wd, wp])  # the Dense over [k, q, k - q, k * q]
    expected = np.zeros((n, t), np.float32)
    for i in range(n):
        for j in range(t):
            k, q = keys[0, j], queries[i]
            hidden = np.maximum(np.concatenate([k, q, k - q, k * q]) @ big + b, 0)
            expected[i, j] = (hidden @ w_out + b_out)[0] if mask[0, j] else 0.0
    np.testing.assert_allclose(weights, expected, rtol=1e-5, atol=1e-5)
    assert weights.shape == (n, t) and np.all(weights[:, 0] == 0)


def test_dice_uses_batch_statistics_in_training_and_moving_ones_after() -> None:
    dice = Dice()
    x = tf.constant([[1.0, -2.0], [3.0, 0.0], [-1.0, 2.0]])
    train = dice(x, training=True).numpy()
    mean, var = x.numpy().mean(0), x.numpy().var(0)
    p = 1 / (1 + np.exp(-(x.numpy() - mean) / np.sqrt(var + 1e-8)))
    np.testing.assert_allclose(train, p * x.numpy(), rtol=1e-4, atol=1e-5)  # alpha starts at 0
    np.testing.assert_allclose(dice.moving_mean.numpy(), 0.01 * mean, rtol=1e-5)
    dice.alpha.assign([0.5, 0.25])
    mm, mv = dice.moving_mean.numpy(), dice.moving_variance.numpy()
    p = 1 / (1 + np.exp(-(x.numpy() - mm) / np.sqrt(mv + 1e-8)))
    expected = p * x.numpy() + (1 - p) * np.array([0.5, 0.25]) * x.numpy()
    np.testing.assert_allclose(dice(x).numpy(), expected, rtol=1e-5, atol=1e-6)  # inference: moving statistics


def test_sequence_features_share_the_candidate_vocabulary_and_pad_left(synth) -> None:
    cat = synth.make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    frame = synth.make_samples(cat, 50, synth.START, seed=1)
    frame["play_track_ids"] = [tuple(cat["track_id"].iloc[: i % 7]) for i in range(50)]
    spec = ranking_feature_spec(behaviours=("play",), sequence_length=5, user_id_buckets=64)
    raw = inputs.raw_features(frame, catalog, spec)
    spec = spec.fit(raw)
    ids = raw[sequence_feature("play", "track_id")]
    assert ids.shape == (50, 5) and ids.dtype == np.int64
    assert ids[0].tolist() == [-1] * 5  # empty history: all padding
    assert ids[3].tolist() == [-1, -1, 100, 101, 102]  # oldest first, right-aligned
    assert ids[6].tolist() == [101, 102, 103, 104, 105]  # the last T only
    assert raw[sequence_feature("play", "genre")][3].tolist() == ["", "", "rock", "jazz", "pop"]
    seq = spec[sequence_feature("play", "track_id")]
    assert seq.vocabulary == spec["track_id"].vocabulary and seq.base == "track_id" and seq.kind == "user"
    assert spec.behaviours == ["play"] and spec.sequence_length == 5
    assert sequence_feature("play", "track_id") in spec.listener_names
    assert sequence_feature("play", "track_id") not in spec.scalar_listener_names
    # a serving request (the Query's tuple) gives the training row's values
    row = frame.iloc[6]
    request = {c: row[c] for c in ("user_id", "anonymous", "scenario", "ts", "user_exposures_30d", "user_plays_30d",
                                   "user_completes_30d", "user_skips_30d", "user_hearts_30d", "user_plays_today")}
    request["play_track_ids"] = row["play_track_ids"]
    listener = inputs.listener_features(spec, catalog, request)
    for name in spec.listener_names:
        np.testing.assert_array_equal(listener[name], raw[name][6:7])
    again = type(spec).from_json(spec.to_json())
    assert again == spec


def test_session_ranks_follow_the_sessionization_rule() -> None:
    from encore.platform.contracts.sessions import sessionize

    minute = 60_000
    ts = np.array([[0, 0, 0, 1 * minute, 2 * minute, 40 * minute, 41 * minute, 200 * minute],
                   [0, 10 * minute, 20 * minute, 30 * minute, 40 * minute, 50 * minute, 60 * minute, 95 * minute]])
    ids = np.array([[-1, -1, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8]])
    ranks = inputs.session_ranks(ids, ts, max_session_ms=90 * minute, inactivity_gap_ms=30 * minute, max_sessions=2)
    # row 0: sessions {5, 6, 7}, {8, 9} (gap > 30 min), {10}: latest = 0, only two kept
    assert ranks[0].tolist() == [-1, -1, -1, -1, -1, 1, 1, 0]
    # row 1: no gap above 30 min, but the span cuts at 90 min: the last play opens a session
    assert ranks[1].tolist() == [1, 1, 1, 1, 1, 1, 1, 0]
    for row in range(2):
        valid = ids[row] >= 0
        reference = sessionize(ts[row][valid].tolist(), [""] * int(valid.sum()), max_session_ms=90 * minute,
                               inactivity_gap_ms=30 * minute)
        latest = max(reference)
        expected = [latest - r if latest - r < 2 else -1 for r in reference]
        assert ranks[row][valid].tolist() == expected

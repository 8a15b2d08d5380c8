"""Sampled-softmax training of the session GNN (recall/session/model.py, module
docstring 6): the loss by hand, accidental hits, the logQ correction, the sampler, the
candidate-column scores, and a planted next-item rule learnt with sampled negatives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from encore.recall.session.hetero import HeteroGraph
from encore.recall.session.model import (ModelSpec, NegativeSampler, SessionGNN, candidate_set,
                                         sampled_softmax_xent, softmax_xent)


def test_sampled_loss_is_the_full_softmax_loss_when_the_sample_is_every_item():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, math.log(2.0)]], np.float32)
    # targets: item 3 (column 2) and item 1 (column 0); the set holds items 1..3 for sure
    columns, positive, _ = candidate_set(np.array([3, 1]), np.array([1, 2, 3]), np.zeros(4), np.zeros(4), 3)
    assert columns.tolist() == [1, 2, 3] and positive.tolist() == [2, 0]
    sampled = sampled_softmax_xent(logits, positive, np.zeros(3, np.float32)).numpy()
    full = softmax_xent(logits, np.array([2, 0], np.int64)).numpy()
    # by hand: log(e + e^2 + e^3) - 3 = 0.40761; log(1 + 1 + 2) - 0 = log 4
    np.testing.assert_allclose(sampled, [0.407606, math.log(4.0)], atol=1e-5)
    np.testing.assert_allclose(sampled, full, atol=1e-6)


def test_an_accidental_hit_is_the_target_once_never_a_negative():
    # negatives drew the target (item 2) twice: it stays one column, the positive
    columns, positive, _ = candidate_set(np.array([2]), np.array([2, 2, 1]), np.zeros(3), np.zeros(3), 3)
    assert columns.tolist() == [1, 2] and positive.tolist() == [1]
    z = np.array([[0.5, 1.5]], np.float32)
    loss = sampled_softmax_xent(z, positive, np.zeros(2, np.float32)).numpy()
    np.testing.assert_allclose(loss, [math.log(math.exp(0.5) + math.exp(1.5)) - 1.5], atol=1e-6)


def test_log_q_is_the_probability_of_being_in_the_set_by_hand():
    # Q = (0, 1/2, 1/4, 1/4), targets' P = (0, 1/2, 0, 1/2); S = 2 draws, B = 2 targets
    q, p = np.array([0, 0.5, 0.25, 0.25]), np.array([0, 0.5, 0.0, 0.5])
    columns, _, log_p = candidate_set(np.array([1, 3]), np.array([2, 2]), np.log1p(-q), np.log1p(-p), 2)
    # item 1: 1 - (1/2)^2 (1/2)^2 = 15/16; item 2: 1 - (3/4)^2 = 7/16; item 3: 1 - (3/4)^2 (1/2)^2 = 55/64
    assert columns.tolist() == [1, 2, 3]
    np.testing.assert_allclose(np.exp(log_p), [15 / 16, 7 / 16, 55 / 64], rtol=1e-6)
    # the correction lifts the rarely drawn item 2 against the others
    z = np.zeros((1, 3), np.float32)
    loss = sampled_softmax_xent(z, np.array([0]), log_p).numpy()[0]
    expected = math.log(16 / 15 + 16 / 7 + 64 / 55) - math.log(16 / 15)
    assert loss == pytest.approx(expected, abs=1e-5)


def test_sampler_draws_popularity_to_the_alpha_never_padding():
    # targets: item 1 three times, item 2 once, item 3 never; alpha 1 -> Q ~ (4, 2, 1)
    sampler = NegativeSampler(np.array([1, 1, 1, 2]), 3, 1.0)
    draws = sampler.draw(70_000, np.random.default_rng(0))
    assert draws.min() >= 1 and draws.max() <= 3
    np.testing.assert_allclose(np.bincount(draws, minlength=4)[1:] / len(draws), [4 / 7, 2 / 7, 1 / 7], atol=0.01)


def tiny_model(negatives: int, **kw) -> SessionGNN:
    rng = np.random.default_rng(1)
    emotion = rng.uniform(-1, 1, (7, 2)).astype(np.float32)
    graph = HeteroGraph.build([[1, 2, 3], [4, 5, 6], [2, 3]], 6, emotion=emotion)
    spec = ModelSpec(num_items=6, hidden=8, relations=graph.sizes, negatives=negatives, **kw)
    return SessionGNN(spec, emotion, graph)


def test_candidate_columns_score_like_the_full_rows():
    model = tiny_model(3)
    batch = model.batch([[1, 2], [4, 5, 4]])
    full = model._logits(batch).numpy()  # (B, N): column j = item j + 1
    columns = np.array([2, 5, 6], np.int64)
    some = model._logits(batch, columns).numpy()
    np.testing.assert_allclose(some, full[:, columns - 1], atol=1e-5)


@pytest.mark.slow
def test_sampled_softmax_learns_a_planted_next_item_rule():
    # next item = last item + 1 (mod 30): a deterministic rule the model must learn
    # from 6 sampled negatives per step; popularity (the baseline) gets 1 in 30
    n, rng = 30, np.random.default_rng(0)
    seqs, labels = [], []
    for _ in range(1500):
        start, length = int(rng.integers(1, n + 1)), int(rng.integers(1, 5))
        s = [(start + i - 1) % n + 1 for i in range(length + 1)]
        seqs.append(s[:-1])
        labels.append(s[-1])
    spec = ModelSpec(num_items=n, hidden=16, emotion=False, hetero=False, batch_size=50, epochs=12,
                     learning_rate=0.02, lr_decay=0.5, lr_decay_epochs=6, negatives=6)
    model = SessionGNN(spec)
    summary = model.fit(seqs[:1200], np.array(labels[:1200]), after_epoch=lambda: {"checked": True})
    assert summary["losses"][-1] < summary["losses"][0]
    assert [e["epoch"] for e in summary["per_epoch"]] == list(range(1, 13)) and summary["per_epoch"][0]["checked"]
    scores = np.concatenate(list(model.scores(seqs[1200:])), axis=0)
    hit1 = float(np.mean(scores.argmax(axis=1) == np.array(labels[1200:])))
    popularity = float(np.mean(np.array(labels[1200:]) == np.bincount(labels[:1200]).argmax()))
    assert hit1 > 0.8 > popularity + 0.5


def test_channel_settings_carry_the_sampled_softmax():
    from encore.platform.config import SessionGNNParams
    from encore.recall.session.channel import spec_from_settings

    spec = spec_from_settings(SessionGNNParams(negatives=7, negative_alpha=0.5, emotion=False, hetero=False), 5, None, 2)
    assert (spec.negatives, spec.negative_alpha) == (7, 0.5)
    assert SessionGNNParams().negatives == 0  # full softmax unless asked
    with pytest.raises(ValueError, match="negatives"):
        ModelSpec(num_items=5, negatives=-1)


def test_relation_message_reads_only_the_used_rows():
    import tensorflow as tf

    from encore.recall.session.model import relation_message

    # rows: node 0 -> 1/2 item 3 + 1/2 item 1; node 1 -> item 3
    adj = tf.SparseTensor(np.array([[0, 3], [0, 1], [1, 3]], np.int64), np.array([0.5, 0.5, 1.0], np.float32),
                          np.array([2, 5], np.int64))
    table = tf.Variable(np.arange(10, dtype=np.float32).reshape(5, 2))
    with tf.GradientTape() as tape:
        msg = relation_message(adj, table)
        total = tf.reduce_sum(msg)
    # by hand: (0.5 [6, 7] + 0.5 [2, 3], [6, 7]) = ([4, 5], [6, 7])
    np.testing.assert_allclose(msg.numpy(), [[4, 5], [6, 7]])
    grad = tape.gradient(total, table)
    assert isinstance(grad, tf.IndexedSlices)  # not a dense (5, 2) gradient
    np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), [[0, 0], [0.5, 0.5], [0, 0], [1.5, 1.5], [0, 0]])

"""MIND retrieval (Li, Liu, Wu, Xu, Zhao, Huang, Kang, Chen, Li & Lee 2019, "Multi-Interest
Network with Dynamic Routing for Recommendation at Tmall", CIKM 2019), channel kind
``mind``: several interest vectors per listener, one space "interests".

Query tower, for B encoded Queries (:mod:`encore.recall.neural.encoding`):

* behaviours: ``history`` (B, T) track codes -> ``ItemTower`` -> e (B, T, D), mask (B, T);
* behaviour-to-interest (B2I) dynamic routing (``b2i_routing``): u_hat_j = e_j S with one
  shared bilinear map S (D, D); routing logits b (K_max, T) drawn once from a seeded
  N(0, 1) (``params.seed``) and stored as a non-trainable weight, so serving is
  deterministic (the paper redraws them per request); ``routing_iterations`` times:
  w_kj = softmax over the example's K interests of b_kj (interests beyond its K and
  padding steps get weight 0), z_k = sum_j w_kj u_hat_j, capsule u_k = squash(z_k),
  b_kj += u_k . u_hat_j (the logit update reads u_hat through ``stop_gradient``: the
  gradient flows through the last iteration's weighted sum, as in the common
  implementations);
* K per example (``interest_count``, the same rule in numpy and in the graph), switch
  ``interests``: ``dynamic`` K = max(1, min(K_max, floor(log2(history length)))), a
  listener with no history K = 1; ``fixed`` K = K_max; ``single`` K = 1 (the ablations);
  K_max = ``max_interests``;
* each capsule (B, K_max, D) concatenated with the ``ProfileTower`` output (B, P) ->
  ReLU layers ``hidden_units`` -> Dense(D) -> L2 normalised: the interest vectors
  (B, K_max, D) with the mask (B, K_max) = k < K. A listener with no history still gets
  one interest (a zero capsule + the profile).

Training (``training_query``): label-aware attention over the unmasked interests,
weights = softmax_k(sign(s_k) |s_k|^p / temperature) with s_k = v_k . e_target (both
unit vectors, so s_k is a cosine in [-1, 1]) and p = ``label_attention_power``; query =
sum_k w_k v_k. The sign is kept for non-integer p (and so that an interest pointing away
from the target never gains weight from an even power), and the logits are divided by
the retrieval ``temperature``: on cosines in [-1, 1] the paper's untempered softmax is
almost uniform, which would pull every interest to every target. p = 0 is the paper's
uniform attention (plain mean of the unmasked interests); a large p approaches hard
attention (the interest closest to the target). Loss: the base's in-batch softmax with
logQ correction on that query.

Serving: every unmasked interest vector asks the ANN for its top-k and the lists merge,
a track at its best score (:class:`~encore.recall.neural.channel.NeuralChannel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from encore.recall.neural.encoding import Vocabulary
from encore.recall.neural.layers import ProfileTower
from encore.recall.neural.retrieval import RetrievalModel, l2_normalize

SPACE = "interests"


def interest_count(history_lengths, params) -> np.ndarray:
    """(B,) history lengths -> (B,) int32 K per example under ``params.interests`` and
    ``params.max_interests`` (see the module docstring): ``dynamic`` max(1, min(K_max,
    floor(log2(n)))) with n = 0 -> 1, ``fixed`` K_max, ``single`` 1. Integer arithmetic
    (floor(log2(n)) >= m iff n >= 2**m), the same as the model's graph."""
    n = np.asarray(history_lengths, dtype=np.int64).reshape(-1)
    k_max = int(params.max_interests)
    if params.interests == "single":
        return np.ones(len(n), np.int32)
    if params.interests == "fixed":
        return np.full(len(n), k_max, np.int32)
    k = np.ones(len(n), np.int32)
    for m in range(2, k_max + 1):
        k += (n >= 2 ** m).astype(np.int32)
    return k


def interest_count_tf(history_lengths: tf.Tensor, interests: str, k_max: int) -> tf.Tensor:
    """``interest_count`` in the graph: (B,) int -> (B,) int32."""
    n = tf.cast(history_lengths, tf.int32)
    ones = tf.ones_like(n)
    if interests == "single":
        return ones
    if interests == "fixed":
        return ones * k_max
    k = ones
    for m in range(2, k_max + 1):
        k += tf.cast(n >= 2 ** m, tf.int32)
    return k


def squash(z: tf.Tensor) -> tf.Tensor:
    """Capsule squash along the last axis: |z|^2 / (1 + |z|^2) * z / |z| (0 -> 0)."""
    sq = tf.reduce_sum(tf.square(z), axis=-1, keepdims=True)
    return z * (sq / (1.0 + sq)) / tf.sqrt(sq + 1e-9)


def b2i_routing(u_hat: tf.Tensor, step_mask: tf.Tensor, interest_mask: tf.Tensor, logits: tf.Tensor,
                iterations: int) -> tf.Tensor:
    """B2I dynamic routing. ``u_hat`` (B, T, D) mapped behaviours, ``step_mask`` (B, T)
    bool, ``interest_mask`` (B, K) bool, ``logits`` (K, T) initial routing logits ->
    capsules (B, K, D) (masked interests: zeros)."""
    batch = tf.shape(u_hat)[0]
    b = tf.tile(logits[None], [batch, 1, 1])  # (B, K, T)
    steps = tf.cast(step_mask, u_hat.dtype)[:, None, :]
    fixed = tf.stop_gradient(u_hat)
    capsules = tf.zeros_like(u_hat[:, :1, :])
    for i in range(iterations):
        masked = tf.where(interest_mask[:, :, None], b, tf.fill(tf.shape(b), tf.constant(-1e9, b.dtype)))
        w = tf.nn.softmax(masked, axis=1) * steps * tf.cast(interest_mask, b.dtype)[:, :, None]
        capsules = squash(tf.einsum("bkt,btd->bkd", w, u_hat))
        if i < iterations - 1:
            b = b + tf.einsum("bkd,btd->bkt", capsules, fixed)
    return capsules


def label_aware_weights(vectors: tf.Tensor, mask: tf.Tensor, targets: tf.Tensor, power: float,
                        temperature: float) -> tf.Tensor:
    """(B, K, D) interests, (B, K) mask, (B, D) target vectors -> (B, K) attention weights
    (see the module docstring; masked interests weigh 0)."""
    s = tf.einsum("bkd,bd->bk", vectors, targets)
    if power == 0:
        logits = tf.zeros_like(s)
    else:
        logits = tf.sign(s) * tf.pow(tf.abs(s), power) / temperature
    logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))
    return tf.nn.softmax(logits, axis=1) * tf.cast(mask, logits.dtype)


class MIND(RetrievalModel):
    """See the module docstring; ``params``: ``MINDParams``."""

    spaces = (SPACE,)

    def __init__(self, vocab: Vocabulary, params) -> None:
        super().__init__(vocab, params)
        dim = params.embedding_dim
        self.k_max = int(params.max_interests)
        self.profile = ProfileTower(self.items, vocab.sizes(), name="profile_tower")
        self.bilinear = self.add_weight(name="bilinear", shape=(dim, dim), initializer="glorot_uniform")
        initial = np.random.default_rng(params.seed).normal(0.0, 1.0, (self.k_max, params.history_length))
        self.routing_logits = self.add_weight(
            name="routing_logits", shape=initial.shape, trainable=False,
            initializer=tf.keras.initializers.Constant(initial.astype(np.float32)))
        self.mlp = tf.keras.Sequential(
            [tf.keras.layers.Dense(u, activation="relu") for u in params.hidden_units] + [tf.keras.layers.Dense(dim)],
            name="interest_mlp")

    def interests(self, features, training: bool = False) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """capsules (B, K_max, D), interest vectors (B, K_max, D), mask (B, K_max)."""
        history = features["history"]
        step_mask = history > 0
        k = interest_count_tf(tf.reduce_sum(tf.cast(step_mask, tf.int32), axis=1), self.params.interests, self.k_max)
        mask = tf.range(self.k_max)[None, :] < k[:, None]
        u_hat = tf.einsum("btd,de->bte", self.items(history), self.bilinear)
        capsules = b2i_routing(u_hat, step_mask, mask, self.routing_logits, self.params.routing_iterations)
        profile = self.profile(features)
        profile = tf.tile(profile[:, None, :], [1, self.k_max, 1])
        vectors = l2_normalize(self.mlp(tf.concat([capsules, profile], axis=-1), training=training))
        return capsules, vectors, mask

    def query_outputs(self, features, training: bool = False):
        _, vectors, mask = self.interests(features, training)
        return {SPACE: (vectors, mask)}

    def training_query(self, space: str, vectors: tf.Tensor, mask: tf.Tensor, target_vectors: tf.Tensor
                       ) -> tf.Tensor:
        w = label_aware_weights(vectors, mask, target_vectors, self.params.label_attention_power,
                                self.params.temperature)
        return tf.einsum("bk,bkd->bd", w, vectors)

    def report(self, features: dict[str, np.ndarray]) -> dict[str, Any]:
        """How many interests the training examples had."""
        k = interest_count((features["history"] > 0).sum(axis=1), self.params)
        counts = np.bincount(k, minlength=self.k_max + 1)[1:]
        return {"interests": self.params.interests, "mean_interests": round(float(k.mean()), 3) if len(k) else 0.0,
                "examples_per_k": {str(i + 1): int(c) for i, c in enumerate(counts)}}

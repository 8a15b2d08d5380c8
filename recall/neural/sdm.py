"""SDM retrieval (Lv et al. 2019, "SDM: Sequential Deep Matching Model for Online
Large-scale Recommender System", CIKM 2019) as NetEase Cloud Music runs it, channel kind
``sdm``.

Query tower, for B encoded Queries (:mod:`encore.recall.neural.encoding`), D =
``embedding_dim``:

* profile vector u (B, D): ``ProfileTower`` (genres, languages, artists, age, region,
  hour, scenario, 30-day activity) -> Dense(D); the paper's user embedding e_u, the
  query of every attention pooling below.
* short-term encoder over the current session: ``session`` (B, S) track codes. A request
  that opens a new session has an empty session; then the last S plays of ``history``
  (B, T) stand in for it (:func:`short_term_codes`; the same rule in training, where
  the first play of every session is such a request, and at serving). Codes ->
  ``ItemTower`` (B, S, D) -> LSTM (B, S, D) -> masked multi-head self-attention
  (``attention_heads``) with a residual and layer norm -> attention pooling with u as
  the query (B, D) -> Dense(D) over [pooled, u] -> s (B, D). The last projection also
  reads u, so a listener with no plays at all still gets a short-term vector.
* long-term encoder over the listener's history of track attributes: for each of
  artist, genre, language and album, the history's attribute codes (B, T) (the catalog
  attributes of the T last plays, ``ItemTower.attribute_codes``) -> the item tower's
  attribute embeddings (B, T, D) -> attention pooling against u (its own key projection
  per attribute) -> (B, D); the four and u concatenated -> Dense(D) -> p (B, D).

``fusion`` (``SDMParams``):

* ``"two_space"`` (default; NetEase's adaptation): two spaces, each with its own
  in-batch softmax loss (logQ corrected) and its own ANN index. "short_term": s against
  the track-id item vectors (the track's own embedding + its attributes, ``ItemTower``);
  "long_term": p against attribute-only item vectors (``ItemTower(...,
  attributes_only=True)``: tracks of one artist, album, genre and language share a
  vector, so the long-term space recalls by taste, not by the tracks played). At
  serving both are queried; ``long_term_share`` of the k candidates come from the
  long-term space first, the short-term space fills the rest
  (``SDMChannel.space_quotas``).
* ``"gated"`` (the paper's fusion, the ablation): one space "fused"; with ŝ, p̂ the
  L2-normalised s and p, gate g = sigmoid(Dense(D) over [u, s, p]) elementwise and
  o = g * ŝ + (1 - g) * p̂, trained by one loss against the full item vectors. The
  gate acts on normalised parts so that its values are the parts' shares;
  :meth:`SDM.gate_report` gives the mean and percentiles of g (short-term) and 1 - g
  (long-term) on the training features, saved in ``training.json`` (NetEase found the
  long-term part's weight starved towards zero).

All query vectors are L2-normalised, K = 1 per space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from encore.recall.neural.encoding import Vocabulary
from encore.recall.neural.layers import ProfileTower
from encore.recall.neural.retrieval import RetrievalModel, l2_normalize

SPACES = {"two_space": ("short_term", "long_term"), "gated": ("fused",)}
LONG_TERM_ATTRIBUTES = ("artist", "genre", "language", "album")
GATE_PERCENTILES = (5, 25, 50, 75, 95)


def short_term_codes(session: tf.Tensor, history: tf.Tensor) -> tf.Tensor:
    """(B, S) session codes, (B, T) history codes (both left-aligned, 0-padded) -> (B, S)
    the short-term sequence: the session where it has a play, else the last S plays of
    the history (left-aligned, oldest first, 0-padded)."""
    session = tf.cast(session, tf.int32)
    history = tf.cast(history, tf.int32)
    width = tf.shape(session)[1]
    played = tf.reduce_sum(tf.cast(history > 0, tf.int32), axis=1, keepdims=True)  # (B, 1)
    index = tf.maximum(played - width, 0) + tf.range(width)[None, :]  # (B, S)
    valid = index < played
    tail = tf.gather(history, tf.minimum(index, tf.shape(history)[1] - 1), batch_dims=1)
    tail = tf.where(valid, tail, tf.zeros_like(tail))
    has_session = tf.reduce_any(session > 0, axis=1, keepdims=True)
    return tf.where(has_session, session, tail)


def _masked_softmax_pool(logits: tf.Tensor, values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """(B, T) logits, (B, T, D) values, (B, T) mask -> (B, D) (zeros if nothing unmasked)."""
    logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, logits.dtype)))
    weights = tf.nn.softmax(logits, axis=1) * tf.cast(mask, values.dtype)
    return tf.einsum("bt,btd->bd", weights, values)


class UserAttentionPooling(tf.keras.layers.Layer):
    """(B, T, D) sequence + (B, T) mask, (B, D) user vector u -> (B, D): softmax over the
    steps of (W x_t) . u / sqrt(D), the weighted sum of x_t."""

    def __init__(self, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keys = tf.keras.layers.Dense(dim, use_bias=False, name="keys")
        self.scale = float(np.sqrt(dim))

    def call(self, x: tf.Tensor, mask: tf.Tensor, user: tf.Tensor) -> tf.Tensor:
        logits = tf.einsum("btd,bd->bt", self.keys(x), user) / self.scale
        return _masked_softmax_pool(logits, x, mask)


class SDM(RetrievalModel):
    """See the module docstring; ``params``: ``SDMParams``."""

    def __init__(self, vocab: Vocabulary, params) -> None:
        super().__init__(vocab, params)
        dim = params.embedding_dim
        self.fusion: str = params.fusion
        self.profile = ProfileTower(self.items, vocab.sizes(), name="profile_tower")
        self.user = tf.keras.layers.Dense(dim, name="user")
        # short-term
        self.lstm = tf.keras.layers.LSTM(dim, return_sequences=True, name="lstm")
        self.attention = tf.keras.layers.MultiHeadAttention(
            params.attention_heads, key_dim=max(dim // params.attention_heads, 1), name="self_attention")
        self.norm = tf.keras.layers.LayerNormalization(name="norm")
        self.short_pool = UserAttentionPooling(dim, name="short_pool")
        self.short_out = tf.keras.layers.Dense(dim, name="short_out")
        # long-term
        self.long_pools = {a: UserAttentionPooling(dim, name=f"long_pool_{a}") for a in LONG_TERM_ATTRIBUTES}
        self.long_out = tf.keras.layers.Dense(dim, name="long_out")
        # gated fusion
        self.gate = tf.keras.layers.Dense(dim, activation="sigmoid", name="gate") if self.fusion == "gated" else None

    @property
    def spaces(self) -> tuple[str, ...]:  # type: ignore[override]
        return SPACES[self.fusion]

    # -- query tower -------------------------------------------------------------------
    def user_vector(self, features) -> tf.Tensor:
        return self.user(self.profile(features))

    def short_term(self, features, user: tf.Tensor, training: bool = False) -> tf.Tensor:
        """s (B, D), unnormalised."""
        codes = short_term_codes(features["session"], features["history"])
        mask = codes > 0
        h = self.lstm(self.items(codes), mask=mask, training=training)
        h = h * tf.cast(mask, h.dtype)[..., None]
        pair = tf.logical_and(mask[:, :, None], mask[:, None, :])
        h = self.norm(h + self.attention(h, h, attention_mask=pair, training=training))
        pooled = self.short_pool(h, mask, user)
        return self.short_out(tf.concat([pooled, user], axis=-1))

    def long_term(self, features, user: tf.Tensor) -> tf.Tensor:
        """p (B, D), unnormalised."""
        history = tf.cast(features["history"], tf.int32)
        parts = []
        for name in LONG_TERM_ATTRIBUTES:
            codes = self.items.attribute_codes(name, history)
            mask = tf.logical_and(codes > 0, history > 0)
            parts.append(self.long_pools[name](self.items.attribute_embeddings[name](codes), mask, user))
        return self.long_out(tf.concat([*parts, user], axis=-1))

    def parts(self, features, training: bool = False) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(u, s, p), each (B, D), unnormalised."""
        user = self.user_vector(features)
        return user, self.short_term(features, user, training), self.long_term(features, user)

    def gate_values(self, user: tf.Tensor, short: tf.Tensor, long: tf.Tensor) -> tf.Tensor:
        """g (B, D) of the gated fusion: the short-term part's weight per dimension."""
        assert self.gate is not None, "gate_values: fusion is not 'gated'"
        return self.gate(tf.concat([user, short, long], axis=-1))

    def query_outputs(self, features, training: bool = False):
        user, short, long = self.parts(features, training)
        ones = tf.ones((tf.shape(user)[0], 1), tf.bool)
        if self.fusion == "gated":
            g = self.gate_values(user, short, long)
            fused = g * l2_normalize(short) + (1.0 - g) * l2_normalize(long)
            return {"fused": (l2_normalize(fused)[:, None, :], ones)}
        return {"short_term": (l2_normalize(short)[:, None, :], ones),
                "long_term": (l2_normalize(long)[:, None, :], ones)}

    # -- item tower and loss -----------------------------------------------------------
    def item_vectors(self, space: str, codes: tf.Tensor) -> tf.Tensor:
        if space == "long_term":
            return l2_normalize(self.items(codes, attributes_only=True))
        return l2_normalize(self.items(codes))

    def space_weights(self) -> dict[str, float]:
        """Every space its own loss, weight 1 (two_space: short and long; gated: fused)."""
        return {space: 1.0 for space in self.spaces}

    # -- report ------------------------------------------------------------------------
    def gate_report(self, features: dict[str, np.ndarray], max_rows: int = 20_000, batch: int = 2048
                    ) -> dict[str, Any]:
        """Gated fusion: mean and percentiles of g (short-term weight) and 1 - g
        (long-term weight) over every dimension of up to ``max_rows`` training examples,
        and the percentiles of the per-example mean of g. Two-space: {}."""
        if self.gate is None:
            return {}
        n = len(next(iter(features.values())))
        rows = np.arange(n) if n <= max_rows else np.sort(np.random.default_rng(0).choice(n, max_rows, replace=False))
        gates = []
        for lo in range(0, len(rows), batch):
            chunk = {name: tf.constant(values[rows[lo:lo + batch]]) for name, values in features.items()}
            user, short, long = self.parts(chunk)
            gates.append(self.gate_values(user, short, long).numpy())
        g = np.concatenate(gates).astype(np.float64) if gates else np.zeros((0, self.params.embedding_dim))

        def stats(x: np.ndarray) -> dict[str, float]:
            if not x.size:
                return {}
            out = {"mean": round(float(x.mean()), 4)}
            out.update({f"p{q}": round(float(v), 4) for q, v in zip(GATE_PERCENTILES, np.percentile(x, GATE_PERCENTILES))})
            return out

        return {"rows": int(len(g)), "short_term_gate": stats(g.ravel()), "long_term_gate": stats(1.0 - g.ravel()),
                "short_term_gate_per_example": stats(g.mean(axis=1)) if len(g) else {}}

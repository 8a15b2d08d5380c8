"""Keras layers shared by the neural recall models.

* ``ItemTower``: track code (..., ) -> item vector (..., D): the sum of the track's own
  embedding and its artist, album, genre and language embeddings (catalog attributes
  are constants of the layer, looked up by code), so a track with few plays still sits
  near its artist and genre. ``attributes_only=True`` leaves the track's own embedding
  out (SDM's long-term space of attributes).
* ``ProfileTower``: the profile and context features of a Query -> (B, P): weighted
  bags of genre, language and artist embeddings (the item tower's tables, so profile
  taste and tracks share one space), age bucket, region, hour and scenario embeddings,
  and the 30-day activity numbers.
* ``masked_mean``, ``SelfAttentionPooling``: a sequence (B, T, D) with its mask (B, T)
  -> (B, D); an empty sequence gives zeros.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CONTEXT_DIM = 8


class ItemTower(tf.keras.layers.Layer):
    """Track codes -> (..., D) (see the module docstring). ``attributes``: name ->
    (n + 1,) int32 code arrays for "artist", "album", "genre", "language"; ``sizes``:
    embedding table sizes (``Vocabulary.sizes``)."""

    ATTRIBUTES = ("artist", "album", "genre", "language")

    def __init__(self, sizes: dict[str, int], attributes: dict[str, np.ndarray], dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.track_embedding = tf.keras.layers.Embedding(sizes["track"], dim, name="track_embedding")
        self.attribute_embeddings = {
            a: tf.keras.layers.Embedding(sizes[a], dim, name=f"{a}_embedding") for a in self.ATTRIBUTES}
        self._attributes = {a: tf.constant(np.asarray(attributes[a], np.int32)) for a in self.ATTRIBUTES}

    def attribute_codes(self, name: str, codes: tf.Tensor) -> tf.Tensor:
        return tf.gather(self._attributes[name], codes)

    def call(self, codes: tf.Tensor, attributes_only: bool = False) -> tf.Tensor:
        codes = tf.cast(codes, tf.int32)
        parts = [emb(self.attribute_codes(name, codes)) for name, emb in self.attribute_embeddings.items()]
        if not attributes_only:
            parts.append(self.track_embedding(codes))
        total = tf.add_n(parts)
        # padding (code 0) stays the zero vector whatever the tables learn
        return total * tf.cast(codes > 0, total.dtype)[..., None]


class ProfileTower(tf.keras.layers.Layer):
    """Query profile and context features -> (B, 3 * D + 4 * CONTEXT_DIM + 3)."""

    def __init__(self, items: ItemTower, sizes: dict[str, int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.context = {name: tf.keras.layers.Embedding(sizes[name], CONTEXT_DIM, name=f"{name}_context")
                        for name in ("age", "region", "hour", "scenario")}

    def _bag(self, table: tf.keras.layers.Layer, codes: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        weights = weights * tf.cast(codes > 0, weights.dtype)
        total = tf.reduce_sum(weights, axis=1, keepdims=True)
        return tf.reduce_sum(table(codes) * weights[..., None], axis=1) / tf.maximum(total, 1e-6)

    def call(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        emb = self.items.attribute_embeddings
        parts = [
            self._bag(emb["genre"], features["genres"], features["genre_weights"]),
            self._bag(emb["language"], features["languages"], features["language_weights"]),
            self._bag(emb["artist"], features["artists"], features["artist_weights"]),
        ]
        parts += [self.context[name](features[name]) for name in ("age", "region", "hour", "scenario")]
        parts.append(features["activity"])
        return tf.concat(parts, axis=-1)


def masked_mean(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """(B, T, D), (B, T) bool -> (B, D) mean of the unmasked steps (zeros if none)."""
    m = tf.cast(mask, x.dtype)[..., None]
    return tf.reduce_sum(x * m, axis=1) / tf.maximum(tf.reduce_sum(m, axis=1), 1.0)


class SelfAttentionPooling(tf.keras.layers.Layer):
    """(B, T, D) + mask (B, T) -> (B, D): learned position embeddings (position 0 = the
    oldest kept step), multi-head self-attention over the unmasked steps with a
    residual and layer norm, then attention pooling against a learned query. Replaces
    YouTube-DNN's average of the watch vectors (``masked_mean`` is the ablation)."""

    def __init__(self, length: int, dim: int, heads: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.positions = tf.keras.layers.Embedding(length, dim, name="positions")
        self.attention = tf.keras.layers.MultiHeadAttention(heads, key_dim=max(dim // heads, 1), name="self_attention")
        self.norm = tf.keras.layers.LayerNormalization(name="norm")
        self.pool_query = self.add_weight(name="pool_query", shape=(dim,), initializer="glorot_uniform")

    def sequence(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The attended sequence (B, T, D), before pooling."""
        length = tf.shape(x)[1]
        x = x + self.positions(tf.range(length))[None]
        pair = tf.logical_and(mask[:, :, None], mask[:, None, :])
        attended = self.attention(x, x, attention_mask=pair, training=training)
        return self.norm(x + attended) * tf.cast(mask, x.dtype)[..., None]

    def call(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        h = self.sequence(x, mask, training)
        logits = tf.einsum("btd,d->bt", h, self.pool_query) / tf.sqrt(tf.cast(tf.shape(h)[-1], h.dtype))
        logits = tf.where(mask, logits, tf.fill(tf.shape(logits), tf.constant(-1e9, h.dtype)))
        weights = tf.nn.softmax(logits, axis=1) * tf.cast(mask, h.dtype)
        return tf.einsum("bt,btd->bd", weights, h)

"""Keras layers shared by the rankers.

``FeatureEncoder(spec, names, embedding_dim)`` turns raw feature tensors (the
``FeatureSpec``'s dtypes, each shape (B,)) into one dense row per example, shape
(B, D) with D = embedding_dim per categorical feature + 1 per numeric feature: a lookup
and an embedding table per categorical feature, standardisation with the fitted
statistics (baked into the graph as constants) per numeric one. Everything the spec
fitted is part of the layer, so a SavedModel takes raw values.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import tensorflow as tf

from encore.ranking.features import Feature, FeatureSpec


class FeatureEncoder(tf.keras.layers.Layer):
    """Raw features ``{name: (B,)}`` -> (B, D) (see the module docstring)."""

    def __init__(self, spec: FeatureSpec, names: Sequence[str], embedding_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if not spec.fitted:
            raise ValueError("FeatureEncoder needs a fitted FeatureSpec (spec.fit(train_features))")
        self._features: list[Feature] = [spec[n] for n in names]
        self._lookups: dict[str, tf.keras.layers.Layer] = {}
        self._embeddings: dict[str, tf.keras.layers.Layer] = {}
        for f in self._features:
            if not f.categorical:
                continue
            if f.transform == "vocab" and f.vocabulary:
                cls = tf.keras.layers.StringLookup if f.dtype == "string" else tf.keras.layers.IntegerLookup
                self._lookups[f.name] = cls(vocabulary=list(f.vocabulary), num_oov_indices=1,
                                            mask_token=None, name=f"{f.name}_lookup")
            self._embeddings[f.name] = tf.keras.layers.Embedding(
                f.cardinality, embedding_dim, name=f"{f.name}_embedding")

    @property
    def output_dim(self) -> int:
        return sum(self._embeddings[f.name].output_dim if f.categorical else 1 for f in self._features)

    def _index(self, f: Feature, x: tf.Tensor) -> tf.Tensor:
        if f.transform == "vocab":
            if f.name not in self._lookups:  # empty vocabulary: everything is OOV
                return tf.zeros(tf.shape(x), tf.int64)
            return tf.cast(self._lookups[f.name](x), tf.int64)
        x = tf.cast(x, tf.int64)
        if f.transform == "hash":
            return tf.where(x >= 0, tf.math.floormod(x, f.buckets - 1) + 1, tf.zeros_like(x))
        return tf.clip_by_value(x, 0, f.buckets - 1)  # index

    def _numeric(self, f: Feature, x: tf.Tensor) -> tf.Tensor:
        x = tf.cast(x, tf.float32)
        if f.transform == "log_norm":
            x = tf.math.log1p(tf.maximum(x, 0.0))
        x = (x - f.mean) / f.std
        return tf.where(tf.math.is_finite(x), x, tf.zeros_like(x))[:, None]

    def call(self, inputs: Mapping[str, tf.Tensor]) -> tf.Tensor:
        parts = []
        for f in self._features:
            x = inputs[f.name]
            if f.categorical:
                parts.append(self._embeddings[f.name](self._index(f, x)))
            else:
                parts.append(self._numeric(f, x))
        return tf.concat(parts, axis=-1)

"""Keras layers shared by the rankers.

- ``FeatureEncoder``: raw features -> dense rows (below).
- ``Dice`` (Zhou et al. 2018, DIN section 4.3) and ``activation_layer`` (``relu`` |
  ``prelu`` | ``dice``): the MLP activations of the sequence rankers.
- ``LocalActivationUnit`` (DIN's attention): behaviour keys (B, T, D) against candidate
  queries (N, D) -> unnormalised weights (N, T), its first layer split so the key part
  is computed once per listener.
- ``InterestEvolution`` (DIEN's interest-evolving layer): the GRU family AUGRU / AGRU /
  AIGRU run for N candidates at once over (N, T, H) tensors, input projections
  precomputed once per listener (``project_inputs``).

``FeatureEncoder(spec, names, embedding_dim)`` turns raw feature tensors (the
``FeatureSpec``'s dtypes, each shape (B,)) into one dense row per example, shape
(B, D) with D = embedding_dim per categorical feature + 1 per numeric feature: a lookup
and an embedding table per categorical feature (in feature order), then the numeric
features standardised with the fitted statistics (baked into the graph as constants). Everything the spec
fitted is part of the layer, so a SavedModel takes raw values.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import tensorflow as tf

from encore.ranking.features import Feature, FeatureSpec


class FeatureEncoder(tf.keras.layers.Layer):
    """Raw features ``{name: (B,)}`` -> (B, D) (see the module docstring); any leading
    shape works the same way: ``{name: (B, T)}`` -> (B, T, D) (behaviour sequences
    embedded with the candidate's tables)."""

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
        return tf.where(tf.math.is_finite(x), x, tf.zeros_like(x))[..., None]

    def call(self, inputs: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Embeddings in feature order, then the numeric features together: standardised
        as one (..., k) block (a handful of ops however many there are)."""
        parts = [self._embeddings[f.name](self._index(f, inputs[f.name])) for f in self._features if f.categorical]
        numeric = [f for f in self._features if not f.categorical]
        if len(numeric) == 1:
            parts.append(self._numeric(numeric[0], inputs[numeric[0].name]))
        elif numeric:
            x = tf.stack([tf.cast(inputs[f.name], tf.float32) for f in numeric], axis=-1)
            logged = [f.transform == "log_norm" for f in numeric]
            if any(logged):
                x = tf.where(tf.constant(logged), tf.math.log1p(tf.maximum(x, 0.0)), x)
            x = (x - tf.constant([float(f.mean or 0.0) for f in numeric], tf.float32)) \
                * tf.constant([1.0 / float(f.std or 1.0) for f in numeric], tf.float32)
            parts.append(tf.where(tf.math.is_finite(x), x, tf.zeros_like(x)))
        return tf.concat(parts, axis=-1)

    def index(self, name: str, x: tf.Tensor) -> tf.Tensor:
        """Embedding-row indices of the raw values ``x`` of categorical feature ``name``."""
        return self._index(next(f for f in self._features if f.name == name), x)

    def table(self, name: str) -> tf.Variable:
        """The embedding table of categorical feature ``name``."""
        return self._embeddings[name].embeddings


# ----------------------------------------------------------------------------- activations
class Dice(tf.keras.layers.Layer):
    """Data-adaptive activation of DIN (Zhou et al. 2018, eq. 9):
    ``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))``, ``f(s) = p s + (1 - p) alpha s``,
    with E / Var the mini-batch statistics (over every axis but the last) in training and
    their moving averages (``momentum``) at inference; ``alpha`` per unit. Written as
    ``s (alpha + (1 - alpha) sigmoid(s k + c))`` with ``k = 1 / sqrt(Var + eps)`` and
    ``c = -E k`` folded per unit, so a large (N, T, A) input costs five element-wise ops.
    Works on any (..., units) input."""

    def __init__(self, epsilon: float = 1e-8, momentum: float = 0.99, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epsilon, self.momentum = epsilon, momentum

    def build(self, input_shape) -> None:
        units = int(input_shape[-1])
        self.alpha = self.add_weight(name="alpha", shape=(units,), initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=(units,), initializer="zeros", trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(units,), initializer="ones",
                                               trainable=False)
        super().build(input_shape)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        if training:
            axes = list(range(len(x.shape) - 1))
            mean, variance = tf.nn.moments(x, axes)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
            self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        k = tf.math.rsqrt(variance + self.epsilon)
        return x * (self.alpha + (1.0 - self.alpha) * tf.sigmoid(x * k - mean * k))


def activation_layer(kind: str, name: str) -> tf.keras.layers.Layer:
    """``relu`` | ``prelu`` | ``dice`` as a layer taking ``training``."""
    if kind == "dice":
        return Dice(name=name)
    if kind == "prelu":
        return tf.keras.layers.PReLU(name=name)
    if kind == "relu":
        return tf.keras.layers.ReLU(name=name)
    raise ValueError(f"unknown activation {kind!r}; known: relu, prelu, dice")


def apply_activation(layer: tf.keras.layers.Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
    return layer(x, training=training) if isinstance(layer, Dice) else layer(x)


# ----------------------------------------------------------------------------- DIN
class LocalActivationUnit(tf.keras.layers.Layer):
    """DIN's local activation unit (Zhou et al. 2018, Fig. 2): for behaviour ``k_t`` and
    target ``q``, ``w_t = MLP([k_t, q, k_t - q, k_t * q]) -> Dense(1)``, unnormalised
    (no softmax: the weights keep the intensity of the interest) and 0 where masked.

    Shapes: keys (B, T, D) with B = 1 (one listener at serving) or B = N (one row per
    candidate in training), queries (N, D), mask (B, T) -> weights (N, T).

    The first Dense over the concatenation is split exactly:
    ``W [k, q, k - q, k * q] + b = (Wk + Wd) k + (Wq - Wd) q + Wp (k * q) + b``, so
    ``key_part(keys)`` (B, T, A1) runs once per listener (``listener_part``) and only the
    query and product parts run per candidate. ``hidden`` = (A1, A2, ...) units,
    ``activation`` relu | prelu | dice.
    """

    def __init__(self, hidden: Sequence[int] = (64, 16), activation: str = "dice", **kwargs) -> None:
        super().__init__(**kwargs)
        if not hidden:
            raise ValueError("the local activation unit needs at least one hidden layer")
        self.hidden = tuple(int(h) for h in hidden)
        self.acts = [activation_layer(activation, f"act_{i}") for i in range(len(self.hidden))]
        self.deeper = [tf.keras.layers.Dense(h, name=f"dense_{i}") for i, h in enumerate(self.hidden[1:], 1)]
        self.out = tf.keras.layers.Dense(1, name="weight")

    def build(self, input_shape) -> None:
        d, a = int(input_shape[-1]), self.hidden[0]
        self.w_key = self.add_weight(name="w_key", shape=(d, a), initializer="glorot_uniform")
        self.w_query = self.add_weight(name="w_query", shape=(d, a), initializer="glorot_uniform")
        self.w_diff = self.add_weight(name="w_diff", shape=(d, a), initializer="glorot_uniform")
        self.w_prod = self.add_weight(name="w_prod", shape=(d, a), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(a,), initializer="zeros")
        super().build(input_shape)

    def key_part(self, keys: tf.Tensor) -> tf.Tensor:
        """(B, T, D) -> (B, T, A1): the candidate-independent share of the first layer."""
        if not self.built:
            self.build(keys.shape)
        return tf.matmul(keys, self.w_key + self.w_diff) + self.bias

    def call(self, keys: tf.Tensor, queries: tf.Tensor, mask: tf.Tensor, key_part: tf.Tensor | None = None,
             training: bool = False) -> tf.Tensor:
        if not self.built:
            self.build(keys.shape)
        kp = self.key_part(keys) if key_part is None else key_part  # (B, T, A1)
        qp = tf.matmul(queries, self.w_query - self.w_diff)  # (N, A1)
        prod = tf.matmul(keys * queries[:, None, :], self.w_prod)  # (N, T, A1)
        h = apply_activation(self.acts[0], kp + qp[:, None, :] + prod, training)
        for dense, act in zip(self.deeper, self.acts[1:]):
            h = apply_activation(act, dense(h), training)
        w = tf.squeeze(self.out(h), -1)  # (N, T)
        return w * tf.cast(mask, w.dtype)


# ----------------------------------------------------------------------------- DIEN
EVOLUTIONS: tuple[str, ...] = ("augru", "agru", "aigru", "gru")


class InterestEvolution(tf.keras.layers.Layer):
    """DIEN's interest-evolving layer (Zhou et al. 2019, section 4.3): a GRU over the
    extractor's interest states ``i_t`` (T, H_in) steered by the attention ``a_t`` of
    each target, written as one cell for the four variants (``kind``):

    - ``u_t = sigmoid(W_u i_t + U_u h_{t-1} + b_u)``, ``r_t = sigmoid(W_r i_t + U_r h_{t-1} + b_r)``,
      ``h~_t = tanh(W_h i_t + r_t * (U_h h_{t-1}) + b_h)``;
    - ``augru``: ``u'_t = a_t u_t``, ``h_t = (1 - u'_t) h_{t-1} + u'_t h~_t`` (eq. 13-14);
    - ``agru``: ``h_t = (1 - a_t) h_{t-1} + a_t h~_t`` (eq. 12);
    - ``aigru``: the input scaled, ``i'_t = a_t i_t``, then a plain GRU step (eq. 11);
    - ``gru``: a plain GRU step, no attention (then the layer does not depend on the
      target and a ranker computes it once per listener). DIEN's interest extractor is
      this layer with ``kind="gru"`` and ``sequences()`` (every state).

    Masked steps (padding) keep the state. Shapes: ``prepared = prepare(i)`` (B, T, 2H)
    and (B, T, H) with B = 1 (serving: once per listener) or N; attention (N, T)
    (ignored by ``gru``); mask (B, T) -> final state (N, H). The input projection (and
    the bias, except for ``aigru``) does not depend on the target (for ``aigru``
    ``a_t (W i_t) = W (a_t i_t)`` is applied inside the step), so per candidate only the
    recurrence runs: T steps over (N, H) tensors, unrolled (T is static), about a dozen
    small ops each.
    """

    def __init__(self, units: int, kind: str = "augru", **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in EVOLUTIONS:
            raise ValueError(f"unknown interest evolution {kind!r}; known: {EVOLUTIONS}")
        self.units, self.kind = int(units), kind

    def build(self, input_shape) -> None:
        h = self.units
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), 3 * h),
                                      initializer="glorot_uniform")  # W_u | W_r | W_h
        self.recurrent = self.add_weight(name="recurrent_kernel", shape=(h, 3 * h),
                                         initializer="orthogonal")  # U_u | U_r | U_h
        self.bias = self.add_weight(name="bias", shape=(3 * h,), initializer="zeros")
        super().build(input_shape)

    def prepare(self, inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(B, T, H_in) -> ``W_{u,r} i_t`` (B, T, 2H) and ``W_h i_t`` (B, T, H), the bias
        included unless ``aigru`` (added in its step, after the attention scaling)."""
        if not self.built:
            self.build(inputs.shape)
        x = tf.matmul(inputs, self.kernel)
        if self.kind != "aigru":
            x = x + self.bias
        return x[..., :2 * self.units], x[..., 2 * self.units:]

    def _steps(self, prepared: tuple[tf.Tensor, tf.Tensor], attention: tf.Tensor | None,
               mask: tf.Tensor, keep: bool) -> tuple[tf.Tensor, list[tf.Tensor]]:
        h_units = self.units
        x_ur, x_h = prepared
        steps = int(x_ur.shape[1])
        n = tf.shape(attention)[0] if attention is not None else tf.shape(x_ur)[0]
        state = tf.zeros(tf.stack([n, h_units]), x_ur.dtype)
        m = tf.cast(mask, x_ur.dtype)
        gated = attention is not None and self.kind in ("augru", "agru")
        if attention is None:
            gates = [None] * steps
        else:  # augru / agru: padding gets a_t = 0, which keeps the state
            gates = tf.unstack((attention * m if gated else attention)[..., None], axis=1)
        masks = [None] * steps if gated else tf.unstack(m[..., None], axis=1)
        b_ur, b_h = self.bias[:2 * h_units], self.bias[2 * h_units:]
        rec_ur, rec_h = self.recurrent[:, :2 * h_units], self.recurrent[:, 2 * h_units:]
        states = []
        for xur, xh, a, mt in zip(tf.unstack(x_ur, axis=1), tf.unstack(x_h, axis=1), gates, masks):
            if self.kind == "aigru":
                xur, xh = a * xur + b_ur, a * xh + b_h
            u, r = tf.split(tf.sigmoid(xur + tf.matmul(state, rec_ur)), 2, axis=-1)
            cand = tf.tanh(xh + r * tf.matmul(state, rec_h))
            if self.kind == "augru":
                u = a * u
            elif self.kind == "agru":
                u = a
            if mt is not None:
                u = u * mt  # padding: keep the state
            state = state + u * (cand - state)
            if keep:
                states.append(state)
        return state, states

    def call(self, prepared: tuple[tf.Tensor, tf.Tensor], attention: tf.Tensor | None, mask: tf.Tensor) -> tf.Tensor:
        """The final state (N, H)."""
        return self._steps(prepared, attention, mask, keep=False)[0]

    def sequences(self, prepared: tuple[tf.Tensor, tf.Tensor], mask: tf.Tensor) -> tf.Tensor:
        """Every state (B, T, H) of the target-free (``gru``) recurrence."""
        return tf.stack(self._steps(prepared, None, mask, keep=True)[1], axis=1)

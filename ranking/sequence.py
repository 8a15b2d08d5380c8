"""The behaviour-sequence rankers: DIN (Zhou et al. 2018, "Deep Interest Network for
Click-Through Rate Prediction", KDD) and DIEN (Zhou et al. 2019, "Deep Interest
Evolution Network for Click-Through Rate Prediction", AAAI), on the shared feature spec
(``ranking_feature_spec(behaviours=...)``) and the Ranker contract.

Common part (``SequenceRanker``, a ``BaselineRanker`` with its heads and loss):

- track profile: track, artist, album, genre, language embeddings (``embedding_dim``
  E each) + valence, arousal (the catalog's emotion pair), one ``FeatureEncoder``
  shared by the candidate (N,) and every behaviour (B, T), then ``item_proj``
  Dense(D = ``item_dim``): candidate (N, D), behaviours (B, T, D). Padding (track id
  -1) is masked: mask (B, T).
- listener part, once per request: the scalar user / context features -> (B, H0)
  (``listener_proj``) and the per-listener sequence work of each model (below);
- candidate part: the candidate's other features (stats, catalog numbers,
  ``user_track_plays_30d``) -> (N, Dr); [profile (N, D), others] -> Dense(H0) plus the
  model's interest vector (N, Di) -> Dense(H0), added to the listener's (1, H0): the
  first MLP layer over [listener, candidate, interest] split so the listener's share is
  computed once; then ``activation`` (relu | prelu | dice), ``hidden_units[1:]``, the
  heads.
- ``mba_lambda`` > 0: DIN's mini-batch aware regularisation (section 4.2): each
  training step adds ``lambda * sum_j ||w_j||^2 / n_j`` over the track / artist / album
  embedding rows ``j`` used by the batch (candidates and behaviours), ``n_j`` the
  row's training frequency (the spec's vocabulary counts).

``DINRanker``: for each behaviour kind b, the local activation unit
(``layers.LocalActivationUnit``) weighs every behaviour against the candidate
(unnormalised, masked) and the weighted sum (N, D) is b's interest. Ablation:
``pooling`` ``sum`` / ``mean`` (no attention: the listener part already holds it).
Per candidate: the query / product part of the attention MLP over (N, T, A).

``DIENRanker``: over the first behaviour kind (the play sequence):

- interest extractor: GRU(H) over the behaviours (B, T, D) -> states (B, T, H), once
  per listener (``layers.InterestEvolution`` with ``kind="gru"``, unrolled), with the
  auxiliary loss (``aux_loss_weight`` > 0, training only): ``h_t`` must tell the next
  behaviour ``e_{t+1}`` from a negative (the behaviour at the same step of another
  listener in the batch): MLP([h_t, e]) -> logit, binary cross-entropy over valid
  steps (eq. 6);
- attention ``a_t = softmax_t(h_t W e_target)`` (eq. 10), masked: (N, T);
- interest evolution (``layers.InterestEvolution``): AUGRU (``evolution``: ``agru``,
  ``aigru``, ``gru`` as ablations) -> final state (N, H): the interest vector. Its input
  projection is per listener; only the T-step recurrence over (N, H) runs per
  candidate (for ``gru`` nothing does).

``SessionRanker``: the session multi-behaviour ranker (NetEase Cloud Music's adaptation
of DSIN, Feng et al. 2019, "Deep Session Interest Network for Click-Through Rate
Prediction", IJCAI, to music): each behaviour kind (``session_behaviours``: play,
heart, skip) is a separate channel; its (B, T) behaviours are split into the last S =
``max_sessions`` sessions by the platform's sessionization rule (``<b>_seq_session``);
per listener, once: intra-session self-attention (``session_heads`` heads, attention
only between behaviours of one session, residual + layer norm) -> (B, T, D), mean per
session -> session interests I (B, S, D), oldest to latest; an inter-session Bi-LSTM
(``session_lstm_units`` per direction) over the sessions -> H (B, S, 2U). Per
candidate: activation against the target, ``softmax_s(I_s W_I e)`` and
``softmax_s(H_s W_H e)`` over the valid sessions, pooled to (N, D) and (N, 2U) per
channel. Multi-task heads: complete play, heart, skip (the shared heads). Ablations:
``session_split`` False (one session: the whole sequence), ``session_behaviours``
``[play]`` (play only).

Inputs: features name -> (B,) raw tensors and (B, T) sequences
(``inputs.raw_features``); labels head -> (B,). Switches: ``RankingConfig``
(``behaviours``, ``sequence_length``, ``item_dim``, ``activation``, ``mba_lambda``,
``attention_units``, ``pooling``, ``gru_units``, ``evolution``, ``aux_loss_weight``).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from encore.platform.config import RankingConfig
from encore.ranking.baseline import BaselineRanker
from encore.ranking.features import HEADS, SEQUENCE_PROFILE, SESSION, FeatureSpec, sequence_feature
from encore.ranking.layers import (
    FeatureEncoder, InterestEvolution, LocalActivationUnit, apply_activation, activation_layer,
)

MBA_FEATURES: tuple[str, ...] = ("track_id", "artist_id", "album_id")


class SequenceRanker(BaselineRanker):
    """The shared part of DIN and DIEN (see the module docstring)."""

    def __init__(self, spec: FeatureSpec, *, embedding_dim: int = 16, item_dim: int = 32,
                 hidden_units: Sequence[int] = (128, 64), activation: str = "dice", dropout: float = 0.0,
                 head_weights: Mapping[str, float] | None = None, heads: Sequence[str] = HEADS,
                 position_buckets: int = 0, mba_lambda: float = 0.0) -> None:
        super().__init__(spec, embedding_dim=embedding_dim, hidden_units=hidden_units, dropout=dropout,
                         head_weights=head_weights, heads=heads, position_buckets=position_buckets)
        if not spec.behaviours:
            raise ValueError("a sequence ranker needs a spec with behaviour sequences "
                             "(ranking_feature_spec(behaviours=...))")
        self.behaviours = tuple(spec.behaviours)
        self.sequence_length = spec.sequence_length
        self.profile_names = [a for a in SEQUENCE_PROFILE if a in spec.candidate_names]
        self.other_names = [n for n in spec.candidate_names if n not in self.profile_names]
        self.item_encoder = FeatureEncoder(spec, self.profile_names, embedding_dim, name="item_encoder")
        self.item_proj = tf.keras.layers.Dense(item_dim, name="item_proj")
        self.candidate_encoder = FeatureEncoder(spec, self.other_names, embedding_dim, name="candidate_encoder")
        self.interest_proj = tf.keras.layers.Dense(hidden_units[0], use_bias=False, name="interest_proj")
        self.first_act = activation_layer(activation, "first_act")
        self.trunk = [tf.keras.layers.Dense(units, name=f"trunk_{i}")
                      for i, units in enumerate(hidden_units[1:], start=1)]
        self.trunk_acts = [activation_layer(activation, f"trunk_act_{i}") for i in range(1, len(hidden_units))]
        self.mba_lambda = float(mba_lambda)
        self._inverse_freq: dict[str, tf.Tensor] = {}
        if self.mba_lambda > 0:
            for name in MBA_FEATURES:
                f = spec[name] if name in self.profile_names else None
                if f is not None and f.transform == "vocab" and f.counts is not None:
                    counts = np.asarray((1, *f.counts), np.float32)  # row 0: out of vocabulary
                    self._inverse_freq[name] = tf.constant(1.0 / np.maximum(counts, 1.0))

    # -- shared pieces
    def items(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Track profiles ``{attr: (...)}`` -> (..., D)."""
        return self.item_proj(self.item_encoder({a: features[a] for a in self.profile_names}))

    def behaviour_items(self, features: Mapping[str, tf.Tensor], behaviour: str) -> tuple[tf.Tensor, tf.Tensor]:
        """Behaviour ``b``'s (B, T, D) profiles and its (B, T) mask (track id >= 0)."""
        seq = {a: features[sequence_feature(behaviour, a)] for a in self.profile_names}
        return self.items(seq), features[sequence_feature(behaviour, "track_id")] >= 0

    def user_vector(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Scalar user / context features -> (B, H0)."""
        return self.listener_proj(self.listener_encoder({n: features[n] for n in self.spec_scalar_names}))

    @property
    def spec_scalar_names(self) -> list[str]:
        return [f.name for f in self.listener_encoder._features]

    def top(self, user: tf.Tensor, candidate: tf.Tensor, candidate_features: Mapping[str, tf.Tensor],
            interest: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """user (1 or N, H0), candidate profile (N, D), interest (N, Di) -> head logits (N,)."""
        cand = tf.concat([candidate, self.candidate_encoder({n: candidate_features[n] for n in self.other_names})],
                         axis=-1)
        h = apply_activation(self.first_act, user + self.candidate_proj(cand) + self.interest_proj(interest), training)
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        for dense, act in zip(self.trunk, self.trunk_acts):
            h = apply_activation(act, dense(h), training)
            if self.dropout is not None:
                h = self.dropout(h, training=training)
        return {name: tf.squeeze(layer(h), axis=-1) for name, layer in self.head_layers.items()}

    def call(self, features: Mapping[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        """Per-row scoring: features (B,) / (B, T) -> head -> (B,) logits."""
        listener = self.listener_part({n: features[n] for n in self.listener_names}, training=training)
        return self.candidate_logits(listener, {n: features[n] for n in self.candidate_names}, training=training)

    def extra_loss(self, features: Mapping[str, tf.Tensor], listener: Any, training: bool) -> tf.Tensor:
        """Model-specific training losses (DIEN's auxiliary loss); 0 here."""
        return tf.constant(0.0)

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        features, labels = inputs
        listener = self.listener_part({n: features[n] for n in self.listener_names}, training=training)
        logits = self.candidate_logits(listener, {n: features[n] for n in self.candidate_names},
                                       training=training)
        loss = self.heads_loss(features, labels, logits, training) + self.extra_loss(features, listener, training)
        if self.mba_lambda > 0 and training:
            loss += self.mba_regularisation(features)
        return loss

    def mba_regularisation(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """``lambda * sum_j ||w_j||^2 / n_j`` over the rows ``j`` this batch uses."""
        total = tf.constant(0.0)
        for name, inverse in self._inverse_freq.items():
            values = [tf.reshape(features[name], [-1])]
            values += [tf.reshape(features[sequence_feature(b, name)], [-1]) for b in self.behaviours]
            rows = tf.unique(tf.concat([self.item_encoder.index(name, v) for v in values], 0)).y
            w = tf.gather(self.item_encoder.table(name), rows)
            total += tf.reduce_sum(tf.gather(inverse, rows) * tf.reduce_sum(tf.square(w), -1))
        return self.mba_lambda * total


class DINRanker(SequenceRanker):
    """DIN (Zhou et al. 2018); see the module docstring. Shapes: behaviours (B, T, D),
    candidates (N, D), attention weights (N, T), interest (N, D x behaviours).
    Switches: ``pooling`` attention | sum | mean, ``activation`` (Dice), ``mba_lambda``."""

    name_in_registry = "din"

    def __init__(self, spec: FeatureSpec, *, attention_units: Sequence[int] = (64, 16),
                 pooling: str = "attention", activation: str = "dice", **kwargs: Any) -> None:
        super().__init__(spec, activation=activation, **kwargs)
        if pooling not in ("attention", "sum", "mean"):
            raise ValueError(f"unknown pooling {pooling!r}; known: attention, sum, mean")
        self.pooling = pooling
        self.attention = {b: LocalActivationUnit(attention_units, activation, name=f"{b}_attention")
                          for b in self.behaviours} if pooling == "attention" else {}

    def listener_part(self, listener_features: Mapping[str, tf.Tensor], training: bool = False) -> dict[str, Any]:
        """-> user (B, H0); per behaviour: keys (B, T, D), mask (B, T) and the attention's
        key part (B, T, A1), or the pooled (B, D) for sum / mean pooling."""
        out: dict[str, Any] = {"user": self.user_vector(listener_features)}
        for b in self.behaviours:
            keys, mask = self.behaviour_items(listener_features, b)
            if self.pooling == "attention":
                out[b] = (keys, mask, self.attention[b].key_part(keys))
            else:
                m = tf.cast(mask, keys.dtype)[..., None]
                pooled = tf.reduce_sum(keys * m, axis=1)
                if self.pooling == "mean":
                    pooled = pooled / tf.maximum(tf.reduce_sum(m, axis=1), 1.0)
                out[b] = (pooled,)
        return out

    def attention_weights(self, listener: Mapping[str, Any], candidate: tf.Tensor, behaviour: str,
                          training: bool = False) -> tf.Tensor:
        """The local activation unit's (N, T) weights of ``behaviour`` for candidates (N, D)."""
        keys, mask, key_part = listener[behaviour]
        return self.attention[behaviour](keys, candidate, mask, key_part=key_part, training=training)

    def candidate_logits(self, listener: Mapping[str, Any], candidate_features: Mapping[str, tf.Tensor],
                         training: bool = False) -> dict[str, tf.Tensor]:
        candidate = self.items(candidate_features)  # (N, D)
        interests = []
        for b in self.behaviours:
            if self.pooling == "attention":
                w = self.attention_weights(listener, candidate, b, training)  # (N, T)
                keys = listener[b][0]  # (1 or N, T, D)
                interests.append(tf.squeeze(tf.matmul(w[:, None, :], keys), 1))  # (N, D)
            else:
                interests.append(tf.broadcast_to(listener[b][0], tf.shape(candidate)))
        return self.top(listener["user"], candidate, candidate_features, tf.concat(interests, -1), training)


class DIENRanker(SequenceRanker):
    """DIEN (Zhou et al. 2019); see the module docstring. Shapes: behaviours (B, T, D),
    extractor states (B, T, H), attention (N, T), evolved interest (N, H).
    Switches: ``evolution`` augru | agru | aigru | gru, ``aux_loss_weight`` (0 = off),
    ``gru_units`` H, ``activation``, ``mba_lambda``."""

    name_in_registry = "dien"

    def __init__(self, spec: FeatureSpec, *, gru_units: int = 16, evolution: str = "augru",
                 aux_loss_weight: float = 1.0, activation: str = "dice", **kwargs: Any) -> None:
        super().__init__(spec, activation=activation, **kwargs)
        self.behaviour = self.behaviours[0]
        self.evolution_kind = evolution
        self.extractor = InterestEvolution(gru_units, "gru", name="interest_extractor")
        self.target_proj = tf.keras.layers.Dense(gru_units, use_bias=False, name="attention_bilinear")
        self.evolution = InterestEvolution(gru_units, evolution, name="interest_evolution")
        self.aux_loss_weight = float(aux_loss_weight)
        self.aux_net = [tf.keras.layers.Dense(max(gru_units, 8), activation="relu", name="aux_hidden"),
                        tf.keras.layers.Dense(1, name="aux_logit")]

    def listener_part(self, listener_features: Mapping[str, tf.Tensor], training: bool = False) -> dict[str, Any]:
        """-> user (B, H0), behaviours (B, T, D), mask (B, T), extractor states
        (B, T, H), the evolving layer's input projections (B, T, 2H) and (B, T, H) (and,
        for ``gru``, the final interest (B, H))."""
        keys, mask = self.behaviour_items(listener_features, self.behaviour)
        states = self.extractor.sequences(self.extractor.prepare(keys), mask)
        states = states * tf.cast(mask, states.dtype)[..., None]  # padding: zero states
        projected = self.evolution.prepare(states)
        out = {"user": self.user_vector(listener_features), "keys": keys, "mask": mask,
               "states": states, "projected": projected}
        if self.evolution_kind == "gru":
            out["interest"] = self.evolution(projected, None, mask)
        return out

    def attention(self, listener: Mapping[str, Any], candidate: tf.Tensor) -> tf.Tensor:
        """``softmax_t(h_t W e)`` over valid steps: (N, T) (all zero without history)."""
        q = self.target_proj(candidate)  # (N, H)
        scores = tf.squeeze(tf.matmul(listener["states"], q[:, :, None]), -1)  # (N, T)
        mask = tf.broadcast_to(listener["mask"], tf.shape(scores))
        scores = tf.where(mask, scores, tf.fill(tf.shape(scores), -1e9))
        weights = tf.nn.softmax(scores, axis=-1)
        return weights * tf.cast(mask, weights.dtype)

    def candidate_logits(self, listener: Mapping[str, Any], candidate_features: Mapping[str, tf.Tensor],
                         training: bool = False) -> dict[str, tf.Tensor]:
        candidate = self.items(candidate_features)  # (N, D)
        if self.evolution_kind == "gru":
            interest = tf.broadcast_to(listener["interest"], [tf.shape(candidate)[0], self.evolution.units])
        else:
            interest = self.evolution(listener["projected"], self.attention(listener, candidate), listener["mask"])
        return self.top(listener["user"], candidate, candidate_features, interest, training)

    def auxiliary_loss(self, listener: Mapping[str, Any]) -> tf.Tensor:
        """Eq. 6: ``h_t`` vs the next behaviour (label 1) and a negative (label 0): the
        behaviour at step t+1 of another listener of the batch (a random permutation),
        over the steps where all three are real behaviours."""
        keys, mask, states = listener["keys"], listener["mask"], listener["states"]
        perm = tf.random.shuffle(tf.range(tf.shape(keys)[0]))
        neg_keys, neg_mask = tf.gather(keys, perm), tf.gather(mask, perm)
        h = states[:, :-1]
        valid = tf.cast(mask[:, :-1] & mask[:, 1:] & neg_mask[:, 1:], tf.float32)

        def logit(e):
            x = tf.concat([h, e], -1)
            for layer in self.aux_net:
                x = layer(x)
            return tf.squeeze(x, -1)

        pos = tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(valid), logit(keys[:, 1:]))
        neg = tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(valid), logit(neg_keys[:, 1:]))
        return tf.reduce_sum((pos + neg) * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)

    def extra_loss(self, features: Mapping[str, tf.Tensor], listener: Any, training: bool) -> tf.Tensor:
        if self.aux_loss_weight <= 0 or not training:
            return tf.constant(0.0)
        return self.aux_loss_weight * self.auxiliary_loss(listener)


class SessionRanker(SequenceRanker):
    """The session multi-behaviour ranker (DSIN adapted to music); see the module
    docstring. Shapes: behaviours (B, T, D), sessions (B, T) in [-1, S), session
    interests (B, S, D), Bi-LSTM states (B, S, 2U), per candidate (N, S) attention.
    Switches: ``session_behaviours``, ``max_sessions``, ``session_split``,
    ``session_heads``, ``session_lstm_units``, ``activation``, ``mba_lambda``."""

    name_in_registry = "session"

    def __init__(self, spec: FeatureSpec, *, max_sessions: int = 5, session_split: bool = True,
                 session_heads: int = 2, session_lstm_units: int = 16, item_dim: int = 32, **kwargs: Any) -> None:
        super().__init__(spec, item_dim=item_dim, **kwargs)
        self.max_sessions = int(spec.meta.get("sessions", {}).get("max_sessions", max_sessions))
        self.session_split = session_split
        self.self_attention = {b: tf.keras.layers.MultiHeadAttention(
            session_heads, max(item_dim // session_heads, 1), name=f"{b}_intra_session") for b in self.behaviours}
        self.norm = {b: tf.keras.layers.LayerNormalization(name=f"{b}_norm") for b in self.behaviours}
        self.bilstm = {b: tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(session_lstm_units, return_sequences=True),
                                                        name=f"{b}_inter_session") for b in self.behaviours}
        self.interest_att = {b: tf.keras.layers.Dense(item_dim, use_bias=False, name=f"{b}_interest_att")
                             for b in self.behaviours}
        self.state_att = {b: tf.keras.layers.Dense(2 * session_lstm_units, use_bias=False, name=f"{b}_state_att")
                          for b in self.behaviours}

    def _sessions(self, listener_features: Mapping[str, tf.Tensor], behaviour: str, mask: tf.Tensor) -> tf.Tensor:
        """(B, T) session of each behaviour, 0 = the oldest kept, S - 1 = the latest; -1 masked."""
        if not self.session_split:
            return tf.where(mask, tf.fill(tf.shape(mask), tf.constant(self.max_sessions - 1, tf.int64)),
                            tf.fill(tf.shape(mask), tf.constant(-1, tf.int64)))
        rank = tf.cast(listener_features[sequence_feature(behaviour, SESSION)], tf.int64)
        return tf.where(mask & (rank >= 0), self.max_sessions - 1 - rank, tf.fill(tf.shape(rank), tf.constant(-1, tf.int64)))

    def listener_part(self, listener_features: Mapping[str, tf.Tensor], training: bool = False) -> dict[str, Any]:
        """-> user (B, H0); per behaviour: session interests (B, S, D), Bi-LSTM states
        (B, S, 2U) and the session mask (B, S)."""
        out: dict[str, Any] = {"user": self.user_vector(listener_features)}
        for b in self.behaviours:
            keys, mask = self.behaviour_items(listener_features, b)
            session = self._sessions(listener_features, b, mask)  # (B, T)
            valid = session >= 0
            same = (session[:, :, None] == session[:, None, :]) & valid[:, :, None] & valid[:, None, :]
            attended = self.self_attention[b](keys, keys, attention_mask=same, training=training)
            x = self.norm[b](keys + attended * tf.cast(valid, keys.dtype)[..., None])
            onehot = tf.one_hot(session, self.max_sessions, dtype=x.dtype)  # (B, T, S); -1 -> zeros
            counts = tf.reduce_sum(onehot, axis=1)  # (B, S)
            interests = tf.matmul(onehot, x, transpose_a=True) / tf.maximum(counts, 1.0)[..., None]  # (B, S, D)
            smask = counts > 0
            states = self.bilstm[b](interests, mask=smask, training=training)  # (B, S, 2U)
            states = states * tf.cast(smask, states.dtype)[..., None]
            out[b] = (interests, states, smask)
        return out

    @staticmethod
    def _pool(values: tf.Tensor, query: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """softmax over valid sessions of ``values (B, S, K) . query (N, K)`` -> (N, K)."""
        scores = tf.squeeze(tf.matmul(values, query[:, :, None]), -1)  # (N, S)
        m = tf.broadcast_to(mask, tf.shape(scores))
        w = tf.nn.softmax(tf.where(m, scores, tf.fill(tf.shape(scores), -1e9)), axis=-1) * tf.cast(m, scores.dtype)
        return tf.squeeze(tf.matmul(w[:, None, :], values), 1)

    def candidate_logits(self, listener: Mapping[str, Any], candidate_features: Mapping[str, tf.Tensor],
                         training: bool = False) -> dict[str, tf.Tensor]:
        candidate = self.items(candidate_features)  # (N, D)
        parts = []
        for b in self.behaviours:
            interests, states, smask = listener[b]
            parts.append(self._pool(interests, self.interest_att[b](candidate), smask))
            parts.append(self._pool(states, self.state_att[b](candidate), smask))
        return self.top(listener["user"], candidate, candidate_features, tf.concat(parts, -1), training)


def _common(cfg: RankingConfig) -> dict[str, Any]:
    return dict(embedding_dim=cfg.embedding_dim, item_dim=cfg.item_dim, hidden_units=tuple(cfg.hidden_units),
                activation=cfg.activation, dropout=cfg.dropout, head_weights=cfg.head_weights,
                position_buckets=cfg.position_buckets, mba_lambda=cfg.mba_lambda)


def build_din(spec: FeatureSpec, cfg: RankingConfig) -> DINRanker:
    """A DINRanker from ``RankingConfig`` ``cfg``."""
    return DINRanker(spec, attention_units=tuple(cfg.attention_units), pooling=cfg.pooling, **_common(cfg))


def build_dien(spec: FeatureSpec, cfg: RankingConfig) -> DIENRanker:
    """A DIENRanker from ``RankingConfig`` ``cfg``."""
    return DIENRanker(spec, gru_units=cfg.gru_units, evolution=cfg.evolution,
                      aux_loss_weight=cfg.aux_loss_weight, **_common(cfg))


def build_session(spec: FeatureSpec, cfg: RankingConfig) -> SessionRanker:
    """A SessionRanker from ``RankingConfig`` ``cfg``."""
    return SessionRanker(spec, max_sessions=cfg.max_sessions, session_split=cfg.session_split,
                         session_heads=cfg.session_heads, session_lstm_units=cfg.session_lstm_units, **_common(cfg))

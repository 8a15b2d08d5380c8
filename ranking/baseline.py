"""The baseline ranker: a no-sequence deep model with three heads, the bar every
sequence ranker (DIN, DIEN, the session ranker) must clear.

Model (an embedding + MLP ranker in the style of YouTube's deep ranking network /
Wide & Deep's deep part, without behaviour sequences):

- listener part, once per request: ``FeatureEncoder`` over the user and context
  features of the spec (hashed user id, 30-day counters, today's plays, scenario, hour,
  weekday) -> (B, Du) -> ``listener_proj`` Dense(H0) -> (B, H0);
- candidate part, per candidate: ``FeatureEncoder`` over the candidate features (track,
  artist, genre, language embeddings; catalog attributes; the track's stats; the
  listener's plays of it) -> (N, Dc) -> ``candidate_proj`` Dense(H0, no bias) -> (N, H0);
- ``relu(listener + candidate)`` is exactly the first layer of an MLP over the
  concatenation [listener, candidate], split so the listener's share is computed once
  and broadcast to N candidates; then Dense(H1..) with ReLU (``hidden_units[1:]``);
- heads ``complete_play``, ``heart``, ``skip``: one Dense(1) logit each.

Loss (``compute_loss``): sum over heads of ``head_weights[h]`` * binary cross-entropy,
one ``tfrs.tasks.Ranking`` per head (with an AUC metric each).

Position bias (``position_buckets`` > 0, default off): in ``compute_loss`` only, a
per-head logit looked up by the logged ``position`` (B,) (clipped to the last bucket)
is added to each head's logit, a shallow tower in the manner of Zhao et al. 2019
("Recommending what video to watch next"); scoring and the SavedModel never see it.

Inputs: features name -> (B,) raw tensors (``encore.ranking.inputs.raw_features``);
labels head -> (B,) 0/1. Switches: ``RankingConfig.use_user_id`` (in the spec),
``embedding_dim``, ``hidden_units``, ``dropout``, ``head_weights``,
``position_buckets``.

The ranker contract (``encore.ranking.ranker``) needs ``listener_part`` and
``candidate_logits``; ``call`` (per-row training) is their composition.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import tensorflow as tf
import tensorflow_recommenders as tfrs

from encore.platform.config import RankingConfig
from encore.ranking.features import HEADS, POSITION, FeatureSpec
from encore.ranking.layers import FeatureEncoder


class BaselineRanker(tfrs.Model):
    """See the module docstring. ``spec`` must be fitted."""

    name_in_registry = "baseline"

    def __init__(self, spec: FeatureSpec, *, embedding_dim: int = 16,
                 hidden_units: Sequence[int] = (128, 64), dropout: float = 0.0,
                 head_weights: Mapping[str, float] | None = None, heads: Sequence[str] = HEADS,
                 position_buckets: int = 0) -> None:
        super().__init__()
        if not hidden_units:
            raise ValueError("hidden_units needs at least one layer")
        self.heads = tuple(heads)
        weights = dict(head_weights or {})
        unknown = set(weights) - set(self.heads)
        if unknown:
            raise ValueError(f"head_weights names unknown heads {sorted(unknown)}")
        self.head_weights = {h: float(weights.get(h, 1.0)) for h in self.heads}
        self.listener_names, self.candidate_names = spec.listener_names, spec.candidate_names
        self.listener_encoder = FeatureEncoder(spec, spec.scalar_listener_names, embedding_dim,
                                               name="listener_encoder")
        self.candidate_encoder = FeatureEncoder(spec, spec.candidate_names, embedding_dim, name="candidate_encoder")
        self.listener_proj = tf.keras.layers.Dense(hidden_units[0], name="listener_proj")
        self.candidate_proj = tf.keras.layers.Dense(hidden_units[0], use_bias=False, name="candidate_proj")
        self.dropout = tf.keras.layers.Dropout(dropout) if dropout > 0 else None
        self.trunk = [tf.keras.layers.Dense(units, activation="relu", name=f"trunk_{i}")
                      for i, units in enumerate(hidden_units[1:], start=1)]
        self.head_layers = {h: tf.keras.layers.Dense(1, name=f"{h}_logit") for h in self.heads}
        self.position_buckets = int(position_buckets)
        self.position_bias = {
            h: tf.keras.layers.Embedding(self.position_buckets, 1, embeddings_initializer="zeros",
                                         name=f"{h}_position_bias") for h in self.heads
        } if self.position_buckets > 0 else {}
        self.tasks = {
            h: tfrs.tasks.Ranking(
                loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[tf.keras.metrics.AUC(from_logits=True, name=f"{h}_auc")],
            ) for h in self.heads
        }

    def listener_part(self, listener_features: Mapping[str, tf.Tensor], training: bool = False) -> Any:
        """User + context features, each (B,) (B = 1 at serving) -> (B, H0)."""
        return self.listener_proj(self.listener_encoder(listener_features))

    def candidate_logits(self, listener: Any, candidate_features: Mapping[str, tf.Tensor],
                         training: bool = False) -> dict[str, tf.Tensor]:
        """``listener`` (1 or N, H0) and candidate features, each (N,) -> head -> (N,)
        logits (a (1, H0) listener broadcasts over the N candidates)."""
        h = tf.nn.relu(listener + self.candidate_proj(self.candidate_encoder(candidate_features)))
        if self.dropout is not None:
            h = self.dropout(h, training=training)
        for layer in self.trunk:
            h = layer(h)
            if self.dropout is not None:
                h = self.dropout(h, training=training)
        return {name: tf.squeeze(layer(h), axis=-1) for name, layer in self.head_layers.items()}

    def call(self, features: Mapping[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        """Per-row scoring: features name -> (B,) -> head -> (B,) logits."""
        listener = self.listener_part({n: features[n] for n in self.listener_names})
        candidates = {n: features[n] for n in self.candidate_names}
        return self.candidate_logits(listener, candidates, training=training)

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        features, labels = inputs
        return self.heads_loss(features, labels, self(features, training=training), training)

    def heads_loss(self, features: Mapping[str, tf.Tensor], labels: Mapping[str, tf.Tensor],
                   logits: Mapping[str, tf.Tensor], training: bool) -> tf.Tensor:
        """The weighted sum of the heads' binary cross-entropies (with the training-only
        position bias added to the logits when it is on)."""
        if self.position_bias:
            if POSITION not in features:
                raise ValueError("position_buckets > 0 needs the logged `position` among the training inputs")
            pos = tf.clip_by_value(tf.cast(features[POSITION], tf.int64), 0, self.position_buckets - 1)
            logits = {h: v + tf.squeeze(self.position_bias[h](pos), axis=-1) for h, v in logits.items()}
        loss = tf.constant(0.0)
        for h in self.heads:
            loss += self.head_weights[h] * self.tasks[h](
                labels=tf.reshape(tf.cast(labels[h], tf.float32), (-1, 1)),
                predictions=tf.reshape(logits[h], (-1, 1)),
                training=training,
            )
        return loss


def build_baseline(spec: FeatureSpec, cfg: RankingConfig) -> BaselineRanker:
    """A BaselineRanker from ``RankingConfig`` ``cfg``."""
    return BaselineRanker(spec, embedding_dim=cfg.embedding_dim, hidden_units=tuple(cfg.hidden_units),
                          dropout=cfg.dropout, head_weights=cfg.head_weights,
                          position_buckets=cfg.position_buckets)

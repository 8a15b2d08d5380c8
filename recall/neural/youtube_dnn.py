"""YouTube-DNN retrieval (Covington, Adams & Sargin 2016, "Deep Neural Networks for
YouTube Recommendations") with self-attention pooling, channel kind ``youtube_dnn``.

Query tower, for B encoded Queries (:mod:`encore.recall.neural.encoding`):

* play sequence: ``history`` (B, T) track codes -> ``ItemTower`` -> (B, T, D), pooled
  to (B, D) by ``SelfAttentionPooling`` (``pooling="self_attention"``) or by the paper's
  average (``"mean"``, the ablation); an empty history pools to zeros;
* profile and context: ``ProfileTower`` (genres, languages, artists as weighted bags in
  the item tower's attribute space; age, region, hour, scenario; 30-day activity)
  -> (B, P), so a listener with no sequence still gets a query vector;
* [pooled, profile] (B, D + P) -> ReLU layers ``hidden_units`` -> Dense(D) -> L2
  normalised: one query vector (B, 1, D) in the space "history".

Item tower: ``ItemTower`` (track + artist + album + genre + language embeddings),
normalised. Trained as the paper's softmax over tracks, sampled here as the in-batch
softmax with logQ correction (``RetrievalModel``); the per-listener sample cap of the
``sampling`` section applies (``sample_cap``).
"""

from __future__ import annotations

import tensorflow as tf

from encore.recall.neural.encoding import Vocabulary
from encore.recall.neural.layers import ProfileTower, SelfAttentionPooling, masked_mean
from encore.recall.neural.retrieval import RetrievalModel, l2_normalize


class YouTubeDNN(RetrievalModel):
    """See the module docstring; ``params``: ``YouTubeDNNParams``."""

    spaces = ("history",)

    def __init__(self, vocab: Vocabulary, params) -> None:
        super().__init__(vocab, params)
        dim = params.embedding_dim
        self.profile = ProfileTower(self.items, vocab.sizes(), name="profile_tower")
        self.pooling = (SelfAttentionPooling(params.history_length, dim, params.attention_heads, name="pooling")
                        if params.pooling == "self_attention" else None)
        self.mlp = tf.keras.Sequential(
            [tf.keras.layers.Dense(u, activation="relu") for u in params.hidden_units] + [tf.keras.layers.Dense(dim)],
            name="query_mlp")

    def pooled_history(self, features, training: bool = False) -> tf.Tensor:
        history = features["history"]
        mask = history > 0
        sequence = self.items(history)
        if self.pooling is None:
            return masked_mean(sequence, mask)
        return self.pooling(sequence, mask, training=training)

    def query_outputs(self, features, training: bool = False):
        x = tf.concat([self.pooled_history(features, training), self.profile(features)], axis=-1)
        query = l2_normalize(self.mlp(x, training=training))[:, None, :]
        return {"history": (query, tf.ones(tf.shape(query)[:2], tf.bool))}

"""The platform's ranker as the DR / DM reward model (``ab.reward_model: ranker``).

A ``BaselineRanker`` (encore.ranking.baseline: embedding + MLP in the style of
Covington et al. 2016 / Wide & Deep's deep part) with one head per outcome, trained on
the same point-in-time rows as the features model (``encore.serving.ab.reward_model``):
the logged exposures of the ``ab.reward_model_days`` days before the held-out day, each
day's features as of its start (cross-fitting: the held-out day never enters a fit).

Inputs (a FeatureSpec of its own, fitted on the training rows):
- listener part: hashed ``user_id`` (B,) and the request ``hour`` (B,);
- candidate part: ``track_id``, ``artist_id``, ``genre``, ``language`` embeddings (B,)
  and the F point-in-time features of ``reward_model.FEATURES`` as standardised
  numerics (B, F) -> F columns ``f_<name>``.
So the ranker learns listener x track taste through its embeddings on top of what the
hand features already carry. Output: P(outcome) (B,) = sigmoid(head logit).

Why not the trained ranker artifact of ``encore train rank``: that one reads Spark's
``ranking_samples`` (30-day counters, item stats) whose days overlap the held-out day;
training here on the A/B's own rows keeps the fit strictly before it and needs no Spark.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from encore.serving.ab.reward_model import FEATURES

USER_BUCKETS = 4_096


def _spec(outcome_features: Sequence[str]):
    from encore.ranking.features import CANDIDATE, CONTEXT, USER, Feature, FeatureSpec

    feats = [Feature("user_id", USER, "int64", "hash", "exposure user_id", buckets=USER_BUCKETS),
             Feature("hour", CONTEXT, "int64", "index", "UTC hour of the request", buckets=24),
             Feature("track_id", CANDIDATE, "int64", "vocab", "exposure track_id", min_count=2),
             Feature("artist_id", CANDIDATE, "int64", "vocab", "catalog tracks.artist_id", min_count=2),
             Feature("genre", CANDIDATE, "string", "vocab", "catalog tracks.genre"),
             Feature("language", CANDIDATE, "string", "vocab", "catalog tracks.language")]
    feats += [Feature(f"f_{n}", CANDIDATE, "float32", "norm", f"reward_model.{n} (point in time)")
              for n in outcome_features]
    return FeatureSpec(features=tuple(feats))


class RankerRewardModel:
    """See the module docstring. ``fit`` rows: ``x`` (B, F) point-in-time features,
    ``users``, ``tracks``, ``hours`` (B,), ``y`` (B,) 0/1."""

    def __init__(self, model, spec, catalog: pd.DataFrame, outcome: str) -> None:
        self.model, self.spec, self.catalog, self.outcome = model, spec, catalog, outcome

    @staticmethod
    def _raw(x: np.ndarray, users: np.ndarray, tracks: np.ndarray, hours: np.ndarray,
             catalog: pd.DataFrame) -> dict[str, np.ndarray]:
        tracks = np.asarray(tracks, np.int64)
        rows = catalog.reindex(tracks)
        raw = {"user_id": np.asarray(users, np.int64), "hour": np.asarray(hours, np.int64),
               "track_id": tracks,
               "artist_id": rows["artist_id"].fillna(-1).to_numpy(np.int64),
               "genre": rows["genre"].fillna("").astype(str).to_numpy(),
               "language": rows["language"].fillna("").astype(str).to_numpy()}
        for j, n in enumerate(FEATURES):
            raw[f"f_{n}"] = np.asarray(x[:, j], np.float32)
        return raw

    @classmethod
    def fit(cls, x: np.ndarray, users: np.ndarray, tracks: np.ndarray, hours: np.ndarray, y: np.ndarray,
            catalog_tracks: pd.DataFrame, outcome: str, *, epochs: int = 4, batch_size: int = 128, learning_rate: float = 0.01,
            embedding_dim: int = 8, hidden_units: Sequence[int] = (32, 16), seed: int = 7) -> "RankerRewardModel":
        import tensorflow as tf

        from encore.ranking.baseline import BaselineRanker

        catalog = catalog_tracks.drop_duplicates("track_id").set_index("track_id")[["artist_id", "genre", "language"]]
        raw = cls._raw(x, users, tracks, hours, catalog)
        spec = _spec(FEATURES).fit(raw)
        tf.keras.utils.set_random_seed(seed)
        model = BaselineRanker(spec, embedding_dim=embedding_dim, hidden_units=hidden_units, heads=(outcome,))
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate))
        labels = {outcome: np.asarray(y, np.float32)}
        data = tf.data.Dataset.from_tensor_slices((raw, labels)).shuffle(len(y), seed=seed).batch(batch_size)
        model.fit(data, epochs=epochs, verbose=0)
        return cls(model, spec, catalog, outcome)

    def predict(self, x: np.ndarray, users: np.ndarray, tracks: np.ndarray, hours: np.ndarray,
                batch: int = 65_536) -> np.ndarray:
        """P(outcome) (B,) for the rows."""
        import tensorflow as tf

        raw = self._raw(x, users, tracks, hours, self.catalog)
        out = []
        for s in range(0, len(x), batch):
            part = {k: tf.constant(v[s:s + batch]) for k, v in raw.items()}
            out.append(tf.sigmoid(self.model(part)[self.outcome]).numpy())
        return np.concatenate(out) if out else np.zeros(0)

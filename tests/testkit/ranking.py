"""Shared checks of exported rankers (encore.ranking)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from encore.ranking import inputs
from encore.ranking.features import HEADS
from encore.ranking.ranker import Ranker


def assert_saved_ranker_scores_like_in_memory(fitted: Any, path: Path, rows: Any, catalog: Any, *,
                                              atol: float) -> Ranker:
    """The exported SavedModel (loaded without the Python class) scores ``rows`` as the
    in-memory model does, within ``atol`` per head; two loads of the artifact give
    identical scores. Returns the loaded ranker."""
    feats = inputs.raw_features(rows, catalog, fitted.spec)
    in_memory = {h: tf.sigmoid(v).numpy() for h, v in fitted.model(
        {k: tf.constant(v) for k, v in feats.items()}).items()}
    loaded = tf.saved_model.load(str(path / "saved_model"))  # no Python class needed
    raw = loaded.signatures["score_rows"](**{k: tf.constant(v) for k, v in feats.items()})
    ranker = Ranker.load(path)
    again = Ranker.load(path).score_rows(feats)
    for h in HEADS:
        np.testing.assert_allclose(raw[h].numpy(), in_memory[h], rtol=0, atol=atol)
        np.testing.assert_array_equal(ranker.score_rows(feats)[h], again[h])
    return ranker

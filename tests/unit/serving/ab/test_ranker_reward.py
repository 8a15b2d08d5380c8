"""The ranker reward model (encore.serving.ab.ranker_reward): on a planted listener x
track taste that no point-in-time feature carries, the ranker's embeddings beat the
logistic features model (AUC on held-out rows of the same listeners and tracks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.ranking.metrics import auc
from encore.serving.ab.reward_model import FEATURES, LogisticModel
from encore.serving.ab.ranker_reward import RankerRewardModel


def _rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    users, tracks = rng.integers(0, 60, n), rng.integers(0, 40, n)
    x = rng.normal(size=(n, len(FEATURES)))
    # taste: listeners of the even group complete the even tracks; x[:, 1] adds a little
    logit = 2.5 * np.where(users % 2 == tracks % 2, 1.0, -1.0) + 0.5 * x[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, users, tracks, rng.integers(0, 24, n), y


@pytest.mark.slow
def test_ranker_learns_a_planted_taste_the_features_miss():
    rng = np.random.default_rng(3)
    catalog = pd.DataFrame({"track_id": np.arange(40), "artist_id": np.arange(40) // 2,
                            "genre": "pop", "language": "en"})
    x, u, t, h, y = _rows(rng, 6_000)
    xt, ut, tt, ht, yt = _rows(rng, 2_000)
    ranker = RankerRewardModel.fit(x, u, t, h, y, catalog, "complete_play", epochs=8, seed=1)
    features = LogisticModel.fit(x, y)
    q = ranker.predict(xt, ut, tt, ht)
    assert q.shape == (2_000,) and ((q > 0) & (q < 1)).all()
    ranker_auc, features_auc = auc(yt, q), auc(yt, features.predict(xt))
    assert features_auc < 0.65  # only the weak x[:, 1] term
    assert ranker_auc > 0.85 and ranker_auc > features_auc + 0.2
    # unseen track ids fall to the OOV row instead of failing
    assert np.isfinite(ranker.predict(xt[:3], ut[:3], np.array([999, 998, 997]), ht[:3])).all()

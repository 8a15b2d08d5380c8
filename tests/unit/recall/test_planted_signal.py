"""On a small generated world, the co-listening channels find the held-out day's
completed plays better than popularity (recall@50), and the evaluation reads the batch
tables from their on-disk layout."""

from __future__ import annotations

import pytest

from encore.platform.config import RecallConfig
from encore.recall import build_channel
from encore.recall.evaluate import evaluate_channels, holdout_day, last_day
from encore.recall.queries import QueryParams


@pytest.fixture(scope="module")
def holdout(recall_world, recall_batch):
    return holdout_day(recall_world.path, recall_batch, last_day(recall_world.path), params=QueryParams())


def test_co_listening_channels_beat_popularity_on_the_held_out_day(holdout):
    assert len(holdout.queries) > 50 and holdout.tables.item_graph is not None
    channels = [build_channel(c).fit(holdout.tables) for c in RecallConfig().enabled]
    results = evaluate_channels(channels, holdout.queries, holdout.truth, ks=(50, 200), new_truth=holdout.new_truth)
    popular = results["popular"]["recall@50"]
    assert results["item_cf"]["recall@50"] > popular
    assert results["session_knn"]["recall@50"] > popular
    assert results["profile"]["recall@50"] > 0
    for row in results.values():
        assert 0.0 <= row["recall@50"] <= row["recall@200"] <= 1.0

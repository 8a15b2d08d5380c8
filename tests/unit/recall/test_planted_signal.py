"""On a small generated world, the co-listening channels find the held-out day's
completed plays better than popularity (recall@50), and the evaluation reads the batch
tables from their on-disk layout."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.config import RecallConfig
from encore.recall import build_channel
from encore.recall.evaluate import evaluate_channels, holdout_day, last_day
from encore.recall.queries import QueryParams
from encore.recall.tables import read_events

from .helpers import item_graph_frame


@pytest.fixture(scope="module")
def holdout(recall_world, tmp_path_factory):
    test_day = last_day(recall_world.path)
    graph_day = test_day - timedelta(days=1)
    days = [date.fromisoformat(d) for d in recall_world.dates if date.fromisoformat(d) < test_day]
    graph = item_graph_frame(read_events(recall_world.path, days))
    batch = tmp_path_factory.mktemp("batch")
    folder = batch / "item_graph" / f"date={graph_day.isoformat()}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(graph, preserve_index=False), folder / "part-00000.parquet")
    return holdout_day(recall_world.path, batch, test_day, params=QueryParams())


def test_co_listening_channels_beat_popularity_on_the_held_out_day(holdout):
    assert len(holdout.queries) > 50 and holdout.tables.item_graph is not None
    channels = [build_channel(c).fit(holdout.tables) for c in RecallConfig().channels]
    results = evaluate_channels(channels, holdout.queries, holdout.truth, ks=(50, 200), new_truth=holdout.new_truth)
    popular = results["popular"]["recall@50"]
    assert results["item_cf"]["recall@50"] > popular
    assert results["session_knn"]["recall@50"] > popular
    assert results["profile"]["recall@50"] > 0
    for row in results.values():
        assert 0.0 <= row["recall@50"] <= row["recall@200"] <= 1.0

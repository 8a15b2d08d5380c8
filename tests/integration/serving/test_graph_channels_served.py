"""The knowledge-graph and similar-listener channels served over gRPC on 127.0.0.1:
DailyRecommend explains kg_walk items by their path and similar_listeners items by the
listeners like you; RecommendArtists answers from both with reasons."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import ChannelConfig
from encore.recall.registry import build_channel
from encore.serving.client import RecommenderClient
from encore.serving.grpc_server import start_server
from encore.serving.pipeline import Pipeline
from encore.serving.recommender_service import recommender_service
from testkit import serving as kit

pytestmark = pytest.mark.integration

# A knowledge graph over the kit catalog (album = (track - 100) // 2, artist = (track - 100) // 4):
# show 0 is the soundtrack of tracks 112 (artist 3) and 150 (artist 12); artists 4 and 13 sang in
# variety season 1. Listener 3 plays tracks 112..119 (artists 3, 4) and 103.
SHOW, SEASON = "Midnight Diner OST", "Singer 2026"


def triples() -> pd.DataFrame:
    t = kit.TRACKS
    rows = [(f"track:{x}", "in_album", f"album:{(x - 100) // 2}") for x in t]
    rows += [(f"album:{a}", "by_artist", f"artist:{a // 2}") for a in range(30)]
    rows += [("track:112", "soundtrack_of", "show:0"), ("track:150", "soundtrack_of", "show:0"),
             ("artist:4", "appeared_in", "show:1"), ("artist:13", "appeared_in", "show:1")]
    return pd.DataFrame(rows, columns=["head", "relation", "tail"])


@pytest.fixture(scope="module")
def served():
    graph = [ChannelConfig(name="kg_walk", kind="kg_walk", k=40, quota=20, deadline_ms=2000,
                           params={"path_weights": {"album": 0.1, "artist": 0.1, "soundtrack": 1.0, "season": 1.0}}),
             ChannelConfig(name="similar_listeners", kind="similar_listeners", k=40, quota=20, deadline_ms=2000)]
    recall = kit.recall_config(extra=graph)
    names = pd.DataFrame({"entity": ["show:0", "show:1"], "name": [SHOW, SEASON]})
    tables = replace(kit.tables(), triples=triples(), entity_names=names)
    channels = {**kit.fitted_channels(recall), **{c.name: build_channel(c).fit(tables) for c in graph}}
    features = kit.FakeFeatures({3: kit.online_row(3, kit.user_tracks(3), now_ms=kit.AS_OF + kit.DAY)})
    pipeline = Pipeline(channels=channels, recall=recall, tracks=kit.catalog(), features=features,
                        config=kit.pipeline_config(daily_channels=["kg_walk", "similar_listeners", "popular"],
                                                   artist_channels=["kg_walk", "similar_listeners"]))
    server, port = start_server(recommender_service(pipeline), host="127.0.0.1", port=0, max_workers=4)
    client = RecommenderClient(f"127.0.0.1:{port}", timeout_s=10)
    yield client
    client.close()
    server.stop(0)
    pipeline.close()


def test_daily_recommend_explains_kg_items_by_their_path(served) -> None:
    answer = served.daily_recommend(user_id=3, count=20)
    assert answer.degraded_channels == ()
    by_id = {i.id: i for i in answer.items}
    # 150 shares only the show's soundtrack with 112; 152 is by artist 13, who sang in the season with artist 4
    assert by_id[150].explanation == f"Because you played track 112 from the soundtrack of {SHOW}"
    assert "kg_walk" in by_id[150].channels
    assert by_id[152].explanation == f"Because you played track 119 by artist 4, who appeared in {SEASON} with this artist"
    for item in answer.items:
        if item.channels == ("kg_walk",):
            assert item.explanation.startswith("Because you ")
        if item.channels == ("similar_listeners",):
            assert item.explanation.endswith("like you finished this")
    assert any("similar_listeners" in i.channels for i in answer.items)


def test_recommend_artists_answers_with_reasons_from_the_graph_and_the_listeners(served) -> None:
    answer = served.recommend_artists(user_id=3, count=8)
    assert len(answer.ids) == len(set(answer.ids)) > 0 and all(i.explanation for i in answer.items)
    by_id = {i.id: i for i in answer.items}
    assert SHOW in by_id[12].explanation and SEASON in by_id[13].explanation
    assert {c for i in answer.items for c in i.channels} == {"kg_walk", "similar_listeners"}
    assert any("like you finished" in i.explanation for i in answer.items)
    assert np.all([not i.is_repeat or i.explanation.startswith("You listen to them") for i in answer.items])

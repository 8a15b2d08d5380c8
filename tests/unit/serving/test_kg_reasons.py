"""DailyRecommend through the Pipeline with the ``kg_walk`` channel on: the items it
found are explained by their knowledge-graph path."""

from __future__ import annotations

import pandas as pd

from encore.platform.config import ChannelConfig, RecallConfig
from encore.recall import build_channel
from encore.serving.pipeline import DAILY, Pipeline, Request
from testkit import serving as kit


def kg_tables():
    """The serving kit's tables with a knowledge graph: albums and artists as in its
    catalog, and show 0 whose soundtrack ties track 112 (user 3 plays it) to 150, 151."""
    tracks = kit.catalog()
    triples = pd.concat([
        pd.DataFrame({"head": "track:" + tracks["track_id"].astype(str), "relation": "in_album",
                      "tail": "album:" + tracks["album_id"].astype(str)}),
        pd.DataFrame({"head": "album:" + tracks["album_id"].astype(str), "relation": "by_artist",
                      "tail": "artist:" + tracks["artist_id"].astype(str)}).drop_duplicates(),
        pd.DataFrame({"head": ["track:112", "track:150", "track:151"], "relation": "soundtrack_of", "tail": "show:0"}),
    ], ignore_index=True)
    base = kit.tables()
    return base.__class__(**{**{f: getattr(base, f) for f in base.__dataclass_fields__ if f != "derived"},
                             "triples": triples,
                             "entity_names": pd.DataFrame({"entity": ["show:0"], "name": ["Soundtrack 0"]})})


def test_daily_recommend_with_kg_walk_returns_path_reasons() -> None:
    config = RecallConfig(channels=[
        ChannelConfig(name="popular", kind="popularity", k=40, quota=20, deadline_ms=2000.0),
        ChannelConfig(name="kg_walk", kind="kg_walk", k=40, quota=30, deadline_ms=2000.0,
                      params={"path_weights": {"album": 1.0, "artist": 1.0, "soundtrack": 1.0}}),
    ])
    tables = kg_tables()
    channels = {c.name: build_channel(c).fit(tables) for c in config.channels}
    plays = kit.user_tracks(3)[:6]  # 112 .. 117
    pipe = Pipeline(channels=channels, recall=config, config=kit.pipeline_config(repeat_share=0.0),
                    tracks=kit.catalog(), features=kit.FakeFeatures({3: kit.online_row(3, plays=plays)}))
    result = pipe.recommend_one(Request(kind=DAILY, user_id=3, count=10, request_ms=kit.AS_OF))
    reasons = {i.track_id: i.reason for i in result.items if "kg_walk" in i.channels}
    assert reasons.get(150) == "Because you played track 112 from the soundtrack of Soundtrack 0"
    assert reasons.get(151) == "Because you played track 112 from the soundtrack of Soundtrack 0"
    assert reasons.get(118, "").startswith("Because you played track 11")  # artist 4, via track 116 or 117
    assert "by artist 4" in reasons.get(118, "")

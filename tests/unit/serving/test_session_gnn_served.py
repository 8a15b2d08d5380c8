"""The session GNN channel in the serving Pipeline: off by default; switched on, it
answers NextTrack from the request's session (beside session-kNN) and feeds
DailyRecommend's candidates from the listener's recent plays."""

from __future__ import annotations

import pytest

from encore.platform.config import ChannelConfig, load_config
from encore.recall import build_channel
from encore.serving.pipeline import DAILY, NEXT_TRACK, Pipeline, Request
from testkit import serving as kit

GNN = ChannelConfig(name="session_gnn", kind="session_gnn", k=40, quota=30, deadline_ms=5000.0,
                    params={"hidden": 8, "epochs": 2, "batch_size": 32, "max_train_pairs": 2000})


def test_off_by_default_but_listed_for_next_track():
    config = load_config()
    assert not config.recall.channel("session_gnn").enabled
    assert "session_gnn" in config.pipeline.next_track_channels


@pytest.mark.slow
def test_switched_on_it_serves_next_track_and_daily():
    recall = kit.recall_config(extra=[GNN])
    channels = {**kit.fitted_channels(recall), "session_gnn": build_channel(GNN).fit(kit.tables())}
    pipe = Pipeline(channels=channels, recall=recall, config=kit.pipeline_config(max_per_artist=50),
                    tracks=kit.catalog(), features=None)
    try:
        session = (108, 109, 110, 111)
        radio = pipe.recommend_one(Request(kind=NEXT_TRACK, session_id="s1", recent_track_ids=session, count=20,
                                           request_ms=kit.AS_OF))
        used = {c for i in radio.items for c in i.channels}
        assert {"session_gnn", "session_knn"} <= used and not radio.degraded_channels
        assert not set(session) & set(radio.track_ids)
        row = kit.online_row(3, plays=kit.user_tracks(3)[:6])
        pipe.features = kit.FakeFeatures({3: row})
        daily = pipe.recommend_one(Request(kind=DAILY, user_id=3, count=20, request_ms=kit.AS_OF))
        assert "session_gnn" in {c for i in daily.items for c in i.channels}
    finally:
        pipe.close()

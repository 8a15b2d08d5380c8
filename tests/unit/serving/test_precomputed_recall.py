"""A channel configured ``precomputed: true``: daily requests of known listeners are
answered from the online recall table (``encore batch recall --push``), a listener it
lacks and every other request kind live, an unreadable table live."""

from __future__ import annotations

import numpy as np
import pytest

from encore.feature_store.recall_store import RecallStore
from encore.platform.config import ChannelConfig, RecallConfig
from encore.serving.pipeline import DAILY, NEXT_TRACK, Pipeline, Request
from testkit import serving as kit

STORED = [159, 158, 157, 156, 155, 154]  # the least popular tracks: never popularity's first picks


@pytest.fixture()
def pipe(tmp_path):
    recall = RecallConfig(channels=[ChannelConfig(name="popular", kind="popularity", k=6, quota=6, precomputed=True)])
    channels = {"popular": kit.fitted_channels(recall)["popular"]}
    store = RecallStore(tmp_path / "recall.db")
    store.write("popular", "2026-01-05", "v0001", [(3, STORED, np.linspace(1.0, 0.5, 6))])
    pipeline = Pipeline(channels=channels, recall=recall, tracks=kit.catalog(), precomputed=store,
                        config=kit.pipeline_config(daily_channels=["popular"], next_track_channels=["popular"],
                                                   max_per_artist=50, repeat_share=1.0))
    yield pipeline, channels["popular"]
    pipeline.close()


def _daily(user: int) -> Request:
    return Request(kind=DAILY, user_id=user, count=6, request_ms=kit.AS_OF)


def test_a_stored_listener_gets_the_stored_list_and_a_missing_one_the_live_channel(pipe) -> None:
    pipeline, live = pipe
    stored, missing = pipeline.recommend([_daily(3), _daily(4)])
    assert stored.track_ids == STORED  # the table's order, not popularity's
    live_top = live.recall([pipeline._prepare([_daily(4)])[0][0].recall_query], 6)[0].track_ids.tolist()
    assert missing.track_ids == live_top and set(live_top).isdisjoint(STORED)
    assert stored.degraded_channels == missing.degraded_channels == ()


def test_other_request_kinds_are_answered_live(pipe) -> None:
    pipeline, _ = pipe
    radio = Request(kind=NEXT_TRACK, user_id=3, recent_track_ids=(100,), count=6, request_ms=kit.AS_OF)
    assert set(pipeline.recommend_one(radio).track_ids).isdisjoint(STORED)


def test_an_unreadable_table_means_live(pipe) -> None:
    pipeline, _ = pipe
    pipeline.precomputed = RecallStoreThatFails()
    result = pipeline.recommend_one(_daily(3))
    assert len(result.track_ids) == 6 and set(result.track_ids).isdisjoint(STORED)
    assert result.degraded_channels == ()


class RecallStoreThatFails:
    def get(self, channel, user_ids):
        raise OSError("disk gone")


def test_from_config_opens_the_table_only_for_precomputed_channels(tmp_path) -> None:
    from encore.platform.config import EncoreConfig
    from encore.platform.registry import Registry

    def pipeline(precomputed: bool) -> Pipeline:
        recall = RecallConfig(channels=[ChannelConfig(name="popular", kind="popularity", k=6, quota=6,
                                                      precomputed=precomputed)])
        config = EncoreConfig.model_validate({"recall": recall.model_dump(), "paths": {"runtime_dir": str(tmp_path)},
                                              "batch": {"recall": {"online_path": str(tmp_path / "r.db")}}})
        return Pipeline.from_config(config, Registry(tmp_path / "models"), kit.catalog(), poll=False)

    live_only, stored = pipeline(False), pipeline(True)
    assert live_only.precomputed is None
    assert isinstance(stored.precomputed, RecallStore) and stored.precomputed.path == tmp_path / "r.db"
    live_only.close()
    stored.close()

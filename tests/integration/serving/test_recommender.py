"""The Recommender over gRPC on a real socket (127.0.0.1): answers, degradation,
validation errors, hot swap under load and a corrupt artifact refused."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import numpy as np
import pytest

from encore.platform.config import ChannelConfig, EncoreConfig, RegistryConfig
from encore.platform.registry import Registry
from encore.serving.client import RecommenderClient
from encore.serving.grpc_server import start_server
from encore.serving.pipeline import FEATURE_STORE, Pipeline
from encore.serving.recommender_service import recommender_service
from testkit import serving as kit

pytestmark = pytest.mark.integration


def serve(pipeline: Pipeline):
    server, port = start_server(recommender_service(pipeline), host="127.0.0.1", port=0, max_workers=8)
    return server, RecommenderClient(f"127.0.0.1:{port}", timeout_s=10)


@pytest.fixture(scope="module")
def served():
    recall = kit.recall_config(extra=[
        ChannelConfig(name="broken", kind="popularity", k=5, quota=5, deadline_ms=1000),
        ChannelConfig(name="slow", kind="popularity", k=5, quota=5, deadline_ms=30),
    ])
    channels = {**kit.fitted_channels(), "broken": kit.RaisingChannel(recall.channel("broken")),
                "slow": kit.SleepingChannel(recall.channel("slow"), seconds=5.0)}
    features = kit.FakeFeatures({3: kit.online_row(3, kit.user_tracks(3)[:6], skips=[121, 122],
                                                   now_ms=kit.AS_OF + 3 * kit.DAY)})
    pipeline = Pipeline(channels=channels, recall=recall, config=kit.pipeline_config(), tracks=kit.catalog(),
                        features=features)
    server, client = serve(pipeline)
    yield client
    client.close()
    server.stop(0)
    pipeline.close()


def test_daily_recommend_has_the_count_without_duplicates_skips_or_exclusions(served) -> None:
    answer = served.daily_recommend(user_id=3, count=12, exclude_track_ids=[120, 123])
    assert len(answer.ids) == 12 and len(set(answer.ids)) == 12
    assert not {120, 121, 122, 123} & set(answer.ids)  # excluded and recently skipped
    assert set(answer.degraded_channels) == {"broken", "slow"}  # failing and late: dropped, listed
    assert answer.request_id and answer.model_version == "merged-score"
    assert all(i.channels and i.explanation for i in answer.items)
    assert np.bincount((np.array(answer.ids) - 100) // 4).max() <= 2


def test_unknown_user_and_anonymous_get_the_fallback(served) -> None:
    for answer in (served.daily_recommend(user_id=777, count=5), served.daily_recommend(anonymous_id="dev-1", count=5)):
        assert len(answer.ids) == 5 and not any(i.is_repeat for i in answer.items)


def test_next_track_similar_and_artists(served) -> None:
    radio = served.next_track([108, 109, 110], skipped_track_ids=[110], session_id="s-1", count=5)
    assert radio.ids and not {108, 109, 110} & set(radio.ids)
    similar = served.similar_tracks(112, count=4)
    assert similar.ids and 112 not in similar.ids and all(i.channels == ("item_cf",) for i in similar.items)
    artists = served.recommend_artists(user_id=3, count=4, exclude_artist_ids=[2])
    assert len(artists.ids) == 4 and 2 not in artists.ids and all(i.explanation for i in artists.items)


@pytest.mark.parametrize("call, code, field", [
    (lambda c: c.daily_recommend(user_id=3, count=-1), grpc.StatusCode.INVALID_ARGUMENT, "count"),
    (lambda c: c.daily_recommend(user_id=3, count=10_000), grpc.StatusCode.INVALID_ARGUMENT, "count"),
    (lambda c: c.daily_recommend(count=5), grpc.StatusCode.INVALID_ARGUMENT, "subject"),
    (lambda c: c.daily_recommend(user_id=-4), grpc.StatusCode.INVALID_ARGUMENT, "user_id"),
    (lambda c: c.daily_recommend(anonymous_id="x" * 500), grpc.StatusCode.INVALID_ARGUMENT, "anonymous_id"),
    (lambda c: c.daily_recommend(user_id=3, exclude_track_ids=[5, -1]), grpc.StatusCode.INVALID_ARGUMENT,
     "exclude_track_ids[1]"),
    (lambda c: c.daily_recommend(user_id=3, local_hour=25), grpc.StatusCode.INVALID_ARGUMENT, "local_hour"),
    (lambda c: c.next_track([]), grpc.StatusCode.INVALID_ARGUMENT, "recent_track_ids"),
    (lambda c: c.next_track(list(range(1, 1000))), grpc.StatusCode.INVALID_ARGUMENT, "recent_track_ids"),
    (lambda c: c.similar_tracks(-3), grpc.StatusCode.INVALID_ARGUMENT, "track_id"),
    (lambda c: c.similar_tracks(0), grpc.StatusCode.NOT_FOUND, "track_id 0"),
    (lambda c: c.similar_tracks(99_999), grpc.StatusCode.NOT_FOUND, "track_id 99999"),
])
def test_invalid_requests_fail_with_a_message_naming_the_field(served, call, code, field) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(served)
    assert err.value.code() == code
    assert field in err.value.details()


def test_feature_store_down_is_a_degraded_answer(tmp_path: Path) -> None:
    pipeline = Pipeline(channels=kit.fitted_channels(), recall=kit.recall_config(), config=kit.pipeline_config(),
                        tracks=kit.catalog(), features=kit.FakeFeatures(down=True))
    server, client = serve(pipeline)
    try:
        answer = client.daily_recommend(user_id=3, count=6)
    finally:
        client.close(), server.stop(0), pipeline.close()
    assert len(answer.ids) == 6 and FEATURE_STORE in answer.degraded_channels
    assert {c for i in answer.items for c in i.channels} <= {"popular", "trending"}


def _publish_channels(registry: Registry, channels, tmp: Path) -> None:
    for name, channel in channels.items():
        version = registry.publish(f"recall.{name}", channel.save(tmp / name / "art"), kind=f"recall/{channel.kind}")
        registry.promote(f"recall.{name}", version)


def test_promote_under_load_fails_no_request_and_a_corrupt_artifact_is_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    recall = kit.recall_config()
    _publish_channels(registry, kit.fitted_channels(recall), tmp_path / "v1")
    config = EncoreConfig(recall=recall, pipeline=kit.pipeline_config(),
                          registry=RegistryConfig(root=tmp_path / "models", poll_interval_s=0.05))
    pipeline = Pipeline.from_config(config, registry, kit.catalog(), poll=True)
    live = pipeline.channels["item_cf"]
    assert live.version == "v0001"
    server, client = serve(pipeline)
    failures, answers, stop = [], [], threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answers.append(client.next_track([108, 109], count=5).ids)
            except grpc.RpcError as err:  # pragma: no cover - the assertion below reports it
                failures.append(err)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        while len(answers) < 20:
            threads[0].join(0.01)
        # a new version (fitted on the same tables) promoted while requests run
        v2 = registry.publish("recall.item_cf", kit.fitted_channels(recall)["item_cf"].save(tmp_path / "v2"),
                              kind="recall/item_cf")
        registry.promote("recall.item_cf", v2)
        while live.version != v2:
            threads[0].join(0.01)
        seen = len(answers)
        while len(answers) < seen + 20:
            threads[0].join(0.01)
        # a corrupt artifact reaching PROMOTED (checks skipped) is refused; v2 keeps serving
        v3 = registry.publish("recall.item_cf", kit.fitted_channels(recall)["item_cf"].save(tmp_path / "v3"),
                              kind="recall/item_cf")
        (registry.path("recall.item_cf", v3) / "arrays.npz").write_bytes(b"not a numpy archive")
        registry.promote("recall.item_cf", v3, verify=False)
        while live.refused != v3:
            threads[0].join(0.01)
        seen = len(answers)
        while len(answers) < seen + 20:
            threads[0].join(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        client.close(), server.stop(0), pipeline.close()
    assert failures == []
    assert live.version == v2 and "refused" in str(live.last_error)
    assert all(ids for ids in answers)  # every answer had tracks

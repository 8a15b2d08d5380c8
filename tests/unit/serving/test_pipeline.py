"""The Pipeline on tiny fitted channels: lists of the requested length without
duplicates, blocked or excluded tracks; late and failing channels dropped and reported;
an unreachable feature store answered from popularity; the batched offline path equal
to the per-request one."""

from __future__ import annotations

import numpy as np
import pytest

from encore.platform.config import ChannelConfig
from encore.recall.query import Context, Query
from encore.serving.pipeline import (
    DAILY, FEATURE_STORE, MERGED_SCORE, NEXT_TRACK, SIMILAR, NotFound, Pipeline, Request, TrackStats,
)
from testkit import serving as kit


@pytest.fixture(scope="module")
def parts():
    return kit.recall_config(), kit.fitted_channels(), kit.catalog()


def make(parts, features=None, extra_channels=None, recall=None, **cfg) -> Pipeline:
    recall_cfg, channels, tracks = parts
    return Pipeline(channels={**channels, **(extra_channels or {})}, recall=recall or recall_cfg,
                    config=kit.pipeline_config(**cfg), tracks=tracks, features=features)


def test_daily_list_has_the_count_no_duplicates_no_skipped_or_excluded(parts) -> None:
    row = kit.online_row(3, plays=kit.user_tracks(3)[:6], skips=[121, 122])
    pipe = make(parts, features=kit.FakeFeatures({3: row}))
    result = pipe.recommend_one(Request(kind=DAILY, user_id=3, count=12, request_ms=kit.AS_OF,
                                        exclude_ids=(120, 123)))
    ids = result.track_ids
    assert len(ids) == 12 and len(set(ids)) == 12
    assert not {120, 121, 122, 123} & set(ids)
    assert result.degraded_channels == () and result.model_version == MERGED_SCORE
    assert all(item.channels for item in result.items)
    assert {"features", "recall", "recall.item_cf", "merge", "rank", "rerank", "total"} <= set(result.timings_ms)
    artists = (np.array(ids) - 100) // 4
    assert np.bincount(artists).max() <= 2  # artist spread (15 artists are enough for 12 slots)
    played = set(kit.user_tracks(3)[:6])
    assert [i.is_repeat for i in result.items] == [i.track_id in played for i in result.items]
    assert any(i.is_repeat for i in result.items) and not all(i.is_repeat for i in result.items)
    assert "item_cf" in {c for i in result.items for c in i.channels}  # the history was used


def test_a_disliked_track_is_never_returned_even_when_a_channel_ranks_it_first(parts) -> None:
    recall_cfg, channels, _ = parts
    plays = kit.user_tracks(3)[:6]
    row = kit.online_row(3, plays=plays)
    pipe = make(parts, features=kit.FakeFeatures({3: row}), daily_channels=["popular"],
                next_track_channels=["popular"], max_per_artist=50)
    listener = Query(context=Context(request_ms=kit.AS_OF, local_hour=0), user_id=3)
    top = int(channels["popular"].recall([listener], 5)[0].track_ids[0])  # the channel's first
    daily = Request(kind=DAILY, user_id=3, count=10, request_ms=kit.AS_OF)
    radio = Request(kind=NEXT_TRACK, user_id=3, recent_track_ids=tuple(plays[:2]), count=10, request_ms=kit.AS_OF)
    assert top in pipe.recommend_one(daily).track_ids  # without the dislike it is served
    assert top in pipe.recommend_one(radio).track_ids

    disliked = dict(row, recent_dislike_track_ids=[plays[0], top])  # as the stream pushes it
    pipe = make(parts, features=kit.FakeFeatures({3: disliked}), daily_channels=["popular"],
                next_track_channels=["popular"], max_per_artist=50)
    for request in (daily, radio, Request(kind=DAILY, user_id=3, count=40, request_ms=kit.AS_OF)):
        ids = pipe.recommend_one(request).track_ids
        assert ids and top not in ids and plays[0] not in ids
    pipe.close()


def test_a_failing_and_a_late_channel_are_dropped_and_listed(parts) -> None:
    recall_cfg = kit.recall_config(extra=[
        ChannelConfig(name="broken", kind="popularity", k=5, quota=5, deadline_ms=1000),
        ChannelConfig(name="slow", kind="popularity", k=5, quota=5, deadline_ms=20),
    ])
    extra = {"broken": kit.RaisingChannel(recall_cfg.channel("broken")),
             "slow": kit.SleepingChannel(recall_cfg.channel("slow"), seconds=3.0)}
    pipe = make(parts, extra_channels=extra, recall=recall_cfg)
    try:
        result = pipe.recommend_one(Request(kind=DAILY, anonymous_id="a1", count=8, request_ms=kit.AS_OF))
    finally:
        pipe.close()
    assert set(result.degraded_channels) == {"broken", "slow"}
    assert len(result.items) == 8
    assert not {"broken", "slow"} & {c for i in result.items for c in i.channels}


def test_feature_store_down_gives_a_popularity_answer_not_an_error(parts) -> None:
    features = kit.FakeFeatures(down=True)
    result = make(parts, features=features).recommend_one(Request(kind=DAILY, user_id=5, count=10,
                                                                   request_ms=kit.AS_OF))
    assert features.calls == 1
    assert FEATURE_STORE in result.degraded_channels
    assert len(result.items) == 10
    assert {c for i in result.items for c in i.channels} <= {"popular", "trending"}


def test_next_track_from_the_session_alone_skips_as_negatives(parts) -> None:
    pipe = make(parts)
    session = (108, 109, 110, 111)
    result = pipe.recommend_one(Request(kind=NEXT_TRACK, session_id="s1", recent_track_ids=session,
                                        skipped_track_ids=(111,), count=6, request_ms=kit.AS_OF))
    ids = result.track_ids
    assert 0 < len(ids) <= 6 and len(set(ids)) == len(ids)
    assert not set(session) & set(ids)  # neither the session's tracks nor the skip
    assert {"session_knn", "item_cf"} & {c for i in result.items for c in i.channels}


def test_similar_tracks_are_item_cf_neighbours_and_unknown_seed_is_not_found(parts) -> None:
    pipe = make(parts)
    result = pipe.recommend_one(Request(kind=SIMILAR, seed_track_id=112, count=5, request_ms=kit.AS_OF))
    assert result.track_ids and 112 not in result.track_ids
    assert all(i.channels == ("item_cf",) and not i.is_repeat for i in result.items)
    with pytest.raises(NotFound, match="track_id 999"):
        pipe.recommend_one(Request(kind=SIMILAR, seed_track_id=999, request_ms=kit.AS_OF))


def test_batched_offline_path_equals_the_per_request_path(parts) -> None:
    pipe = make(parts)
    queries = [Query(context=Context(request_ms=kit.AS_OF, local_hour=9, scenario="daily_recommend"), user_id=u,
                     play_track_ids=tuple(kit.user_tracks(u)[:5]),
                     play_ts_ms=tuple(kit.AS_OF - 3_600_000 + i for i in range(5))) for u in (1, 2, 7)]
    requests = [Request(kind=DAILY, user_id=q.user_id, query=q, count=7) for q in queries]
    batched = pipe.recommend(requests)
    single = [pipe.recommend_one(r) for r in requests]
    assert [r.track_ids for r in batched] == [r.track_ids for r in single]
    assert all(len(r.items) == 7 for r in batched)


def test_recommend_artists_aggregates_tracks_by_artist(parts) -> None:
    row = kit.online_row(4, plays=kit.user_tracks(4)[:6])
    pipe = make(parts, features=kit.FakeFeatures({4: row}))
    result = pipe.recommend_artists([Request(user_id=4, count=5, request_ms=kit.AS_OF, exclude_ids=(5,))])[0]
    artists = [i.track_id for i in result.items]
    assert len(artists) == 5 and len(set(artists)) == 5 and 5 not in artists
    assert all(0 <= a < 15 and i.reason and i.channels for a, i in zip(artists, result.items))
    assert any(i.is_repeat for i in result.items)  # artists of the tracks played


class PathChannel(kit.RaisingChannel):
    """Answers fixed candidates with per-candidate sentences, like kg_walk's paths."""

    kind = "kg_walk"

    def recall(self, queries, k):
        from encore.recall.channel import Candidates

        found = Candidates(np.array([150, 151, 130], np.int64), np.array([3.0, 2.0, 1.0], np.float32),
                           np.array([0, 1, 1], np.int16), ("soundtrack|112|show:0", "season|113|show:1"),
                           ("Because you played track 112 from the soundtrack of Show A",
                            "Because you played track 113: its artist and this one appeared in Season B"))
        return [found for _ in queries]


def test_artist_reasons_come_from_the_best_track_of_each_artist(parts) -> None:
    recall = kit.recall_config(extra=[ChannelConfig(name="kg_walk", kind="kg_walk", k=10, quota=10)])
    pipe = make(parts, recall=recall, extra_channels={"kg_walk": PathChannel(recall.channel("kg_walk"))},
                artist_channels=["kg_walk"])
    result = pipe.recommend_artists([Request(user_id=4, count=5, request_ms=kit.AS_OF)])[0]
    # tracks 150, 151 are artist 12's (the better one, 150, explains it), 130 is artist 7's
    assert [(i.track_id, i.reason) for i in result.items] == [
        (12, "Because you played track 112 from the soundtrack of Show A (2 of their tracks for you)"),
        (7, "Because you played track 113: its artist and this one appeared in Season B (1 of their tracks for you)")]
    assert all(i.channels == ("kg_walk",) for i in result.items)


def test_track_stats_from_events_by_the_item_stats_rule() -> None:
    stats = TrackStats.from_events(kit.events(), kit.catalog()).lookup(np.array([100, 999]))
    assert stats["track_plays"][0] > 0 and np.isnan(stats["track_plays"][1])
    assert stats["track_completion_rate"][0] == 1.0  # every play_end here is complete

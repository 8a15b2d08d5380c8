"""A real gRPC server on loopback answers the Recommender contract end to end.

This checks the wire contract only; the servicer here is a trivial stand-in for the
serving implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from encore.protos.encore.v1 import event_pb2, recommender_pb2, recommender_pb2_grpc


class EchoRecommender(recommender_pb2_grpc.RecommenderServicer):
    """Answers DailyRecommend with `count` made-up tracks; other methods stay unimplemented."""

    def __init__(self) -> None:
        self.requests: list[recommender_pb2.DailyRecommendRequest] = []

    def DailyRecommend(self, request, context):
        self.requests.append(request)
        excluded = set(request.exclude_track_ids)
        tracks = [t for t in range(1, request.count + len(excluded) + 1) if t not in excluded][: request.count]
        return recommender_pb2.RecommendResponse(
            request_id=f"req-{request.user_id}",
            items=[
                recommender_pb2.RecommendedItem(
                    track_id=track,
                    score=1.0 / rank,
                    channels=["item_cf", "mind"],
                    is_repeat=track % 2 == 0,
                    explanation="Because you played Track 1",
                    debug_scores={"rank.din": 0.5} if request.debug else {},
                )
                for rank, track in enumerate(tracks, start=1)
            ],
            model_version="test-1",
            degraded_channels=["kg_walk"],
        )


@pytest.fixture
def servicer() -> EchoRecommender:
    return EchoRecommender()


@pytest.fixture
def stub(servicer: EchoRecommender) -> Iterator[recommender_pb2_grpc.RecommenderStub]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    recommender_pb2_grpc.add_RecommenderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield recommender_pb2_grpc.RecommenderStub(channel)
    finally:
        server.stop(grace=None)


def test_daily_recommend_round_trip(stub: recommender_pb2_grpc.RecommenderStub, servicer: EchoRecommender) -> None:
    request = recommender_pb2.DailyRecommendRequest(
        user_id=2**62,
        count=3,
        context=recommender_pb2.Context(local_hour=0, utc_offset_minutes=480, scenario=event_pb2.DAILY_RECOMMEND),
        exclude_track_ids=[2],
        debug=True,
    )

    response = stub.DailyRecommend(request, timeout=10)

    assert servicer.requests == [request]
    assert servicer.requests[0].context.HasField("local_hour")  # hour 0 is distinguishable from unset
    assert response.request_id == f"req-{2**62}"
    assert [item.track_id for item in response.items] == [1, 3, 4]
    assert [item.is_repeat for item in response.items] == [False, False, True]
    assert response.items[0].score == pytest.approx(1.0)
    assert list(response.items[0].channels) == ["item_cf", "mind"]
    assert dict(response.items[0].debug_scores) == {"rank.din": 0.5}
    assert response.model_version == "test-1"
    assert list(response.degraded_channels) == ["kg_walk"]


def test_unimplemented_method_is_reachable_and_reports_unimplemented(
    stub: recommender_pb2_grpc.RecommenderStub,
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.NextTrack(recommender_pb2.NextTrackRequest(anonymous_id="anon-1", recent_track_ids=[5]), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED

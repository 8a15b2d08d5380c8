"""A small Python client of the Recommender service, returning plain dataclasses.

    with RecommenderClient("127.0.0.1:50051", timeout_s=2.0) as client:
        answer = client.daily_recommend(user_id=42, count=30)
        for item in answer.items:
            print(item.track_id, item.channels, item.is_repeat, item.explanation)
        radio = client.next_track(recent_track_ids=[101, 102, 103], skipped_track_ids=[102])

Every call takes ``timeout_s`` (default: the client's). Failures raise
``grpc.RpcError`` as usual (``err.code()``, ``err.details()``): INVALID_ARGUMENT for a
malformed request (the details name the field), NOT_FOUND for an unknown seed track,
DEADLINE_EXCEEDED past the timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from encore.protos.encore.v1 import recommender_pb2, recommender_pb2_grpc


@dataclass(frozen=True)
class Recommended:
    """One track (``id`` is the track id) or artist (the artist id)."""

    id: int
    score: float
    channels: tuple[str, ...]
    is_repeat: bool
    explanation: str
    debug_scores: dict[str, float] = field(default_factory=dict)

    @property
    def track_id(self) -> int:
        return self.id


@dataclass(frozen=True)
class Answer:
    request_id: str
    items: list[Recommended]
    model_version: str
    degraded_channels: tuple[str, ...]

    @property
    def ids(self) -> list[int]:
        return [i.id for i in self.items]


def _context(local_hour: int | None, utc_offset_minutes: int | None) -> recommender_pb2.Context:
    ctx = recommender_pb2.Context()
    if local_hour is not None:
        ctx.local_hour = local_hour
    if utc_offset_minutes is not None:
        ctx.utc_offset_minutes = utc_offset_minutes
    return ctx


def _subject(user_id: int | None, anonymous_id: str | None) -> dict:
    if user_id is not None:
        return {"user_id": user_id}
    if anonymous_id is not None:
        return {"anonymous_id": anonymous_id}
    return {}


def _answer(reply, items) -> Answer:
    return Answer(reply.request_id, [Recommended(
        getattr(i, "track_id", 0) or getattr(i, "artist_id", 0), i.score, tuple(i.channels), i.is_repeat,
        i.explanation, dict(i.debug_scores)) for i in items], reply.model_version, tuple(reply.degraded_channels))


class RecommenderClient:
    """Calls ``encore.v1.Recommender`` at ``target`` (``host:port``)."""

    def __init__(self, target: str, *, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._channel = grpc.insecure_channel(target)
        self._stub = recommender_pb2_grpc.RecommenderStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "RecommenderClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        grpc.channel_ready_future(self._channel).result(timeout=timeout_s)

    def daily_recommend(self, user_id: int | None = None, anonymous_id: str | None = None, *, count: int = 0,
                        exclude_track_ids: Sequence[int] = (), local_hour: int | None = None,
                        utc_offset_minutes: int | None = None, debug: bool = False,
                        timeout_s: float | None = None) -> Answer:
        reply = self._stub.DailyRecommend(recommender_pb2.DailyRecommendRequest(
            **_subject(user_id, anonymous_id), count=count, exclude_track_ids=list(exclude_track_ids),
            context=_context(local_hour, utc_offset_minutes), debug=debug), timeout=timeout_s or self.timeout_s)
        return _answer(reply, reply.items)

    def next_track(self, recent_track_ids: Sequence[int], *, user_id: int | None = None,
                   anonymous_id: str | None = None, session_id: str = "", skipped_track_ids: Sequence[int] = (),
                   hearted_track_ids: Sequence[int] = (), count: int = 0, exclude_track_ids: Sequence[int] = (),
                   local_hour: int | None = None, debug: bool = False, timeout_s: float | None = None) -> Answer:
        reply = self._stub.NextTrack(recommender_pb2.NextTrackRequest(
            **_subject(user_id, anonymous_id), session_id=session_id, recent_track_ids=list(recent_track_ids),
            skipped_track_ids=list(skipped_track_ids), hearted_track_ids=list(hearted_track_ids), count=count,
            exclude_track_ids=list(exclude_track_ids), context=_context(local_hour, None), debug=debug),
            timeout=timeout_s or self.timeout_s)
        return _answer(reply, reply.items)

    def similar_tracks(self, track_id: int, *, user_id: int | None = None, anonymous_id: str | None = None,
                       count: int = 0, exclude_track_ids: Sequence[int] = (), debug: bool = False,
                       timeout_s: float | None = None) -> Answer:
        reply = self._stub.SimilarTracks(recommender_pb2.SimilarTracksRequest(
            **_subject(user_id, anonymous_id), track_id=track_id, count=count,
            exclude_track_ids=list(exclude_track_ids), debug=debug), timeout=timeout_s or self.timeout_s)
        return _answer(reply, reply.items)

    def recommend_artists(self, user_id: int | None = None, anonymous_id: str | None = None, *, count: int = 0,
                          exclude_artist_ids: Sequence[int] = (), debug: bool = False,
                          timeout_s: float | None = None) -> Answer:
        reply = self._stub.RecommendArtists(recommender_pb2.RecommendArtistsRequest(
            **_subject(user_id, anonymous_id), count=count, exclude_artist_ids=list(exclude_artist_ids),
            debug=debug), timeout=timeout_s or self.timeout_s)
        return _answer(reply, reply.artists)

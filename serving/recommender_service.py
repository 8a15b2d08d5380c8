"""The ``encore.v1.Recommender`` gRPC service over the one :class:`~encore.serving.pipeline.Pipeline`.

Each rpc validates its request, converts it to a pipeline ``Request``, runs
``Pipeline.recommend_one`` (channels under their deadlines) or ``recommend_artists`` and
converts the ``Result`` back:

- ``DailyRecommend``: a user id or an anonymous id is required;
- ``NextTrack``: ``recent_track_ids`` must hold 1..``pipeline.max_session_tracks`` ids;
  a user id personalises, none serves the session alone;
- ``SimilarTracks``: ``track_id`` required; a track not in the catalog is NOT_FOUND;
- ``RecommendArtists``: a user id or an anonymous id is required.

INVALID_ARGUMENT (the message names the field) for: a negative count or one above
``pipeline.max_count``; a negative id (user, track, excluded, session tracks; 0 is a
valid id, so an unset ``SimilarTracks.track_id`` is looked up as track 0 and is
NOT_FOUND unless the catalog has it); an empty or
over-long (``pipeline.max_id_chars``) or non-printable anonymous / session id; more than
``pipeline.max_exclude_ids`` excluded ids; ``local_hour`` outside 0..23; an offset
beyond +-14 h. An unknown user is no error (profile / popularity fallback), nor is a
channel that fails or is late (``degraded_channels``), nor an unreachable feature store.
Anything unexpected is INTERNAL with the error's text; the server keeps running.

Prometheus metrics (served by ``encore serve --metrics-port``):
``encore_recommender_rpc_seconds{rpc}``, ``encore_recommender_stage_seconds{stage}``
(features, recall, merge, rank, rerank), ``encore_recommender_channel_seconds{channel}``,
``encore_recommender_degraded_total{channel}`` and
``encore_recommender_errors_total{rpc,code}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import grpc
from prometheus_client import Counter, Histogram

from encore.platform.config import PipelineConfig
from encore.protos.encore.v1 import event_pb2, recommender_pb2, recommender_pb2_grpc
from encore.serving.grpc_server import Service
from encore.serving.pipeline import ARTISTS, DAILY, NEXT_TRACK, SIMILAR, NotFound, Pipeline, Request, Result

log = logging.getLogger(__name__)

SERVICE_NAME = recommender_pb2.DESCRIPTOR.services_by_name["Recommender"].full_name
MAX_OFFSET_MINUTES = 14 * 60
_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
RPC_SECONDS = Histogram("encore_recommender_rpc_seconds", "Recommender rpc latency.", ["rpc"], buckets=_BUCKETS)
STAGE_SECONDS = Histogram("encore_recommender_stage_seconds", "Pipeline stage latency.", ["stage"],
                          buckets=_BUCKETS)
CHANNEL_SECONDS = Histogram("encore_recommender_channel_seconds", "Recall channel latency.", ["channel"],
                            buckets=_BUCKETS)
DEGRADED = Counter("encore_recommender_degraded", "Requests answered without a channel (or the "
                   "feature store).", ["channel"])
ERRORS = Counter("encore_recommender_errors", "Recommender rpcs that failed.", ["rpc", "code"])
STAGES = ("features", "recall", "merge", "rank", "rerank")


class InvalidRequest(ValueError):
    """A malformed request; the message names the field."""


# ----------------------------------------------------------------------------- validation
def _count(count: int, config: PipelineConfig) -> int:
    if count < 0:
        raise InvalidRequest(f"count must be >= 0 (0: the server default {config.default_count}), got {count}")
    if count > config.max_count:
        raise InvalidRequest(f"count {count} exceeds the server maximum {config.max_count}")
    return count


def _text_id(name: str, value: str, config: PipelineConfig) -> str:
    if not value:
        raise InvalidRequest(f"{name} is empty")
    if len(value) > config.max_id_chars:
        raise InvalidRequest(f"{name} has {len(value)} characters; at most {config.max_id_chars}")
    if not value.isprintable():
        raise InvalidRequest(f"{name} holds non-printable characters")
    return value


def _ids(name: str, values: Iterable[int], limit: int) -> tuple[int, ...]:
    ids = tuple(int(v) for v in values)
    if len(ids) > limit:
        raise InvalidRequest(f"{name} has {len(ids)} ids; at most {limit}")
    bad = next((i for i, v in enumerate(ids) if v < 0), None)
    if bad is not None:
        raise InvalidRequest(f"{name}[{bad}] = {ids[bad]} is not a valid id (ids are >= 0)")
    return ids


def _subject(request, config: PipelineConfig, required: bool) -> dict:
    which = request.WhichOneof("subject")
    if which == "user_id":
        if request.user_id < 0:
            raise InvalidRequest(f"user_id must be >= 0, got {request.user_id}")
        return {"user_id": int(request.user_id)}
    if which == "anonymous_id":
        return {"anonymous_id": _text_id("anonymous_id", request.anonymous_id, config)}
    if required:
        raise InvalidRequest("subject is required: set user_id or anonymous_id")
    return {}


def _context(request, default_scenario: str) -> dict:
    ctx = request.context
    out: dict = {"scenario": default_scenario}
    if ctx.HasField("local_hour"):
        if not 0 <= ctx.local_hour <= 23:
            raise InvalidRequest(f"context.local_hour must be 0..23, got {ctx.local_hour}")
        out["local_hour"] = int(ctx.local_hour)
    if ctx.HasField("utc_offset_minutes"):
        if abs(ctx.utc_offset_minutes) > MAX_OFFSET_MINUTES:
            raise InvalidRequest(f"context.utc_offset_minutes must be within +-{MAX_OFFSET_MINUTES}, "
                                 f"got {ctx.utc_offset_minutes}")
        out["utc_offset_minutes"] = int(ctx.utc_offset_minutes)
    if ctx.scenario != event_pb2.SCENARIO_UNSPECIFIED:
        try:
            out["scenario"] = event_pb2.Scenario.Name(ctx.scenario).lower()
        except ValueError as err:
            raise InvalidRequest(f"context.scenario {ctx.scenario} is not a known scenario") from err
    return out


def daily_request(msg: recommender_pb2.DailyRecommendRequest, config: PipelineConfig) -> Request:
    return Request(kind=DAILY, **_subject(msg, config, required=True), count=_count(msg.count, config),
                   exclude_ids=_ids("exclude_track_ids", msg.exclude_track_ids, config.max_exclude_ids),
                   debug=msg.debug, **_context(msg, "daily_recommend"))


def next_track_request(msg: recommender_pb2.NextTrackRequest, config: PipelineConfig) -> Request:
    if not msg.recent_track_ids:
        raise InvalidRequest("recent_track_ids is empty: NextTrack needs the session's tracks")
    recent = _ids("recent_track_ids", msg.recent_track_ids, config.max_session_tracks)
    session_id = _text_id("session_id", msg.session_id, config) if msg.session_id else ""
    return Request(kind=NEXT_TRACK, **_subject(msg, config, required=False), count=_count(msg.count, config),
                   session_id=session_id, recent_track_ids=recent,
                   skipped_track_ids=_ids("skipped_track_ids", msg.skipped_track_ids, config.max_session_tracks),
                   hearted_track_ids=_ids("hearted_track_ids", msg.hearted_track_ids, config.max_session_tracks),
                   exclude_ids=_ids("exclude_track_ids", msg.exclude_track_ids, config.max_exclude_ids),
                   debug=msg.debug, **_context(msg, "private_radio"))


def similar_request(msg: recommender_pb2.SimilarTracksRequest, config: PipelineConfig) -> Request:
    if msg.track_id < 0:
        raise InvalidRequest(f"track_id must be >= 0, got {msg.track_id}")
    return Request(kind=SIMILAR, **_subject(msg, config, required=False), count=_count(msg.count, config),
                   seed_track_id=int(msg.track_id),
                   exclude_ids=_ids("exclude_track_ids", msg.exclude_track_ids, config.max_exclude_ids),
                   debug=msg.debug, **_context(msg, "daily_recommend"))


def artists_request(msg: recommender_pb2.RecommendArtistsRequest, config: PipelineConfig) -> Request:
    return Request(kind=ARTISTS, **_subject(msg, config, required=True), count=_count(msg.count, config),
                   exclude_ids=_ids("exclude_artist_ids", msg.exclude_artist_ids, config.max_exclude_ids),
                   debug=msg.debug, **_context(msg, "daily_recommend"))


# ----------------------------------------------------------------------------- conversion
def to_response(result: Result) -> recommender_pb2.RecommendResponse:
    return recommender_pb2.RecommendResponse(
        request_id=result.request_id, model_version=result.model_version,
        degraded_channels=list(result.degraded_channels),
        items=[recommender_pb2.RecommendedItem(
            track_id=i.track_id, score=i.score, channels=list(i.channels), is_repeat=i.is_repeat,
            explanation=i.reason, debug_scores=i.debug_scores) for i in result.items])


def to_artists_response(result: Result) -> recommender_pb2.RecommendArtistsResponse:
    return recommender_pb2.RecommendArtistsResponse(
        request_id=result.request_id, model_version=result.model_version,
        degraded_channels=list(result.degraded_channels),
        artists=[recommender_pb2.RecommendedArtist(
            artist_id=i.track_id, score=i.score, channels=list(i.channels), is_repeat=i.is_repeat,
            explanation=i.reason, debug_scores=i.debug_scores) for i in result.items])


def observe(result: Result) -> None:
    """Stage, channel and degradation metrics of one answered request."""
    for stage in STAGES:
        if stage in result.timings_ms:
            STAGE_SECONDS.labels(stage).observe(result.timings_ms[stage] / 1000)
    for key, ms in result.timings_ms.items():
        if key.startswith("recall."):
            CHANNEL_SECONDS.labels(key[len("recall."):]).observe(ms / 1000)
    for channel in result.degraded_channels:
        DEGRADED.labels(channel).inc()


# ----------------------------------------------------------------------------- servicer
class RecommenderServicer(recommender_pb2_grpc.RecommenderServicer):
    """The four rpcs over one Pipeline (thread-safe: the server calls it concurrently)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.config = pipeline.config

    def _serve(self, rpc: str, context: grpc.ServicerContext, build, run, convert):
        started = time.perf_counter()
        code, message = None, ""
        try:
            request = build()
            result = run(request)
            observe(result)
            return convert(result)
        except InvalidRequest as err:
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(err)
        except NotFound as err:
            code, message = grpc.StatusCode.NOT_FOUND, str(err)
        except Exception as err:  # noqa: BLE001 - never crash the server on one request
            log.exception("Recommender.%s failed", rpc)
            code, message = grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"
        finally:
            RPC_SECONDS.labels(rpc).observe(time.perf_counter() - started)
        ERRORS.labels(rpc, code.name).inc()
        context.abort(code, message)

    def DailyRecommend(self, request, context):
        return self._serve("DailyRecommend", context, lambda: daily_request(request, self.config),
                           self.pipeline.recommend_one, to_response)

    def NextTrack(self, request, context):
        return self._serve("NextTrack", context, lambda: next_track_request(request, self.config),
                           self.pipeline.recommend_one, to_response)

    def SimilarTracks(self, request, context):
        return self._serve("SimilarTracks", context, lambda: similar_request(request, self.config),
                           self.pipeline.recommend_one, to_response)

    def RecommendArtists(self, request, context):
        return self._serve("RecommendArtists", context, lambda: artists_request(request, self.config),
                           lambda r: self.pipeline.recommend_artists([r], deadlines=True)[0],
                           to_artists_response)


def recommender_service(pipeline: Pipeline) -> Service:
    """The Recommender service, ready for ``grpc_server.start_server`` / ``run_until_stopped``."""
    return Service(servicer=RecommenderServicer(pipeline),
                   add_to_server=recommender_pb2_grpc.add_RecommenderServicer_to_server,
                   full_name=SERVICE_NAME)

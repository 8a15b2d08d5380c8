"""THE serving Pipeline: one request (or many) -> a ranked, re-ranked list of tracks.

The gRPC Recommender (:mod:`encore.serving.recommender_service`), offline evaluation and
offline A/B all call this one class; no stage is implemented twice.

Stages, each timed (``Result.timings_ms``: ``features``, ``recall.<channel>``,
``recall``, ``merge``, ``rank``, ``rerank``, ``total``):

1. **features**: one ``FeatureClient.user_features`` read for the batch's known users,
   turned into Queries by :func:`encore.recall.queries.queries_from_online` (the same
   core the offline builder ``queries_from_log`` uses). A request may bring its own
   ``Query`` (offline evaluation: built point in time from the log) and skips the read.
   An unreachable feature store is not an error: the request is answered from the
   ``pipeline.fallback_channels`` (popularity) with an empty history, and
   ``"feature_store"`` is listed in ``degraded_channels``.
2. **recall**: every channel of the request's kind (``pipeline.daily_channels`` etc.,
   names of ``recall.channels``) runs in parallel on a thread pool, batched over all
   queries of the call, asked for its ``k``. With deadlines (the per-request path) a
   channel that has not answered ``deadline_ms`` after the fan-out started, or that
   raises, or that has no loaded model, is dropped and listed in ``degraded_channels``.
   A channel configured ``precomputed: true`` answers daily requests of known
   listeners (without a prebuilt Query) from the online recall table that ``encore
   batch recall --push`` fills (:mod:`encore.feature_store.recall_store`), the
   listeners it lacks (and every other request) live; an unreadable table means live.
3. **merge** (:func:`encore.serving.rerank.merge`): per-channel ``quota``, blocked
   tracks removed first, de-duplicated, reciprocal-rank fusion, the channels that found
   each track kept.
4. **rank**: the first ``pipeline.rank_limit`` merged candidates scored by the promoted
   ``Ranker`` (``ranking.inputs.request_features``; final score = ``head_weights`` x head
   probabilities; a sequence ranker (DIN, DIEN) also reads the listener Query's play /
   heart / skip sequences). The ranker is read through the registry's ``LiveModel`` once per
   request, so a promotion swaps it between requests and never fails one. Without a
   ranker (none promoted, or it fails) the merged order is kept and
   ``model_version`` says ``merged-score``.
5. **re-rank** (:func:`encore.serving.rerank.rerank`): artist spread and the
   repeat/discovery mix. Never returned: ``exclude_ids``, the listener's recent skips and dislikes,
   the session's own tracks (NextTrack) and the seed (SimilarTracks).

Kinds: ``daily_recommend``; ``next_track`` (private radio from the request's session:
its tracks become the session and the recent plays, its skips negative sources, its
hearts positive ones; with a user id the listener's features are read and the session
replaces theirs); ``similar_tracks`` (recall from the seed track alone; the listener, if
any, only decides ``is_repeat`` and what is blocked; an unknown seed raises
:class:`NotFound`); ``recommend_artists`` (:meth:`Pipeline.recommend_artists`).

Shapes: every array here is one request's candidates (N,) or a channel's (k,); the
Python loops are over requests and channels, never over candidates.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from encore.platform.config import ChannelConfig, EncoreConfig, PipelineConfig, RecallConfig
from encore.recall.channel import Candidates, Channel
from encore.recall.queries import QueryParams, queries_from_online
from encore.recall.query import Context, Query, Session
from encore.serving.behaviours import request_behaviours
from encore.serving.rerank import ChannelAnswer, Merged, merge, rerank

log = logging.getLogger(__name__)

DAILY = "daily_recommend"
NEXT_TRACK = "next_track"
SIMILAR = "similar_tracks"
ARTISTS = "recommend_artists"
KINDS = (DAILY, NEXT_TRACK, SIMILAR, ARTISTS)
FEATURE_STORE = "feature_store"
"""Listed in ``degraded_channels`` when the feature read failed."""
MERGED_SCORE = "merged-score"
SESSION_STEP_MS = 180_000
"""Spacing given to a NextTrack session's tracks when they become timed recent plays."""

_KIND_SCENARIO = {DAILY: "daily_recommend", NEXT_TRACK: "private_radio", SIMILAR: "daily_recommend",
                  ARTISTS: "daily_recommend"}
_CHANNEL_REASONS = {
    "popularity": "Popular on Encore", "item_cf": "Listeners of your recent tracks play this",
    "session_knn": "Fits what you are listening to now", "profile": "Matches your taste",
    "kg_walk": "Connected to what you play", "similar_listeners": "Listeners like you play this",
}
_PROFILE_REASONS = (("artist", "From an artist you like"), ("genre", "In a genre you like"),
                    ("age_prior", "Popular with listeners like you"), ("language", "In your language"),
                    ("popular", "Popular on Encore"))
REPEAT_REASON = "You have played this before"


class NotFound(LookupError):
    """The request names something that does not exist (an unknown seed track)."""


# ----------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Request:
    """One recommendation request, as plain Python (the gRPC servicer converts the
    proto messages into these; offline evaluation builds them directly).

    ``count`` 0 means ``pipeline.default_count``. ``request_ms`` None: now.
    ``local_hour`` / ``utc_offset_minutes`` set the Query's hour (else the query
    builder's). ``exclude_ids``: track ids (artist ids for ``recommend_artists``).
    ``query``: a prebuilt Query (skips the feature read)."""

    kind: str = DAILY
    user_id: int | None = None
    anonymous_id: str | None = None
    count: int = 0
    request_ms: int | None = None
    local_hour: int | None = None
    utc_offset_minutes: int | None = None
    scenario: str | None = None
    session_id: str = ""
    recent_track_ids: tuple[int, ...] = ()
    skipped_track_ids: tuple[int, ...] = ()
    hearted_track_ids: tuple[int, ...] = ()
    seed_track_id: int | None = None
    exclude_ids: tuple[int, ...] = ()
    debug: bool = False
    query: Query | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown request kind {self.kind!r}; known: {KINDS}")


@dataclass(frozen=True)
class Item:
    """One returned track (or artist: ``track_id`` holds the artist id in ``ArtistResult``)."""

    track_id: int
    score: float
    channels: tuple[str, ...]
    is_repeat: bool
    reason: str
    debug_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """The answer to one request: ``items`` best first (at most the count; fewer when
    candidates run out), ``model_version`` (``ranker:<version>`` or ``merged-score``),
    ``degraded_channels`` (channels dropped, and ``feature_store`` when the features
    could not be read), ``timings_ms`` (stage -> milliseconds)."""

    request_id: str
    items: list[Item]
    model_version: str
    degraded_channels: tuple[str, ...]
    timings_ms: dict[str, float]

    @property
    def track_ids(self) -> list[int]:
        return [i.track_id for i in self.items]


# ----------------------------------------------------------------------------- model sources
@dataclass(frozen=True)
class Fixed:
    """A model that never changes, shaped like the registry's ``Loaded`` (``model``,
    ``version``) with ``current()``: pass already-built channels / a ranker in tests."""

    model: Any
    version: str = "local"

    def current(self) -> "Fixed":
        return self


def _as_source(model: Any) -> Any:
    return model if hasattr(model, "current") else Fixed(model)


def channel_smoke_test(channel: Channel) -> bool:
    """A loaded channel answers an empty anonymous query (the registry's smoke test)."""
    channel.recall([Query(context=Context(request_ms=0, local_hour=0), anonymous_id="smoke")], 1)
    return True


# ----------------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class TrackTable:
    """Catalog lookups by track id (vectorised): artist and genre; ``track_ids`` sorted."""

    track_ids: np.ndarray
    artist_ids: np.ndarray
    genres: np.ndarray

    @classmethod
    def from_frame(cls, tracks: pd.DataFrame) -> "TrackTable":
        t = tracks.drop_duplicates("track_id").sort_values("track_id")
        genres = t["genre"].fillna("").astype(str).to_numpy(dtype=object) if "genre" in t else \
            np.full(len(t), "", dtype=object)
        return cls(t["track_id"].to_numpy(dtype=np.int64), t["artist_id"].to_numpy(dtype=np.int64), genres)

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(self.track_ids):
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        pos = np.clip(np.searchsorted(self.track_ids, ids), 0, len(self.track_ids) - 1)
        return pos, self.track_ids[pos] == ids

    def artists(self, ids: np.ndarray) -> np.ndarray:
        pos, known = self.rows(ids)
        return np.where(known, self.artist_ids[pos], -1)

    def contains(self, track_id: int) -> bool:
        return bool(self.rows(np.array([track_id]))[1][0])


@dataclass(frozen=True)
class TrackStats:
    """Per-track statistics the ranker reads as candidate features (``track_plays``,
    ``track_listeners``, ``track_completion_rate``, ``track_skip_rate``,
    ``track_heart_rate``), as of the previous day; unknown tracks get NaN (the ranker's
    feature spec maps it to the training mean)."""

    COLUMNS = ("track_plays", "track_listeners", "track_completion_rate", "track_skip_rate",
               "track_heart_rate")
    track_ids: np.ndarray
    values: np.ndarray  # (n, 5) float64

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "TrackStats":
        f = frame.drop_duplicates("track_id").sort_values("track_id")
        return cls(f["track_id"].to_numpy(np.int64),
                   np.stack([f[c].to_numpy(np.float64) for c in cls.COLUMNS], axis=1))

    @classmethod
    def from_events(cls, events: pd.DataFrame, tracks: pd.DataFrame) -> "TrackStats":
        """From an event log (``action``, ``track_id``, ``user_id``/``session_id``,
        ``played_ms``) by the item-stats rule: plays, distinct listeners, completion
        (played >= 0.9 duration), skip and heart rates per play."""
        from encore.platform.contracts.labels import is_complete_play

        ev = events[events["track_id"].notna()]
        listener = ev["user_id"].astype("Int64").astype(str).where(ev["user_id"].notna(), "a:" + ev["session_id"].astype(str))
        ev = ev.assign(listener=listener, track_id=ev["track_id"].astype(np.int64))
        plays = ev[ev["action"] == "play_start"].groupby("track_id").agg(
            track_plays=("listener", "size"), track_listeners=("listener", "nunique"))
        ends = ev[ev["action"] == "play_end"].merge(tracks[["track_id", "duration_ms"]], on="track_id")
        ends = ends.assign(complete=is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False))
        completes = ends.groupby("track_id")["complete"].sum().rename("completes")
        skips = ev[ev["action"] == "skip"].groupby("track_id").size().rename("skips")
        hearts = ev[ev["action"] == "heart"].groupby("track_id").size().rename("hearts")
        table = plays.join([completes, skips, hearts], how="left").fillna(0.0)
        denom = table["track_plays"].clip(lower=1)
        table = table.assign(track_completion_rate=table["completes"] / denom, track_skip_rate=table["skips"] / denom,
                             track_heart_rate=table["hearts"] / denom).reset_index()
        return cls.from_frame(table)

    def lookup(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full((len(ids), len(self.COLUMNS)), np.nan)
        if len(self.track_ids):
            pos = np.clip(np.searchsorted(self.track_ids, ids), 0, len(self.track_ids) - 1)
            known = self.track_ids[pos] == ids
            out[known] = self.values[pos[known]]
        return {c: out[:, i] for i, c in enumerate(self.COLUMNS)}


# ----------------------------------------------------------------------------- the pipeline
@dataclass
class _Prepared:
    """One request on its way through the stages."""

    request: Request
    listener: Query          # the listener (features) — decides repeats and what is blocked
    recall_query: Query      # what the channels see
    channels: list[str]
    degraded: list[str]
    blocked: np.ndarray
    count: int
    user_row: Mapping[str, Any] = field(default_factory=dict)


class Pipeline:
    """The serving pipeline (see the module docstring for the contract).

    Parts: ``channels`` (name -> a ``Channel`` or a registry ``LiveModel`` of one),
    ``recall`` (the ``RecallConfig`` whose entries give each channel's ``k``, ``quota``
    and ``deadline_ms``), ``config`` (``PipelineConfig``), ``tracks`` (the catalog
    frame: ``track_id``, ``artist_id``, ``genre``, and for a ranker the catalog columns
    it reads), ``features`` (a ``FeatureClient`` or None: no reads, every user is
    unknown), ``ranker`` (a ``Ranker``, a ``LiveModel`` of one, or None), ``track_stats``
    (for the ranker), ``query_params``, ``clock_ms`` (epoch ms of a request without
    ``request_ms``; default the wall clock: a replayed world serves at its own time).
    """

    def __init__(self, *, channels: Mapping[str, Any], recall: RecallConfig, config: PipelineConfig,
                 tracks: pd.DataFrame, features: Any = None, ranker: Any = None,
                 track_stats: TrackStats | None = None, query_params: QueryParams | None = None,
                 live_models: Sequence[Any] = (), clock_ms: Any = None, precomputed: Any = None) -> None:
        self.config, self.recall_config = config, recall
        self.channel_configs: dict[str, ChannelConfig] = {c.name: c for c in recall.channels}
        unknown = sorted(set(channels) - set(self.channel_configs))
        if unknown:
            raise ValueError(f"channels {unknown} have no entry in recall.channels")
        self.channels = {name: _as_source(model) for name, model in channels.items()}
        self.tracks = TrackTable.from_frame(tracks)
        self.features = features
        self.ranker = _as_source(ranker) if ranker is not None else None
        self.track_stats = track_stats or TrackStats(np.zeros(0, np.int64), np.zeros((0, 5)))
        self.query_params = query_params or QueryParams(history_length=recall.history_length)
        self._ranking_catalog: Any = None  # encore.ranking.inputs.Catalog, built on first use
        self._catalog_frame = tracks
        self._catalog_lock = threading.RLock()
        self._candidate_cache: tuple[Any, Any] | None = None  # (ranker model, its CandidateTable)
        self._pool = ThreadPoolExecutor(max_workers=config.recall_threads, thread_name_prefix="recall")
        self._live_models = list(live_models)
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.precomputed = precomputed  # a RecallStore (or None): lists of `precomputed` channels

    # -- construction from configuration and the registry
    @classmethod
    def from_config(cls, config: EncoreConfig, registry: Any, tracks: pd.DataFrame, *,
                    features: Any = None, track_stats: TrackStats | None = None,
                    poll: bool = True, clock_ms: Any = None) -> "Pipeline":
        """The pipeline a server runs: every enabled channel of ``config.recall`` loaded
        from the registry as ``<pipeline.channel_registry_prefix><name>`` and the ranker
        as ``pipeline.ranker_registry_name``, each a ``LiveModel`` (verified, smoke
        tested; refreshed every ``registry.poll_interval_s`` when ``poll``). A channel
        with no promoted version is listed as degraded on every request; no promoted
        ranker means merged-score order."""
        from encore.platform.registry import LiveModel
        from encore.recall.registry import load_channel

        p = config.pipeline
        lives: list[Any] = []
        channels = {}
        for c in config.recall.enabled:
            live = LiveModel(registry, p.channel_registry_prefix + c.name, load_channel, channel_smoke_test)
            live.refresh()
            if live.version is None:
                log.warning("recall channel %s: nothing loaded (%s)", c.name, live.last_error or "not promoted")
            channels[c.name] = live
            lives.append(live)

        def load_ranker(path):
            from encore.ranking.ranker import Ranker

            return Ranker.load(path)

        ranker = LiveModel(registry, p.ranker_registry_name, load_ranker, lambda r: r.smoke_test())
        ranker.refresh()
        lives.append(ranker)
        if poll:
            for live in lives:
                live.start(config.registry.poll_interval_s)
        store = None
        if any(c.precomputed for c in config.recall.enabled):
            from encore.feature_store.recall_store import RecallStore
            from encore.recall.batch import recall_store_path

            store = RecallStore(recall_store_path(config))
        return cls(channels=channels, recall=config.recall, config=p, tracks=tracks, features=features,
                   ranker=ranker, track_stats=track_stats, query_params=QueryParams.from_config(config),
                   live_models=lives, clock_ms=clock_ms, precomputed=store)

    def close(self) -> None:
        """Stop the registry polls and the recall pool (late channels are not waited for)."""
        for live in self._live_models:
            live.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- public API
    def recommend_one(self, request: Request) -> Result:
        """One request with per-channel deadlines: the path the gRPC servicer calls."""
        return self.recommend([request], deadlines=True)[0]

    def recommend(self, requests: Sequence[Request], *, deadlines: bool = False) -> list[Result]:
        """Results for many track requests (any mix of daily / next_track / similar), in
        order. Requests of one kind share one batched ``recall`` call per channel. By
        default (offline evaluation) every channel is waited for; a raising channel is
        still dropped and reported. Raises :class:`NotFound` for an unknown seed track."""
        if any(r.kind == ARTISTS for r in requests):
            raise ValueError("recommend_artists requests go to Pipeline.recommend_artists")
        t0 = time.perf_counter()
        prepared, feature_ms = self._prepare(requests)
        results: list[Result | None] = [None] * len(requests)
        for group, recalled, timings in self._recall_groups(prepared, deadlines):
            for i, answers in zip(group, recalled):
                results[i] = self._finish(prepared[i], answers, dict(timings, features=feature_ms), t0)
        return results  # type: ignore[return-value]

    def recommend_artists(self, requests: Sequence[Request], *, deadlines: bool = False) -> list[Result]:
        """Artists for each listener (``Item.track_id`` holds the artist id): the
        candidates of ``pipeline.artist_channels`` (co-listening neighbourhood: item-CF
        and session-kNN from the listener's history; taste: profile; popularity), merged
        as for tracks, then summed per artist (an artist's score: the merged scores of its
        tracks; its channels: theirs). ``is_repeat``: the listener played the artist (in
        the recent history or the profile's top artists). ``exclude_ids`` are artist ids.
        ``reason``: the explanation of the artist's best merged track (``kg_walk``: the
        path through a show or a variety season; ``similar_listeners``: the listeners
        like you) with the number of its tracks found (:func:`_artist_reason`); with
        ``kg_walk`` and ``similar_listeners`` enabled and in ``artist_channels`` the
        artists come from the knowledge graph and the co-listening graph."""
        t0 = time.perf_counter()
        reqs = [replace(r, kind=ARTISTS) for r in requests]
        prepared, feature_ms = self._prepare(reqs)
        results: list[Result | None] = [None] * len(reqs)
        for group, recalled, timings in self._recall_groups(prepared, deadlines):
            for i, answers in zip(group, recalled):
                results[i] = self._finish_artists(prepared[i], answers, dict(timings, features=feature_ms), t0)
        return results  # type: ignore[return-value]

    # -- stage 1: features and queries
    def _count(self, request: Request) -> int:
        return request.count or self.config.default_count

    def _channel_names(self, kind: str) -> list[str]:
        p = self.config
        wanted = {DAILY: p.daily_channels, NEXT_TRACK: p.next_track_channels, SIMILAR: p.similar_channels,
                  ARTISTS: p.artist_channels}[kind]
        enabled = [c.name for c in self.recall_config.enabled if c.name in self.channels]
        return [n for n in enabled if n in wanted] if wanted else enabled

    def _prepare(self, requests: Sequence[Request]) -> tuple[list[_Prepared], float]:
        t0 = time.perf_counter()
        users = sorted({int(r.user_id) for r in requests if r.query is None and r.user_id is not None})
        features: Mapping[int, Mapping[str, Any]] = {}
        features_ok = True
        if users and self.features is not None:
            try:
                features = self.features.user_features(users)
            except Exception as err:  # noqa: BLE001 - any store failure degrades, never fails
                log.warning("feature store unreachable (%s: %s); answering from %s",
                            type(err).__name__, err, self.config.fallback_channels)
                features_ok = False
        prepared = [self._prepare_one(r, features, features_ok) for r in requests]
        return prepared, (time.perf_counter() - t0) * 1000

    def _prepare_one(self, r: Request, features: Mapping[int, Mapping[str, Any]], features_ok: bool) -> _Prepared:
        now = int(r.request_ms if r.request_ms is not None else self.clock_ms())
        scenario = (r.scenario or _KIND_SCENARIO[r.kind]).lower()
        degraded: list[str] = []
        row: Mapping[str, Any] = {}
        if r.query is not None:
            listener = r.query
        elif r.user_id is not None:
            uid = int(r.user_id)
            row = features.get(uid) or {}  # unknown user / store down: an empty history
            listener = queries_from_online({uid: row}, request_ms=now, scenario=scenario,
                                           params=self.query_params)[0]
            if not features_ok:
                degraded.append(FEATURE_STORE)
        else:
            listener = Query(context=Context(request_ms=now, local_hour=0, scenario=scenario),
                             anonymous_id=r.anonymous_id or r.session_id or "anonymous")
        hour = listener.context.local_hour if r.query is not None else _local_hour(now, r, self.query_params)
        listener = replace(listener, context=replace(listener.context, local_hour=hour))
        count = self._count(r)
        channels = self._channel_names(r.kind)
        if FEATURE_STORE in degraded and r.kind in (DAILY, ARTISTS):
            channels = [n for n in channels if n in self.config.fallback_channels] or \
                [n for n in self.config.fallback_channels if n in self.channels]
        blocked = [np.asarray(r.exclude_ids if r.kind != ARTISTS else (), np.int64),
                   np.asarray(listener.skip_track_ids, np.int64), np.asarray(listener.dislike_track_ids, np.int64)]
        recall_query = listener
        if r.kind == NEXT_TRACK:
            recall_query = _session_query(listener, r, now)
            blocked += [np.asarray(r.recent_track_ids, np.int64), np.asarray(r.skipped_track_ids, np.int64)]
        elif r.kind == SIMILAR:
            if r.seed_track_id is None or not self.tracks.contains(int(r.seed_track_id)):
                raise NotFound(f"track_id {r.seed_track_id} is not in the catalog")
            seed = int(r.seed_track_id)
            recall_query = Query(context=listener.context, user_id=listener.user_id,
                                 anonymous_id=listener.anonymous_id,
                                 play_track_ids=(seed,), play_ts_ms=(now,))
            blocked.append(np.array([seed], np.int64))
        return _Prepared(r, listener, recall_query, channels, degraded,
                         np.unique(np.concatenate(blocked)), count, row)

    # -- stage 2: recall, batched per group of requests with the same channels
    def _recall_groups(self, prepared: list[_Prepared], deadlines: bool):
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, p in enumerate(prepared):
            groups.setdefault(tuple(p.channels), []).append(i)
        for names, members in groups.items():
            queries = [prepared[i].recall_query for i in members]
            stored_ok = [prepared[i].request.kind == DAILY and prepared[i].request.query is None
                         and prepared[i].recall_query.user_id is not None for i in members]
            answers, degraded, timings = self._fan_out(list(names), queries, deadlines, stored_ok)
            for i in members:
                prepared[i].degraded.extend(degraded)
            per_query = [[ChannelAnswer(n, answers[n][j], self.channel_configs[n].quota, *self._reason(n))
                          for n in names if n in answers] for j in range(len(members))]
            yield members, per_query, timings

    def _reason(self, name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        kind = self.channel_configs[name].kind
        text = _CHANNEL_REASONS.get(kind, f"Found by {name}")
        if name == "trending":
            text = "Trending now"
        return text, (_PROFILE_REASONS if kind == "profile" else ())

    def _fan_out(self, names: list[str], queries: list[Query], deadlines: bool, stored_ok: Sequence[bool] = ()
                 ) -> tuple[dict[str, list[Candidates]], list[str], dict[str, float]]:
        start = time.perf_counter()
        futures = {}
        degraded: list[str] = []
        for name in names:
            if self.precomputed is not None and self.channel_configs[name].precomputed and any(stored_ok):
                futures[name] = self._pool.submit(_precomputed_recall, self.precomputed, name, self.channels[name],
                                                  queries, list(stored_ok), self.channel_configs[name].k)
                continue
            try:
                channel = self.channels[name].current().model
            except Exception as err:  # noqa: BLE001 - no loaded model: dropped, reported
                log.warning("recall channel %s unavailable: %s", name, err)
                degraded.append(name)
                continue
            futures[name] = self._pool.submit(_timed_recall, channel, queries, self.channel_configs[name].k)
        answers: dict[str, list[Candidates]] = {}
        timings: dict[str, float] = {}
        for name, future in futures.items():
            timeout = None
            if deadlines:
                timeout = max(0.0, start + self.channel_configs[name].deadline_ms / 1000 - time.perf_counter())
            try:
                found, seconds = future.result(timeout=timeout)
            except FutureTimeout:
                future.cancel()
                degraded.append(name)
                timings[f"recall.{name}"] = (time.perf_counter() - start) * 1000
                continue
            except Exception as err:  # noqa: BLE001 - a failing channel is dropped, not fatal
                log.warning("recall channel %s failed: %r", name, err)
                degraded.append(name)
                continue
            if len(found) != len(queries):
                log.warning("recall channel %s answered %d of %d queries", name, len(found), len(queries))
                degraded.append(name)
                continue
            answers[name] = found
            timings[f"recall.{name}"] = seconds * 1000
        timings["recall"] = (time.perf_counter() - start) * 1000
        return answers, degraded, timings

    # -- stages 3-5 for one request
    def _finish(self, p: _Prepared, answers: list[ChannelAnswer], timings: dict[str, float], t0: float) -> Result:
        t = time.perf_counter()
        merged = merge(answers, p.blocked, self.config.rrf_k)
        timings["merge"] = _ms(t)
        t = time.perf_counter()
        ranked, final, version, rank_debug = self._rank(p, merged.head(self.config.rank_limit))
        timings["rank"] = _ms(t)
        t = time.perf_counter()
        repeat = _is_repeat(p, ranked.track_ids)
        order = rerank(self.tracks.artists(ranked.track_ids), repeat, p.count,
                       max_per_artist=self.config.max_per_artist, repeat_share=self.config.repeat_share)
        timings["rerank"] = _ms(t)
        items = []
        for rank_pos, i in enumerate(order):  # the returned items only (at most count)
            debug = {}
            if p.request.debug:
                debug = {"recall.merged": float(ranked.scores[i]), "rerank.position": float(rank_pos)}
                debug.update({k: float(v[i]) for k, v in rank_debug.items()})
            items.append(Item(track_id=int(ranked.track_ids[i]), score=float(final[i]),
                              channels=ranked.channels_of(int(i)), is_repeat=bool(repeat[i]),
                              reason=REPEAT_REASON if repeat[i] else str(ranked.reasons[i] or ""),
                              debug_scores=debug))
        timings["total"] = _ms(t0)
        return Result(uuid.uuid4().hex, items, version, tuple(dict.fromkeys(p.degraded)), timings)

    def _rank(self, p: _Prepared, merged: Merged) -> tuple[Merged, np.ndarray, str, dict[str, np.ndarray]]:
        """(candidates in ranked order, their final scores, model version, per-head debug)."""
        if self.ranker is None or not len(merged):
            return merged, merged.scores, self._version(), {}
        try:
            loaded = self.ranker.current()
        except Exception:  # noqa: BLE001 - nothing promoted: merged order
            return merged, merged.scores, MERGED_SCORE, {}
        ranker = loaded.model
        try:
            from encore.ranking.inputs import listener_features, request_features

            ids = merged.track_ids
            plays = {"user_track_plays_30d": self._user_track_plays(p, ids)}
            cands = self._candidate_table(ranker).features(ids, plays)
            if cands is None:  # a candidate outside the catalog: the per-request derivation
                user, cands = request_features(ranker.spec, self._catalog(), self._user_request(p),
                                               self._candidate_columns(p, ids))
            else:
                user = listener_features(ranker.spec, self._catalog(), self._user_request(p))
            heads = ranker.score(user, cands)
        except Exception as err:  # noqa: BLE001 - a failing ranker falls back, never fails the call
            log.warning("ranker %s failed, serving merged order: %r", getattr(loaded, "version", "?"), err)
            p.degraded.append("ranker")
            return merged, merged.scores, MERGED_SCORE, {}
        final = np.zeros(len(merged), np.float64)
        for head, weight in self.config.head_weights.items():
            if head in heads:
                final += weight * heads[head].astype(np.float64)
        order = np.lexsort((merged.track_ids, -final))
        debug = {f"rank.{h}": v[order] for h, v in heads.items()}
        return merged.take(order), final[order], f"ranker:{loaded.version}", debug

    def _version(self) -> str:
        return MERGED_SCORE

    def _catalog(self):
        if self._ranking_catalog is None:
            with self._catalog_lock:
                if self._ranking_catalog is None:
                    from encore.ranking.inputs import Catalog

                    self._ranking_catalog = Catalog.from_frame(self._catalog_frame)
        return self._ranking_catalog

    def _user_request(self, p: _Prepared) -> dict[str, Any]:
        """The ranker's user and context inputs from the Query and the online row.
        Counters the online store does not hold are NaN (the spec's training mean).
        A sequence ranker's behaviours are the Query's play / heart / skip sequences
        (``encore.serving.behaviours``: training reads the same Query fields)."""
        q, row = p.listener, p.user_row
        plays = np.asarray(q.play_ts_ms, np.int64)
        day = q.context.request_ms // 86_400_000
        plays_today = row.get("plays_today")
        profile = q.profile
        return {
            "user_id": q.user_id, "anonymous": float(q.is_anonymous),
            "scenario": q.context.scenario or _KIND_SCENARIO[p.request.kind], "ts_ms": q.context.request_ms,
            "user_exposures_30d": np.nan, "user_completes_30d": np.nan,
            "user_plays_30d": float(profile.plays_30d) if profile.plays_30d else float(len(plays)),
            "user_skips_30d": float(profile.plays_30d * profile.skip_rate_30d) if profile.plays_30d
            else float(len(q.skip_track_ids)),
            "user_hearts_30d": float(len(q.heart_track_ids)),
            "user_plays_today": float(plays_today) if plays_today is not None
            else float(np.count_nonzero(plays // 86_400_000 == day)),
            **request_behaviours(q),
        }

    def _candidate_table(self, ranker: Any) -> Any:
        """The ranker's candidate features of every catalog track (catalog attributes and
        track statistics), computed once per loaded ranker: a request only gathers rows
        (``encore.ranking.inputs.CandidateTable``)."""
        cached = self._candidate_cache
        if cached is not None and cached[0] is ranker:
            return cached[1]
        with self._catalog_lock:
            cached = self._candidate_cache
            if cached is None or cached[0] is not ranker:
                from encore.ranking.inputs import CandidateTable

                ids = np.union1d(self.tracks.track_ids, self.track_stats.track_ids)
                table = CandidateTable(ranker.spec, self._catalog(),
                                       {"track_id": ids, **self.track_stats.lookup(ids)})
                cached = self._candidate_cache = (ranker, table)
        return cached[1]

    def _user_track_plays(self, p: _Prepared, track_ids: np.ndarray) -> np.ndarray:
        """How often the listener played each candidate in the recent history."""
        history = np.asarray(p.listener.play_track_ids, np.int64)
        uniq, counts = np.unique(history, return_counts=True)
        pos = np.clip(np.searchsorted(uniq, track_ids), 0, max(len(uniq) - 1, 0))
        plays = np.where(uniq[pos] == track_ids, counts[pos], 0) if len(uniq) else np.zeros(len(track_ids))
        return np.asarray(plays, np.float64)

    def _candidate_columns(self, p: _Prepared, track_ids: np.ndarray) -> dict[str, np.ndarray]:
        return {"track_id": track_ids, **self.track_stats.lookup(track_ids),
                "user_track_plays_30d": self._user_track_plays(p, track_ids)}

    def _finish_artists(self, p: _Prepared, answers: list[ChannelAnswer], timings: dict[str, float],
                        t0: float) -> Result:
        t = time.perf_counter()
        merged = merge(answers, p.blocked, self.config.rrf_k)
        timings["merge"] = _ms(t)
        t = time.perf_counter()
        artists = self.tracks.artists(merged.track_ids)
        keep = (artists >= 0) & ~np.isin(artists, np.asarray(p.request.exclude_ids, np.int64))
        artists, scores, masks = artists[keep], merged.scores[keep], merged.channel_mask[keep]
        reasons = merged.reasons[keep]
        uniq, inverse = np.unique(artists, return_inverse=True)
        total = np.bincount(inverse, weights=scores, minlength=len(uniq))
        n_tracks = np.bincount(inverse, minlength=len(uniq))
        by_artist = np.argsort(inverse, kind="stable")  # merged order within each artist
        starts = np.searchsorted(inverse[by_artist], np.arange(len(uniq)))
        mask = np.bitwise_or.reduceat(masks[by_artist], starts) if len(uniq) else np.zeros(0, np.int64)
        top_reason = reasons[by_artist][starts] if len(uniq) else np.zeros(0, object)
        played = np.union1d(self.tracks.artists(np.asarray(p.listener.play_track_ids + p.listener.session.track_ids,
                                                           np.int64)),
                            np.asarray(p.listener.profile.artist_ids, np.int64))
        repeat = np.isin(uniq, played)
        order = np.lexsort((uniq, -total))
        order = order[rerank(np.arange(len(order)), repeat[order], p.count, max_per_artist=1,
                             repeat_share=self.config.repeat_share)]
        timings["rerank"] = _ms(t)
        names = merged.channel_names
        items = [Item(track_id=int(uniq[i]), score=float(total[i]),
                      channels=tuple(n for c, n in enumerate(names) if int(mask[i]) >> c & 1),
                      is_repeat=bool(repeat[i]),
                      reason=_artist_reason(str(top_reason[i] or ""), int(n_tracks[i]), bool(repeat[i])),
                      debug_scores={"recall.merged": float(total[i])} if p.request.debug else {})
                 for i in order]
        timings["total"] = _ms(t0)
        return Result(uuid.uuid4().hex, items, MERGED_SCORE, tuple(dict.fromkeys(p.degraded)), timings)


# ----------------------------------------------------------------------------- helpers
def _artist_reason(top_reason: str, n_tracks: int, repeat: bool) -> str:
    """An artist's explanation: the reason of its best track (a kg_walk path names the
    show or season, similar_listeners the listeners like you) and how many of its tracks
    were found, e.g. "Because you played track 12 from the soundtrack of Show 4 (2 of
    their tracks for you)"; "You listen to them. " first for an artist already played."""
    found = f"{n_tracks} of their tracks for you"
    text = f"{top_reason} ({found})" if top_reason else found[0].upper() + found[1:]
    return ("You listen to them. " if repeat else "") + text


def _timed_recall(channel: Channel, queries: list[Query], k: int) -> tuple[list[Candidates], float]:
    t = time.perf_counter()
    found = channel.recall(queries, k)
    return found, time.perf_counter() - t


def _precomputed_recall(store: Any, name: str, source: Any, queries: list[Query], stored_ok: list[bool],
                        k: int) -> tuple[list[Candidates], float]:
    """``name``'s lists from the online recall table for the queries it may answer
    (``stored_ok``: daily requests of known listeners), the rest live through
    ``source`` (raises, so the channel is dropped, only when a miss finds no loaded
    model). A table that cannot be read is a miss for everyone."""
    t = time.perf_counter()
    users = [int(q.user_id) for q, ok in zip(queries, stored_ok) if ok and q.user_id is not None]
    try:
        stored = store.get(name, users) if users else {}
    except Exception as err:  # noqa: BLE001 - the table is an optimisation: live on any failure
        log.warning("online recall table unreadable for %s (%s); answering live", name, err)
        stored = {}
    found: list[Candidates | None] = [None] * len(queries)
    for i, (q, ok) in enumerate(zip(queries, stored_ok)):
        hit = stored.get(int(q.user_id)) if ok and q.user_id is not None else None
        if hit is not None:
            found[i] = Candidates(hit.track_ids[:k], hit.scores[:k])
    misses = [i for i, c in enumerate(found) if c is None]
    if misses:
        live = source.current().model.recall([queries[i] for i in misses], k)
        for i, c in zip(misses, live):
            found[i] = c
    return found, time.perf_counter() - t  # type: ignore[return-value]


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _local_hour(now: int, r: Request, params: QueryParams) -> int:
    if r.local_hour is not None:
        return int(r.local_hour) % 24
    offset_min = r.utc_offset_minutes if r.utc_offset_minutes is not None else params.utc_offset_hours * 60
    return int((now // 60_000 + offset_min) // 60 % 24)


def _session_query(listener: Query, r: Request, now: int) -> Query:
    """NextTrack's recall query: the request's session replaces the stored one; its
    tracks (skipped ones left out) are the session and the most recent plays, its skips
    negative sources, its hearts positive ones (timed SESSION_STEP_MS apart, the last
    track at the request time)."""
    recent = tuple(int(t) for t in r.recent_track_ids)
    skipped = set(int(t) for t in r.skipped_track_ids)
    kept = tuple(t for t in recent if t not in skipped)
    times = tuple(now - (len(recent) - 1 - i) * SESSION_STEP_MS for i in range(len(recent)))
    kept_ts = tuple(ts for t, ts in zip(recent, times) if t not in skipped)
    skip_ts = tuple(ts for t, ts in zip(recent, times) if t in skipped)
    skip_ids = tuple(t for t in recent if t in skipped)
    hearts = tuple(int(t) for t in r.hearted_track_ids)
    return replace(
        listener,
        play_track_ids=listener.play_track_ids + kept, play_ts_ms=listener.play_ts_ms + kept_ts,
        skip_track_ids=listener.skip_track_ids + skip_ids, skip_ts_ms=listener.skip_ts_ms + skip_ts,
        skip_at_ms=listener.skip_at_ms + (0,) * len(skip_ids),
        heart_track_ids=listener.heart_track_ids + hearts, heart_ts_ms=listener.heart_ts_ms + (now,) * len(hearts),
        session=Session(session_id=r.session_id or listener.listener, scenario="private_radio",
                        start_ms=times[0] if times else now, track_ids=kept),
    )


def _is_repeat(p: _Prepared, track_ids: np.ndarray) -> np.ndarray:
    """True for tracks the listener played before (recent plays, the stored session; for
    SimilarTracks without a listener: never)."""
    q = p.listener
    if p.request.kind == SIMILAR and q.user_id is None and not q.play_track_ids:
        return np.zeros(len(track_ids), bool)
    history = np.asarray(q.play_track_ids + q.session.track_ids, np.int64)
    return np.isin(track_ids, history)

"""Per-user real-time state of the stream processor: pure logic, no Kafka, no Feast.

A user's state is a deterministic function of (previous state, events in offset
order). The processor reads the state back from the online store, applies the new
records with :func:`apply_record` and pushes the result; nothing else is kept between
batches, so any consumer of the group that takes over a partition continues exactly
where the last push left off.

Semantics (hand-checked by tests/unit/platform/stream/test_state.py):

- **Idempotency.** The state remembers, per ``topic:partition``, the offset of the last
  record applied for this user (``offsets``), and a bounded window (``dedupe_window``)
  of the ids of the user's last applied events (``seen_ids``, stored as 64-bit hashes).
  A record at or below the high-water offset of its partition is a redelivery (a crash
  between push and commit, a rebalance) and changes nothing; an event id already in
  the window is a producer-side duplicate and changes nothing except the high-water
  offset. A duplicate older than the window would be counted again: the window bounds
  the state size, so keep it larger than the number of events a user sends between a
  message and its re-send.
- **Sessions** follow :func:`encore.platform.contracts.sessions.sessionize` (scenario switch, gap
  strictly above the inactivity gap, span above the maximum duration); the incremental
  step is :func:`encore.platform.contracts.sessions.opens_session` (property-tested against
  ``sessionize``). The session id is :func:`encore.platform.contracts.sessions.next_session_name`:
  the user id and the session's first event ms, ranked when several open in the same
  ms. An event that arrives late (``ts`` before the last event of
  the open session) joins the open session and does not move its bookkeeping.
- **A play** is a ``PLAY_START``: it is appended to the recent-play sequence and to the
  current session's track sequence and counts in ``plays_today`` / ``plays_total``.
- **A complete** is a ``PLAY_END`` whose ``played_ms >= COMPLETE_PLAY_FRACTION * duration``
  (the rule of :mod:`encore.platform.contracts.labels`)
  (``duration`` of the track from the catalog; an unknown duration never completes).
- **A skip** is a ``SKIP``: track, event ms and the playback position at which it was
  skipped (``played_ms``) go to the recent-skip sequences; counts in ``skips_today``.
- **A heart** appends to the recent-heart sequence and counts in ``hearts_today``.
  **UNHEART removes** every entry of that track from the recent-heart sequence (the
  sequence then lists the tracks the user currently likes, most recent last) but does
  not decrement ``hearts_today``, which counts heart actions of the day.
- **Day counters** (``*_today``) refer to ``counters_day``, the UTC date of the newest
  event counted. An event of a later day resets them first; a late event of an earlier
  day still enters the sequences and ``plays_total`` but not the day counters.
- Sequences keep the last ``recent_sequence_length`` entries in arrival order.
- Other actions (EXPOSURE, DISLIKE, SHARE, DOWNLOAD, COMMENT) only advance the session.
- **Anonymous events** (no user id) have no user state: they go to the offline log only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from encore.feature_store.schema import USER_REALTIME
from encore.platform.contracts.labels import is_complete_play
from encore.platform.contracts.sessions import DEFAULT_INACTIVITY_GAP_MS, next_session_name, opens_session
from encore.protos.encore.v1.event_pb2 import Action, Scenario

STATE_VERSION = 1

# Feature columns of the Feast feature view ``user_realtime`` (besides user_id and
# event_timestamp) in the order the processor writes them: the Feast schema's own list.
FEATURE_NAMES = tuple(USER_REALTIME.feature_names)
# Columns coerced back to Python ints when the state is rebuilt from a stored row.
_INT_LIST_FEATURES = frozenset(
    f.name for f in USER_REALTIME.features
    if pa.types.is_list(f.type) and pa.types.is_integer(f.type.value_type)
)
_INT_FEATURES = frozenset(f.name for f in USER_REALTIME.features if pa.types.is_integer(f.type))


def is_complete(played_ms: int, duration_ms: int | None) -> bool:
    """The shared rule of encore.platform.contracts.labels; an unknown duration is never
    complete."""
    return bool(duration_ms) and bool(is_complete_play(played_ms, duration_ms))


@dataclass(frozen=True)
class StreamEvent:
    """The fields of an ``encore.v1.Event`` the stream state needs."""

    event_id: str
    user_id: int | None
    track_id: int
    scenario: str  # Scenario enum name, e.g. "PRIVATE_RADIO"
    action: str  # Action enum name, e.g. "PLAY_START"
    ts_ms: int
    played_ms: int = 0
    anonymous_id: str | None = None

    @classmethod
    def from_proto(cls, event: Any) -> "StreamEvent":
        subject = event.WhichOneof("subject")
        return cls(
            event_id=event.event_id,
            user_id=event.user_id if subject == "user_id" else None,
            anonymous_id=event.anonymous_id if subject == "anonymous_id" else None,
            track_id=event.track_id,
            scenario=Scenario.Name(event.scenario),
            action=Action.Name(event.action),
            ts_ms=event.timestamp.ToMilliseconds(),
            played_ms=event.played_ms,
        )


@dataclass(frozen=True)
class StateParams:
    recent_sequence_length: int = 50
    dedupe_window: int = 512
    inactivity_gap_ms: int = DEFAULT_INACTIVITY_GAP_MS
    max_session_ms: int = 90 * 60 * 1000
    # track_id -> duration in ms; None or a missing track: completes are not counted
    durations: Mapping[int, int] | Callable[[int], int | None] | None = None

    def duration_of(self, track_id: int) -> int | None:
        if self.durations is None:
            return None
        if callable(self.durations):
            return self.durations(track_id)
        return self.durations.get(track_id)

    @classmethod
    def from_config(cls, config: Any, durations: Any = None) -> "StateParams":
        """The parameters an ``EncoreConfig`` gives: its ``stream`` section, and the
        sessionization rule (inactivity gap, maximum session length) from ``world``."""
        stream = config.stream
        return cls(
            recent_sequence_length=stream.recent_sequence_length,
            dedupe_window=stream.dedupe_window,
            inactivity_gap_ms=config.world.inactivity_gap_minutes * 60_000,
            max_session_ms=config.world.max_session_minutes * 60_000,
            durations=durations,
        )


@dataclass
class UserState:
    user_id: int
    session_id: str = ""
    session_start_ms: int = 0
    session_last_ms: int = 0
    session_scenario: str = ""
    session_track_ids: list[int] = field(default_factory=list)
    recent_play_track_ids: list[int] = field(default_factory=list)
    recent_play_ts_ms: list[int] = field(default_factory=list)
    recent_heart_track_ids: list[int] = field(default_factory=list)
    recent_heart_ts_ms: list[int] = field(default_factory=list)
    recent_skip_track_ids: list[int] = field(default_factory=list)
    recent_skip_ts_ms: list[int] = field(default_factory=list)
    recent_skip_at_ms: list[int] = field(default_factory=list)
    counters_day: str = ""
    plays_today: int = 0
    completes_today: int = 0
    skips_today: int = 0
    hearts_today: int = 0
    plays_total: int = 0
    # idempotency bookkeeping (the stream_state JSON)
    offsets: dict[str, int] = field(default_factory=dict)
    seen_ids: list[str] = field(default_factory=list)
    pushed_us: int = 0  # event_timestamp (epoch µs) of the last push; strictly increases

    # -- (de)serialisation to the feature row -------------------------------------------
    def stream_state_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "offsets": self.offsets,
                "ids": self.seen_ids,
                "last_ms": self.session_last_ms,
                "scenario": self.session_scenario,
                "pushed_us": self.pushed_us,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    def feature_row(self) -> dict[str, Any]:
        """The row pushed to ``user_realtime_push`` (without event_timestamp)."""
        row: dict[str, Any] = {"user_id": self.user_id}
        for name in FEATURE_NAMES:
            row[name] = self.stream_state_json() if name == "stream_state" else getattr(self, name)
        return row

    @classmethod
    def from_feature_row(cls, user_id: int, row: Mapping[str, Any] | None) -> "UserState":
        """Rebuild the state from what the online store returned (None: a new user)."""
        state = cls(user_id=int(user_id))
        if not row or not row.get("stream_state"):
            return state
        for name in FEATURE_NAMES:
            value = row.get(name)
            if name == "stream_state" or value is None:
                continue
            if name in _INT_LIST_FEATURES:
                value = [int(v) for v in value]
            elif name in _INT_FEATURES:
                value = int(value)
            setattr(state, name, value)
        meta = json.loads(row["stream_state"])
        state.offsets = {str(k): int(v) for k, v in meta.get("offsets", {}).items()}
        state.seen_ids = list(meta.get("ids", []))
        state.session_last_ms = int(meta.get("last_ms", 0))
        state.session_scenario = str(meta.get("scenario", ""))
        state.pushed_us = int(meta.get("pushed_us", 0))
        return state

    def next_push_timestamp(self) -> datetime:
        """A push timestamp that is the newest event time, bumped to stay strictly
        above the previous push (online stores such as Redis drop a write whose
        timestamp is not newer than the stored one)."""
        us = max(self.session_last_ms * 1000, self.pushed_us + 1)
        self.pushed_us = us
        return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc)


def event_key(event_id: str) -> str:
    """The compact form of an event id kept in the dedupe window (64-bit hash)."""
    return hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


def _utc_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _append(values: list[int], value: int, limit: int) -> None:
    values.append(value)
    if len(values) > limit:
        del values[: len(values) - limit]


APPLIED = "applied"
DUPLICATE_OFFSET = "duplicate_offset"
DUPLICATE_ID = "duplicate_id"


def apply_record(
    state: UserState,
    event: StreamEvent,
    params: StateParams,
    *,
    partition_key: str | None = None,
    offset: int | None = None,
) -> str:
    """Apply one record to ``state`` in place; returns APPLIED or why it was skipped.

    ``partition_key`` (``"topic:partition"``) and ``offset`` identify the Kafka record;
    leave them None to apply an event without offset bookkeeping (tests, backfills).
    """
    if partition_key is not None and offset is not None:
        if offset <= state.offsets.get(partition_key, -1):
            return DUPLICATE_OFFSET
        state.offsets[partition_key] = offset
    key = event_key(event.event_id)
    if key in state.seen_ids:
        return DUPLICATE_ID
    _append(state.seen_ids, key, params.dedupe_window)  # type: ignore[arg-type]
    apply_event(state, event, params)
    return APPLIED


def apply_event(state: UserState, event: StreamEvent, params: StateParams) -> None:
    """Apply one event (no dedupe) to ``state`` in place."""
    n = params.recent_sequence_length
    ts = event.ts_ms

    # sessions: the incremental form of sessionize()
    if ts >= state.session_last_ms or not state.session_id:
        if opens_session(
            state.session_start_ms if state.session_id else None,
            state.session_last_ms,
            state.session_scenario,
            ts,
            event.scenario,
            max_session_ms=params.max_session_ms,
            inactivity_gap_ms=params.inactivity_gap_ms,
        ):
            state.session_id = next_session_name(
                state.user_id, ts, state.session_start_ms, state.session_id or None)
            state.session_start_ms = ts
            state.session_track_ids = []
        state.session_last_ms = ts
        state.session_scenario = event.scenario
    # else: a late event joins the open session without moving its bookkeeping

    day = _utc_day(ts)
    if day > state.counters_day:
        state.counters_day = day
        state.plays_today = state.completes_today = state.skips_today = state.hearts_today = 0
    today = day == state.counters_day

    action = event.action
    if action == "PLAY_START":
        _append(state.recent_play_track_ids, event.track_id, n)
        _append(state.recent_play_ts_ms, ts, n)
        _append(state.session_track_ids, event.track_id, n)
        state.plays_total += 1
        state.plays_today += today
    elif action == "PLAY_END":
        if is_complete(event.played_ms, params.duration_of(event.track_id)):
            state.completes_today += today
    elif action == "SKIP":
        _append(state.recent_skip_track_ids, event.track_id, n)
        _append(state.recent_skip_ts_ms, ts, n)
        _append(state.recent_skip_at_ms, event.played_ms, n)
        state.skips_today += today
    elif action == "HEART":
        _append(state.recent_heart_track_ids, event.track_id, n)
        _append(state.recent_heart_ts_ms, ts, n)
        state.hearts_today += today
    elif action == "UNHEART":
        keep = [i for i, t in enumerate(state.recent_heart_track_ids) if t != event.track_id]
        state.recent_heart_track_ids = [state.recent_heart_track_ids[i] for i in keep]
        state.recent_heart_ts_ms = [state.recent_heart_ts_ms[i] for i in keep]


def replay(
    user_id: int, events: list[StreamEvent], params: StateParams
) -> UserState:
    """The state of one user after ``events`` in order, each id applied once (the
    reference the integration tests compare the online features with)."""
    state = UserState(user_id=user_id)
    seen: set[str] = set()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        apply_event(state, event, params)
    return state

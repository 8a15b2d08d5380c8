"""Per-user real-time state of the stream processor: pure logic, no Kafka, no Feast.

A user's state is a deterministic function of (previous state, events in offset
order). The processor reads the state back from the online store, applies the new
records with :func:`apply_record` and pushes the result; nothing else is kept between
batches, so any consumer of the group that takes over a partition continues exactly
where the last push left off.

Semantics (hand-checked by tests/unit/platform/stream/test_state.py):

- **Idempotency.** The state remembers, per ``topic:partition``, the offset of the last
  record applied for this user (``offsets``): a record at or below that high-water
  offset is a redelivery (a crash between push and commit, a rebalance) and changes
  nothing. Producer-side re-sends (same ``event_id`` at a new offset, e.g. a day
  replayed twice) are caught by time, not by count: the state keeps a 64-bit hash of
  the id of every applied event, grouped by the event's UTC day (``seen``), for the
  user's newest event day and the ``dedupe_retention_days`` days before it. An id
  found there is a duplicate (``DUPLICATE_ID``): it changes nothing except the
  high-water offset, however many events the user sent in between.
- **Retention (too-late events).** An event whose UTC day is more than
  ``dedupe_retention_days`` days before the user's newest applied event day cannot be
  checked against its id any more, so it is not applied (``TOO_LATE``, counted by the
  processor as ``too_late``): a re-send, or a straggler, that old has no effect on the
  features (the offline log still has it for the batch jobs). Days older than that
  are dropped from the state when the newest day advances, which bounds its size to
  the ids of ``dedupe_retention_days + 1`` days of the user's events.
- **Future events** are refused before they reach the state (see the processor and
  ``stream.max_future_skew_s``), so a client clock running fast cannot move the
  user's newest day, and with it "today" and the retention horizon, forward.
- **Encoding.** ``stream_state`` is compact JSON; each retained day's hashes are one
  base64 string of packed little-endian uint64 (8 bytes per event), keyed by the day
  number (days since 1970-01-01 UTC). Version 1 states (a list of hex ids) are read
  back with their ids filed under the day of the last event.
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
  (``duration`` of the track from the catalog; an unknown duration never completes): it
  counts in ``completes_today`` and its track and PLAY_END ms go to the recent-complete
  sequences (the complete-play sequence DIEN reads).
- **A skip** is a ``SKIP``: track, event ms and the playback position at which it was
  skipped (``played_ms``) go to the recent-skip sequences; counts in ``skips_today``.
- **A dislike** is a ``DISLIKE``: the track goes to the recent-dislike sequence (the
  serving Pipeline never returns those tracks). An ``UNHEART`` does not touch it.
- **A heart** appends to the recent-heart sequence and counts in ``hearts_today``.
  **UNHEART removes** every entry of that track from the recent-heart sequence (the
  sequence then lists the tracks the user currently likes, most recent last) but does
  not decrement ``hearts_today``, which counts heart actions of the day.
- **Day counters** (``*_today``) refer to ``counters_day``, the UTC date of the newest
  event counted. An event of a later day resets them first; a late event of an earlier
  day (within the retention) still enters the sequences and ``plays_total`` but not the
  day counters.
- Sequences keep the last ``recent_sequence_length`` entries in arrival order.
- Other actions (EXPOSURE, SHARE, DOWNLOAD, COMMENT) only advance the session.
- **Anonymous events** (no user id) have no user state: they go to the offline log only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from encore.feature_store.schema import USER_REALTIME
from encore.platform.contracts.labels import is_complete_play
from encore.platform.config import SessionsConfig, StreamConfig
from encore.platform.contracts.sessions import next_session_name, opens_session
from encore.protos.encore.v1.event_pb2 import Action, Scenario

STATE_VERSION = 2
DAY_MS = 86_400_000

# Feature columns of the Feast feature view ``user_realtime`` (besides user_id and
# event_timestamp) in the order the processor writes them: the Feast schema's own list.
FEATURE_NAMES = tuple(USER_REALTIME.feature_names)
# Columns coerced back to Python ints when the state is rebuilt from a stored row.
_INT_LIST_FEATURES = frozenset(
    f.name for f in USER_REALTIME.features
    if pa.types.is_list(f.type) and pa.types.is_integer(f.type.value_type)
)
_INT_FEATURES = frozenset(f.name for f in USER_REALTIME.features if pa.types.is_integer(f.type))


_SCENARIO_NAMES = {number: name for name, number in Scenario.items()}
_ACTION_NAMES = {number: name for name, number in Action.items()}


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
            scenario=_SCENARIO_NAMES.get(event.scenario) or Scenario.Name(event.scenario),
            action=_ACTION_NAMES.get(event.action) or Action.Name(event.action),
            ts_ms=event.timestamp.ToMilliseconds(),
            played_ms=event.played_ms,
        )


@dataclass(frozen=True)
class StateParams:
    """The state machine's settings; the defaults are the config sections' own
    (``StateParams.from_config`` takes a loaded config)."""

    recent_sequence_length: int = StreamConfig().recent_sequence_length
    # ids of events up to this many UTC days before the user's newest event day are
    # kept (exactly-once effect); older events are TOO_LATE
    dedupe_retention_days: int = StreamConfig().dedupe_retention_days
    inactivity_gap_ms: int = SessionsConfig().inactivity_gap_ms
    max_session_ms: int = SessionsConfig().max_session_ms
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
        sessionization rule (inactivity gap, maximum session length) from ``sessions``."""
        stream = config.stream
        return cls(
            recent_sequence_length=stream.recent_sequence_length,
            dedupe_retention_days=stream.dedupe_retention_days,
            inactivity_gap_ms=config.sessions.inactivity_gap_ms,
            max_session_ms=config.sessions.max_session_ms,
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
    recent_dislike_track_ids: list[int] = field(default_factory=list)
    recent_complete_track_ids: list[int] = field(default_factory=list)
    recent_complete_ts_ms: list[int] = field(default_factory=list)
    counters_day: str = ""
    plays_today: int = 0
    completes_today: int = 0
    skips_today: int = 0
    hearts_today: int = 0
    plays_total: int = 0
    # idempotency bookkeeping (the stream_state JSON)
    offsets: dict[str, int] = field(default_factory=dict)
    # UTC day number -> 64-bit hashes of the ids of the events of that day applied
    seen: dict[int, set[int]] = field(default_factory=dict)
    pushed_us: int = 0  # event_timestamp (epoch µs) of the last push; strictly increases

    # -- (de)serialisation to the feature row -------------------------------------------
    def stream_state_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "offsets": self.offsets,
                "ids": {str(day): _pack(keys) for day, keys in self.seen.items()},
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
            if name == "stream_state":
                row[name] = self.stream_state_json()
            else:
                value = getattr(self, name)
                row[name] = list(value) if isinstance(value, list) else value
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
        ids = meta.get("ids", {})
        if isinstance(ids, list):  # version 1: hex hashes of the last N events
            day = state.session_last_ms // DAY_MS
            state.seen = {day: {int(h, 16) for h in ids}} if ids else {}
        else:
            state.seen = {int(day): _unpack(packed) for day, packed in ids.items()}
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


def event_key(event_id: str) -> int:
    """The compact form of an event id kept in the state: a 64-bit hash."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def _pack(keys: set[int]) -> str:
    return base64.b64encode(array("Q", keys).tobytes()).decode("ascii")


def _unpack(packed: str) -> set[int]:
    values = array("Q")
    values.frombytes(base64.b64decode(packed))
    return set(values)


def stream_state_has(stream_state: str | None, event_id: str) -> bool:
    """Whether a stored ``stream_state`` shows ``event_id`` applied (benchmarks, tests)."""
    if not stream_state:
        return False
    key = event_key(event_id)
    ids = json.loads(stream_state).get("ids", {})
    if isinstance(ids, list):
        return format(key, "016x") in ids
    return any(key in _unpack(packed) for packed in ids.values())


def _utc_day(ts_ms: int) -> str:
    return _day_name(ts_ms // DAY_MS)


@lru_cache(maxsize=4096)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")


def _append(values: list[int], value: int, limit: int) -> None:
    values.append(value)
    if len(values) > limit:
        del values[: len(values) - limit]


APPLIED = "applied"
DUPLICATE_OFFSET = "duplicate_offset"
DUPLICATE_ID = "duplicate_id"
TOO_LATE = "too_late"


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
    day = event.ts_ms // DAY_MS
    seen = state.seen
    newest = max(seen) if seen else day
    if day < newest - params.dedupe_retention_days:
        return TOO_LATE
    key = event_key(event.event_id)
    for keys in seen.values():
        if key in keys:
            return DUPLICATE_ID
    if day in seen:
        seen[day].add(key)
    else:
        seen[day] = {key}
        if day > newest:  # the horizon moves: forget the days that fell out of it
            horizon = day - params.dedupe_retention_days
            for old in [d for d in seen if d < horizon]:
                del seen[old]
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
            _append(state.recent_complete_track_ids, event.track_id, n)
            _append(state.recent_complete_ts_ms, ts, n)
    elif action == "SKIP":
        _append(state.recent_skip_track_ids, event.track_id, n)
        _append(state.recent_skip_ts_ms, ts, n)
        _append(state.recent_skip_at_ms, event.played_ms, n)
        state.skips_today += today
    elif action == "DISLIKE":
        _append(state.recent_dislike_track_ids, event.track_id, n)
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
    """The state of one user after ``events`` in order, each id applied once and events
    beyond the retention horizon dropped (the reference the integration tests compare
    the online features with)."""
    state = UserState(user_id=user_id)
    seen: set[str] = set()
    newest: int | None = None
    for event in events:
        day = event.ts_ms // DAY_MS
        if event.event_id in seen or (
                newest is not None and day < newest - params.dedupe_retention_days):
            continue
        seen.add(event.event_id)
        newest = day if newest is None else max(newest, day)
        apply_event(state, event, params)
    return state

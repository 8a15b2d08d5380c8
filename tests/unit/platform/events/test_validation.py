"""Hand cases for encore.platform.events.validation.validate."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from encore.platform.config import EventsConfig
from encore.platform.events.validation import validate
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario

NOW_S = datetime(2026, 1, 6, tzinfo=timezone.utc).timestamp()
MAX_ID_CHARS = EventsConfig().max_id_chars


def test_valid_event_has_no_reasons(make_event) -> None:
    assert validate(make_event(), now_s=NOW_S) == []


def test_valid_anonymous_exposure(make_event) -> None:
    event = make_event(anonymous_id="device-1", action=Action.EXPOSURE, played_ms=0,
                       position=0, propensity=0.2, request_id="r-1")
    assert validate(event, now_s=NOW_S) == []


def test_zero_ids_are_real_ids(make_event) -> None:
    assert validate(make_event(user_id=0, track_id=0), now_s=NOW_S) == []


def test_skip_at_zero_ms_is_valid(make_event) -> None:
    assert validate(make_event(action=Action.SKIP, played_ms=0), now_s=NOW_S) == []


@pytest.mark.parametrize("action", [Action.PLAY_END, Action.SKIP])
def test_played_ms_must_be_present_for_play_end_and_skip(make_event, action) -> None:
    event = make_event(action=action)
    event.ClearField("played_ms")
    assert validate(event, now_s=NOW_S) == [f"played_ms is required for {Action.Name(action)}"]


def test_missing_track_id_is_not_track_zero(make_event) -> None:
    event = make_event()
    event.ClearField("track_id")
    assert validate(event, now_s=NOW_S) == ["missing track_id"]


def test_empty_event_lists_every_problem() -> None:
    assert validate(Event(), now_s=NOW_S) == [
        "missing event_id",
        "missing subject (user_id or anonymous_id)",
        "missing track_id",
        "scenario is SCENARIO_UNSPECIFIED",
        "action is ACTION_UNSPECIFIED",
        "missing timestamp",
    ]


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"event_id": ""}, "missing event_id"),
    ({"event_id": "x" * (MAX_ID_CHARS + 1)}, "event_id is 129 characters long"),
    ({"user_id": -3}, "user_id must be >= 0"),
    ({"anonymous_id": ""}, "missing anonymous_id"),
    ({"anonymous_id": "a" * 500}, "anonymous_id is 500 characters long"),
    ({"session_id": "s" * 200}, "session_id is 200 characters long"),
    ({"request_id": "r" * 129}, "request_id is 129 characters long"),
    ({"track_id": -1}, "track_id must be >= 0"),
    ({"scenario": Scenario.SCENARIO_UNSPECIFIED}, "scenario is SCENARIO_UNSPECIFIED"),
    ({"scenario": 99}, "unknown scenario 99"),
    ({"action": Action.ACTION_UNSPECIFIED}, "action is ACTION_UNSPECIFIED"),
    ({"action": 42}, "unknown action 42"),
    ({"played_ms": -5}, "played_ms must be non-negative"),
    ({"action": Action.SKIP, "played_ms": -1}, "played_ms must be non-negative"),
    ({"played_ms": 10**12}, "is more than 86400000"),
    ({"position": -1}, "position must be non-negative"),
    ({"action": Action.EXPOSURE, "propensity": 0.0}, "propensity must be in (0, 1]"),
    ({"action": Action.EXPOSURE, "propensity": 1.5}, "propensity must be in (0, 1]"),
    ({"action": Action.EXPOSURE, "propensity": float("nan")}, "propensity must be in (0, 1]"),
    ({"action": Action.EXPOSURE, "propensity": -0.1}, "propensity must be in (0, 1]"),
])
def test_single_problem(make_event, overrides: dict, reason: str) -> None:
    reasons = validate(make_event(**overrides), now_s=NOW_S)
    assert len(reasons) == 1, reasons
    assert reason in reasons[0]


@pytest.mark.parametrize(("when", "reason"), [
    (datetime(1999, 12, 31, 23, 59, tzinfo=timezone.utc), "before 2000-01-01"),
    (datetime(1970, 1, 1, tzinfo=timezone.utc), "before 2000-01-01"),
    (datetime(2026, 1, 7, 0, 1, tzinfo=timezone.utc), "more than 86400s in the future"),
])
def test_absurd_timestamps(make_event, when: datetime, reason: str) -> None:
    event = make_event()
    event.timestamp.FromDatetime(when)
    assert reason in " ".join(validate(event, now_s=NOW_S))


def test_timestamp_within_a_day_of_clock_skew_is_fine(make_event) -> None:
    event = make_event()
    event.timestamp.FromDatetime(datetime(2026, 1, 6, 23, 0, tzinfo=timezone.utc))
    assert validate(event, now_s=NOW_S) == []


def test_missing_timestamp(make_event) -> None:
    event = make_event()
    event.ClearField("timestamp")
    assert validate(event, now_s=NOW_S) == ["missing timestamp"]


def test_out_of_range_nanos(make_event) -> None:
    event = make_event()
    event.timestamp.nanos = -1
    assert "nanos" in validate(event, now_s=NOW_S)[0]


def test_default_clock_is_the_wall_clock(make_event) -> None:
    event = make_event()
    event.timestamp.GetCurrentTime()
    assert validate(event) == []
    event.timestamp.seconds += 2 * 24 * 3600
    assert "future" in validate(event)[0]


def _with_unknown_field(event: Event, size: int) -> Event:
    """``event`` carrying an unknown length-delimited field 99 of ``size`` bytes, as a
    newer (or broken) client could send; it parses, and ByteSize counts it."""
    tag = bytes([(99 << 3 | 2) & 0x7F | 0x80, (99 << 3 | 2) >> 7])
    length, n = bytearray(), size
    while True:
        byte, n = n & 0x7F, n >> 7
        length.append(byte | (0x80 if n else 0))
        if not n:
            break
    return Event.FromString(event.SerializeToString() + tag + bytes(length) + b"u" * size)


def test_huge_event_id_is_refused_with_its_size(make_event) -> None:
    reasons = validate(make_event(event_id="x" * 800_000), now_s=NOW_S)
    assert f"event_id is 800000 characters long (at most {MAX_ID_CHARS})" in reasons
    assert any(r.startswith("event is 8000") and "bytes serialized" in r for r in reasons)


def test_unknown_fields_count_towards_the_size_limit(make_event) -> None:
    limit = EventsConfig().max_event_bytes
    assert validate(_with_unknown_field(make_event(), 100), now_s=NOW_S) == []
    [reason] = validate(_with_unknown_field(make_event(), limit), now_s=NOW_S)
    assert reason.startswith("event is") and f"(at most {limit})" in reason


def test_limits_come_from_the_config(make_event) -> None:
    limits = EventsConfig(max_id_chars=4, max_event_bytes=256)
    assert validate(make_event(event_id="abcd"), now_s=NOW_S, limits=limits) == []
    assert validate(make_event(event_id="abcde"), now_s=NOW_S, limits=limits) == [
        "event_id is 5 characters long (at most 4)"]
    assert "bytes serialized" in validate(make_event(session_id="s" * 300), now_s=NOW_S,
                                          limits=EventsConfig(max_id_chars=400, max_event_bytes=256))[0]

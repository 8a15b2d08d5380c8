"""Log row <-> Event <-> Kafka record conversions (encore.platform.events.codec)."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encore.platform.contracts.vocabulary import ACTION_NUMBER, SCENARIO_NUMBER
from encore.platform.events.codec import (
    CodecError, decode_event, encode_event, event_to_row,
    record_key, row_to_event,
)
from encore.platform.events.validation import validate

ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=40)
timestamps = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31),
    timezones=st.just(timezone.utc),
).map(lambda ts: ts.replace(microsecond=ts.microsecond // 1000 * 1000))


@st.composite
def log_rows(draw: st.DrawFn) -> dict:
    """Rows that follow the event-log contract (nulls exactly where a field does not
    apply)."""
    action = draw(st.sampled_from(sorted(ACTION_NUMBER)))
    exposure = action == "exposure"
    return {
        "event_id": draw(ids),
        "ts": draw(timestamps),
        "user_id": draw(st.none() | st.integers(0, 2**63 - 1)),
        "session_id": draw(ids),
        "scenario": draw(st.sampled_from(sorted(SCENARIO_NUMBER))),
        "track_id": draw(st.integers(0, 2**63 - 1)),
        "action": action,
        "played_ms": draw(st.integers(0, 10**7)) if action in ("play_end", "skip") else None,
        "position": draw(st.integers(0, 2**31 - 1)) if exposure else None,
        "propensity": draw(st.floats(0, 1, exclude_min=True, width=32)) if exposure else None,
        "request_id": draw(st.none() | ids),
    }


@settings(max_examples=300, deadline=None)
@given(log_rows())
def test_row_event_row_round_trip(row: dict) -> None:
    event = row_to_event(row)
    assert event_to_row(event) == row
    assert decode_event(encode_event(event)) == event


@settings(max_examples=100, deadline=None)
@given(log_rows())
def test_contract_rows_are_valid_events(row: dict) -> None:
    if row["action"] == "play_end" and row["played_ms"] == 0:
        row["played_ms"] = 1
    assert validate(row_to_event(row), now_s=datetime(2100, 1, 1).timestamp()) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decode_never_fails_with_anything_but_codec_error(payload: bytes) -> None:
    try:
        decode_event(payload)
    except CodecError:
        pass


def test_anonymous_row_is_keyed_by_its_session() -> None:
    row = {"event_id": "e", "ts": pd.Timestamp("2026-01-05 08:00", tz="UTC"),
           "user_id": pd.NA, "session_id": "anon-9", "scenario": "private_radio",
           "track_id": 3, "action": "play_start"}
    event = row_to_event(row)
    assert event.WhichOneof("subject") == "anonymous_id"
    assert event.anonymous_id == "anon-9"
    assert record_key(event) == b"a:anon-9"
    assert event_to_row(event)["user_id"] is None


def test_pandas_row_with_nan_nulls() -> None:
    frame = pd.DataFrame([{
        "event_id": "e", "ts": pd.Timestamp("2026-01-05 08:00:00.250", tz="UTC"),
        "user_id": 12, "session_id": "s", "scenario": "search", "track_id": 5,
        "action": "heart", "played_ms": float("nan"), "position": None,
        "propensity": float("nan"), "request_id": None,
    }])
    event = row_to_event(frame.iloc[0])
    assert record_key(event) == b"u:12"
    assert event.timestamp.ToMilliseconds() == 1_767_600_000_250
    assert (event.played_ms, event.position, event.propensity, event.request_id) == (0, 0, 0.0, "")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("scenario", "radio", "unknown scenario"),
    ("action", None, "unknown action"),
    ("track_id", "abc", "track_id must be an integer"),
    ("track_id", 1.5, "track_id must be an integer"),
    ("ts", None, "no ts"),
    ("ts", "yesterday", "ts must be a timestamp"),
    ("propensity", "high", "propensity must be a number"),
])
def test_bad_rows_raise_codec_error(field: str, value: object, message: str) -> None:
    row = {"event_id": "e", "ts": datetime(2026, 1, 5, tzinfo=timezone.utc), "user_id": 1,
           "session_id": "s", "scenario": "search", "track_id": 5, "action": "heart"}
    row[field] = value
    with pytest.raises(CodecError, match=message):
        row_to_event(row)


def test_anonymous_row_without_session_is_refused() -> None:
    row = {"event_id": "e", "ts": datetime(2026, 1, 5, tzinfo=timezone.utc), "user_id": None,
           "session_id": None, "scenario": "search", "track_id": 5, "action": "heart"}
    with pytest.raises(CodecError, match="no session_id"):
        row_to_event(row)


def test_user_and_anonymous_keys_never_collide() -> None:
    user = row_to_event({"event_id": "e", "ts": 1_767_600_000_000, "user_id": 42,
                         "session_id": "42", "scenario": "search", "track_id": 1,
                         "action": "heart"})
    anonymous = row_to_event({"event_id": "e", "ts": 1_767_600_000_000, "user_id": None,
                              "session_id": "42", "scenario": "search", "track_id": 1,
                              "action": "heart"})
    assert record_key(user) == b"u:42" and record_key(anonymous) == b"a:42"


def test_garbage_bytes_are_a_codec_error() -> None:
    with pytest.raises(CodecError, match="not an encore.v1.Event"):
        decode_event(b"\xff\xff\xff garbage")

"""Event survives serialise -> parse unchanged, and old readers keep what they do not know."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from encore.protos.encore.v1 import event_pb2

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any Unicode text protobuf can carry (hypothesis' text() never yields lone surrogates).
IDS = st.text(max_size=64)
# 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, the range google.protobuf.Timestamp allows.
TIMESTAMPS = st.builds(
    Timestamp,
    seconds=st.integers(min_value=-62_135_596_800, max_value=253_402_300_799),
    nanos=st.integers(min_value=0, max_value=999_999_999),
)
# One strategy per branch of the `subject` oneof; an event sets exactly one of them.
SUBJECT_VALUES = {"user_id": INT64, "anonymous_id": IDS}
SUBJECTS = st.one_of([st.fixed_dictionaries({name: values}) for name, values in SUBJECT_VALUES.items()])
# Every other Event field.
FIELD_VALUES = {
    "event_id": IDS,
    "session_id": IDS,
    "track_id": INT64,
    "scenario": st.sampled_from(event_pb2.Scenario.values()),
    "action": st.sampled_from(event_pb2.Action.values()),
    "played_ms": INT64,
    "position": INT32,
    "propensity": st.floats(width=32, allow_nan=False),
    "request_id": IDS,
    "timestamp": TIMESTAMPS,
}


def test_strategy_covers_every_event_field() -> None:
    """Adding a field to Event without adding it to the round-trip strategy fails here."""
    covered = FIELD_VALUES.keys() | SUBJECT_VALUES.keys()
    assert covered == {field.name for field in event_pb2.Event.DESCRIPTOR.fields}


@given(fields=st.fixed_dictionaries(FIELD_VALUES), subject=SUBJECTS)
def test_event_round_trip(fields: dict, subject: dict) -> None:
    event = event_pb2.Event(**fields, **subject)

    parsed = event_pb2.Event.FromString(event.SerializeToString())

    assert parsed == event
    assert parsed.WhichOneof("subject") == next(iter(subject))
    assert parsed.HasField("timestamp")


def test_unknown_fields_and_enum_values_survive_an_old_reader() -> None:
    """A reader built from this contract passes on what a newer writer added."""
    event = event_pb2.Event(event_id="e-1", user_id=7, action=event_pb2.PLAY_END, played_ms=180_000)
    future_field = bytes([13 << 3 | 0, 42])  # field 13 (varint) = 42, unknown to this contract
    future_action = bytes([7 << 3 | 0, 99])  # action = 99, a value this contract does not define

    parsed = event_pb2.Event.FromString(event.SerializeToString() + future_field + future_action)

    assert parsed.action == 99
    assert parsed.played_ms == 180_000
    assert future_field in parsed.SerializeToString()

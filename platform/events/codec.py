"""Conversions between the three shapes an Encore event takes.

1. A *log row*: one row of the simulator's (or a loader's) parquet event log, as a dict
   or a pandas row: ``event_id, ts, user_id (null = anonymous), session_id, scenario,
   track_id, action, played_ms, position, propensity, request_id`` with lower-case
   scenario/action names and nulls where a field does not apply.
2. An ``encore.v1.Event`` proto: the wire contract of the Events service.
3. A *Kafka record*: ``key`` and ``value`` bytes on the event topic.

Decisions, so every producer and consumer agrees:

- An anonymous row (``user_id`` null) becomes ``anonymous_id = session_id``. The simulator
  gives an anonymous listener exactly one client session and nothing else identifies
  them, and the sessionization rule (encore.platform.contracts.sessions) already keys anonymous
  listeners by their session id; reusing it keeps one listener's events on one key.
- ``track_id`` and ``played_ms`` have explicit presence on the wire (proto3
  ``optional``): a null stays unset and 0 is a real value (track 0, a skip at 0 ms).
  The other scalars have no nulls in proto3, so a null becomes 0 / "" on the way in;
  on the way out ``position`` / ``propensity`` are kept for EXPOSURE, elsewhere 0 reads
  back as null, and ``request_id`` "" reads back as null. Rows that follow the log
  contract round-trip exactly.
- Record key: ``b"u:<user_id>"`` or ``b"a:<anonymous_id>"``, so the default (murmur2)
  partitioner keeps one listener's events in one partition, in order; the prefixes keep
  user 42 and an anonymous id "42" apart. An event with no subject has no key.
- Record value: ``Event.SerializeToString()`` (binary protobuf, no framing).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from google.protobuf.message import DecodeError

from encore.platform.contracts.vocabulary import ACTION_NUMBER, SCENARIO_NUMBER
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario

USER_KEY_PREFIX = b"u:"
ANONYMOUS_KEY_PREFIX = b"a:"

_PRESENCE_FIELDS = ("track_id", "played_ms")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class CodecError(ValueError):
    """A row or payload cannot be converted (unknown scenario/action, bad types, ...)."""


_SCENARIO_NAMES = {value: name for name, value in SCENARIO_NUMBER.items()}
_ACTION_NAMES = {value: name for name, value in ACTION_NUMBER.items()}


def _is_null(value: Any) -> bool:
    """None, NaN, pandas NA/NaT: every null a parquet -> pandas/arrow read can produce."""
    if value is None:
        return True
    try:
        return bool(value != value)  # only NaN and NaT differ from themselves
    except TypeError:
        return True  # pd.NA: comparing gives NA, and bool(NA) raises TypeError
    except ValueError:
        return False  # an array: not null (and refused later as the wrong type)


def _epoch_ms(ts: Any) -> int:
    """Epoch milliseconds of a datetime / pandas Timestamp (naive means UTC) or an int."""
    if isinstance(ts, bool):
        raise CodecError(f"ts must be a timestamp, got {ts!r}")
    if isinstance(ts, int):
        return ts
    if hasattr(ts, "to_pydatetime"):  # pandas Timestamp; numpy datetime64 has no tz
        ts = ts.to_pydatetime()
    if not isinstance(ts, datetime):
        raise CodecError(f"ts must be a timestamp, got {type(ts).__name__} {ts!r}")
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _int(row: Mapping[str, Any], field: str) -> int:
    value: Any = row.get(field)
    if _is_null(value):
        return 0
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise CodecError(f"{field} must be an integer, got {value!r}") from err


def _str(row: Mapping[str, Any], field: str) -> str:
    value: Any = row.get(field)
    return "" if _is_null(value) else str(value)


def _enum(row: Mapping[str, Any], field: str, by_name: Mapping[str, int]) -> int:
    name = _str(row, field).lower()
    if name not in by_name:
        raise CodecError(f"unknown {field} {row.get(field)!r}; expected one of {sorted(by_name)}")
    return by_name[name]


def row_to_event(row: Mapping[str, Any]) -> Event:
    """The Event for one log row. Raises CodecError on a row it cannot represent."""
    if _is_null(row.get("ts")):
        raise CodecError("row has no ts")
    event = Event(
        event_id=_str(row, "event_id"),
        session_id=_str(row, "session_id"),
        # enum numbers are valid values; the stubs only name the Python enum types
        scenario=cast(Scenario, _enum(row, "scenario", SCENARIO_NUMBER)),
        action=cast(Action, _enum(row, "action", ACTION_NUMBER)),
        position=_int(row, "position"),
        request_id=_str(row, "request_id"),
    )
    for field in _PRESENCE_FIELDS:  # explicit presence: a null stays unset, 0 is a value
        if not _is_null(row.get(field)):
            setattr(event, field, _int(row, field))
    propensity: Any = row.get("propensity")
    if not _is_null(propensity):
        try:
            event.propensity = float(propensity)
        except (TypeError, ValueError) as err:
            raise CodecError(f"propensity must be a number, got {propensity!r}") from err
    if _is_null(row.get("user_id")):
        if not event.session_id:
            raise CodecError("anonymous row (null user_id) has no session_id to key it by")
        event.anonymous_id = event.session_id
    else:
        event.user_id = _int(row, "user_id")
    ts_ms = _epoch_ms(row["ts"])
    try:
        event.timestamp.FromMilliseconds(ts_ms)
    except (ValueError, OverflowError) as err:
        raise CodecError(f"ts {row['ts']!r} is out of range") from err
    return event


def event_to_row(event: Event) -> dict[str, Any]:
    """The log row of an Event (the inverse of row_to_event for rows that follow the log
    contract). ``ts`` is an aware UTC datetime; enum values outside the names known to
    this build become ``"unknown(<n>)"`` rather than failing."""
    action = event.action
    keep_exposure = action == Action.EXPOSURE
    micros = event.timestamp.seconds * 1_000_000 + event.timestamp.nanos // 1000
    try:
        ts = _EPOCH + timedelta(microseconds=micros)
    except OverflowError as err:
        raise CodecError(f"timestamp {event.timestamp.seconds}s is out of range") from err
    return {
        "event_id": event.event_id,
        "ts": ts,
        "user_id": event.user_id if event.WhichOneof("subject") == "user_id" else None,
        "session_id": event.session_id,
        "scenario": _SCENARIO_NAMES.get(event.scenario, f"unknown({event.scenario})"),
        "track_id": event.track_id if event.HasField("track_id") else None,
        "action": _ACTION_NAMES.get(action, f"unknown({action})"),
        "played_ms": event.played_ms if event.HasField("played_ms") else None,
        "position": event.position if keep_exposure or event.position else None,
        "propensity": event.propensity if keep_exposure or event.propensity else None,
        "request_id": event.request_id or None,
    }


def record_key(event: Event) -> bytes | None:
    """Partition key of an event: one listener's events share it (None without subject)."""
    subject = event.WhichOneof("subject")
    if subject == "user_id":
        return USER_KEY_PREFIX + str(event.user_id).encode()
    if subject == "anonymous_id":
        return ANONYMOUS_KEY_PREFIX + event.anonymous_id.encode()
    return None


def encode_event(event: Event) -> bytes:
    """Record value of an event."""
    return event.SerializeToString()


def decode_event(value: bytes) -> Event:
    """Parse a record value; CodecError if the bytes are not an encore.v1.Event."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise CodecError(f"record value must be bytes, got {type(value).__name__}")
    try:
        return Event.FromString(bytes(value))
    except DecodeError as err:
        raise CodecError(f"payload is not an encore.v1.Event: {err}") from err

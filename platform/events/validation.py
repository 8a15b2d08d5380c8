"""Checks an ``encore.v1.Event`` must pass before it enters the event stream.

``validate`` returns every reason an event is malformed (an empty list means valid), so a
client fixing a rejected event sees all its problems at once, and the dead-letter record
says exactly why it was set aside. The checks follow the field comments of
protos/encore/v1/event.proto; anything that would poison the stream processor or the
Spark jobs downstream (no subject, an unknown action, a timestamp from 1970) is refused
at the door instead of being patched later.
"""

from __future__ import annotations

import math
import time

from encore.platform.config import EventsConfig
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario

MIN_ID = 0
"""Smallest user_id / track_id accepted. Catalog and user ids are 0-based (the simulated
world numbers tracks and users from 0), so 0 is a real id; a missing one is still told
apart, by the subject oneof for user_id and by explicit presence for track_id."""
MIN_TIMESTAMP_S = 946_684_800  # 2000-01-01T00:00:00Z

# number -> label of each enum, built once (validate runs for every streamed event)
_SCENARIO_LABELS = {number: label for label, number in Scenario.items()}
_ACTION_LABELS = {number: label for label, number in Action.items()}


def _check_id(
    name: str, value: str, reasons: list[str], *, required: bool, max_chars: int,
) -> None:
    if not value:
        if required:
            reasons.append(f"missing {name}")
    elif len(value) > max_chars:
        reasons.append(f"{name} is {len(value)} characters long (at most {max_chars})")


def _check_enum(name: str, value: int, labels: dict[int, str], reasons: list[str]) -> None:
    if value == 0:
        reasons.append(f"{name} is {labels[0]}")
    elif value not in labels:
        reasons.append(f"unknown {name} {value}")


def _check_timestamp(event: Event, reasons: list[str], now_s: float, max_skew_s: int) -> None:
    if not event.HasField("timestamp"):
        reasons.append("missing timestamp")
        return
    ts = event.timestamp
    if not 0 <= ts.nanos < 1_000_000_000:
        reasons.append(f"timestamp nanos {ts.nanos} out of range [0, 1e9)")
    elif ts.seconds < MIN_TIMESTAMP_S:
        reasons.append(f"timestamp {ts.seconds}s is before 2000-01-01")
    elif ts.seconds > now_s + max_skew_s:
        reasons.append(f"timestamp {ts.seconds}s is more than {max_skew_s}s in the future")


def validate(
    event: Event, *, now_s: float | None = None, limits: EventsConfig | None = None,
) -> list[str]:
    """Every reason ``event`` is malformed; empty when it may enter the stream.

    ``now_s`` (epoch seconds, default: the wall clock) bounds future timestamps;
    ``limits`` (default: the ``events`` section's defaults) bounds the length
    of every string field and the serialized size of the whole event (unknown fields
    from a newer or broken client included), so that a valid event always fits a Kafka
    record.
    """
    limits = EventsConfig() if limits is None else limits
    reasons: list[str] = []
    size = event.ByteSize()
    if size > limits.max_event_bytes:
        reasons.append(f"event is {size} bytes serialized (at most {limits.max_event_bytes})")
    max_chars = limits.max_id_chars
    _check_id("event_id", event.event_id, reasons, required=True, max_chars=max_chars)

    subject = event.WhichOneof("subject")
    if subject is None:
        reasons.append("missing subject (user_id or anonymous_id)")
    elif subject == "user_id" and event.user_id < MIN_ID:
        reasons.append(f"user_id must be >= {MIN_ID}, got {event.user_id}")
    elif subject == "anonymous_id":
        _check_id("anonymous_id", event.anonymous_id, reasons, required=True, max_chars=max_chars)
    _check_id("session_id", event.session_id, reasons, required=False, max_chars=max_chars)
    _check_id("request_id", event.request_id, reasons, required=False, max_chars=max_chars)

    if not event.HasField("track_id"):
        reasons.append("missing track_id")
    elif event.track_id < MIN_ID:
        reasons.append(f"track_id must be >= {MIN_ID}, got {event.track_id}")
    _check_enum("scenario", event.scenario, _SCENARIO_LABELS, reasons)
    _check_enum("action", event.action, _ACTION_LABELS, reasons)

    if event.HasField("played_ms"):
        if event.played_ms < 0:
            reasons.append(f"played_ms must be non-negative, got {event.played_ms}")
        elif event.played_ms > limits.max_played_ms:
            reasons.append(f"played_ms {event.played_ms} is more than {limits.max_played_ms}")
    elif event.action in (Action.PLAY_END, Action.SKIP):
        reasons.append(f"played_ms is required for {Action.Name(event.action)}")

    if event.position < 0:
        reasons.append(f"position must be non-negative, got {event.position}")
    if event.action == Action.EXPOSURE:
        p = event.propensity
        if math.isnan(p) or not 0.0 < p <= 1.0:
            reasons.append(f"propensity must be in (0, 1] for EXPOSURE, got {p}")

    _check_timestamp(event, reasons, time.time() if now_s is None else now_s,
                     limits.max_clock_skew_s)
    return reasons

"""Kafka fakes for unit tests: a KafkaProducer stand-in that records what it is given,
so producer / replay / service logic is tested without a broker; registered as a pytest
plugin (fixtures ``kafka_config``, ``fake_kafka``, ``make_event``)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kafka.errors import MessageSizeTooLargeError, NotLeaderForPartitionError

from encore.platform.config import KafkaConfig
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario


class FakeFuture:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


BROKER_MAX_RECORD_BYTES = 1_048_576
"""The local broker's (and kafka-python's default max_request_size) 1 MB limit."""


class FakeKafka:
    """Records (topic, key, value); ``send_error`` / ``delivery_error`` simulate a broker
    that refuses at send time or fails the delivery later; ``send_error_after`` lets
    that many sends through before ``send_error`` applies, and ``fail_delivery_of``
    fails the delivery of the records with those event_ids in their value. Like
    kafka-python, a record over 1 MB is refused at send time."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []
        self.send_error: Exception | None = None
        self.send_error_after = 0
        self.delivery_error: Exception | None = None
        self.fail_delivery_of: set[bytes] = set()
        self.closed = False

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> FakeFuture:
        if self.send_error is not None and len(self.records) >= self.send_error_after:
            raise self.send_error
        size = len(key or b"") + len(value)
        if size > BROKER_MAX_RECORD_BYTES:
            raise MessageSizeTooLargeError(f"the message is {size} bytes when serialized")
        self.records.append((topic, key, value))
        if any(marker in value for marker in self.fail_delivery_of):
            return FakeFuture(NotLeaderForPartitionError())
        return FakeFuture(self.delivery_error)

    def close(self, timeout: float | None = None) -> None:
        self.closed = True

    def on(self, topic: str) -> list[tuple[bytes | None, bytes]]:
        return [(key, value) for t, key, value in self.records if t == topic]


@pytest.fixture
def kafka_config() -> KafkaConfig:
    return KafkaConfig(bootstrap_servers="unused:9092", events_topic="ev", dead_letter_topic="dlq")


@pytest.fixture
def fake_kafka() -> FakeKafka:
    return FakeKafka()


def make_valid_event(**overrides: object) -> Event:
    """A valid PLAY_END event by user 7; keyword arguments replace fields."""
    event = Event(
        event_id="e-1", user_id=7, session_id="s-1", track_id=42,
        scenario=Scenario.DAILY_RECOMMEND, action=Action.PLAY_END, played_ms=180_000,
    )
    event.timestamp.FromDatetime(datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc))
    for name, value in overrides.items():
        setattr(event, name, value)
    return event


@pytest.fixture
def make_event():
    """Factory of valid events (see make_valid_event)."""
    return make_valid_event

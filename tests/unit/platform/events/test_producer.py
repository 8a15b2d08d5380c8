"""EventProducer routing, dead-letter records and failures, against a fake client."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError, TopicAlreadyExistsError

from encore.platform.events.codec import decode_event
from encore.platform.events.producer import (
    EventProducer, ProduceError, TopicSetupError, ensure_topics,
)
from encore.protos.encore.v1.event_pb2 import Event


def test_send_many_routes_good_and_bad(kafka_config, fake_kafka, make_event) -> None:
    producer = EventProducer(kafka_config, source="test", client=fake_kafka)
    good, bad = make_event(event_id="good"), make_event(event_id="bad", track_id=-1)
    result = producer.send_many([good, bad])

    assert result.accepted == 1
    assert [(r.index, r.event_id, r.reason) for r in result.rejections] == [
        (1, "bad", "track_id must be >= 0, got -1")]
    assert fake_kafka.on("ev") == [(b"u:7", good.SerializeToString())]
    [(key, value)] = fake_kafka.on("dlq")
    record = json.loads(value)
    assert key == b"u:7"
    assert record["reasons"] == ["track_id must be >= 0, got -1"]
    assert record["event_id"] == "bad" and record["source"] == "test" and record["topic"] == "ev"
    assert decode_event(base64.b64decode(record["payload_base64"])) == bad
    assert record["received_at"].endswith("+00:00")


def test_send_raw_garbage_goes_to_dlq_without_key(kafka_config, fake_kafka) -> None:
    producer = EventProducer(kafka_config, client=fake_kafka)
    reasons = producer.send_raw(b"\xff\xfe not protobuf")
    producer.flush()
    assert "not an encore.v1.Event" in reasons[0]
    [(key, value)] = fake_kafka.on("dlq")
    assert key is None
    assert base64.b64decode(json.loads(value)["payload_base64"]) == b"\xff\xfe not protobuf"


def test_send_raw_valid_bytes_go_to_the_topic(kafka_config, fake_kafka, make_event) -> None:
    producer = EventProducer(kafka_config, client=fake_kafka)
    event = make_event(anonymous_id="dev-1")
    assert producer.send_raw(event.SerializeToString()) == []
    producer.close()
    assert fake_kafka.on("ev") == [(b"a:dev-1", event.SerializeToString())]
    assert fake_kafka.closed


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=100))
def test_send_raw_never_crashes_and_never_drops(kafka_config, fake_kafka, payload: bytes) -> None:
    fake_kafka.records.clear()
    EventProducer(kafka_config, client=fake_kafka).send_raw(payload)
    assert len(fake_kafka.records) == 1


def test_send_time_failure_is_produce_error(kafka_config, fake_kafka, make_event) -> None:
    fake_kafka.send_error = KafkaTimeoutError("no metadata after 10000 ms")
    producer = EventProducer(kafka_config, client=fake_kafka)
    with pytest.raises(ProduceError, match="cannot produce to ev"):
        producer.send_many([make_event()])


def test_delivery_failure_is_produce_error(kafka_config, fake_kafka, make_event) -> None:
    fake_kafka.delivery_error = NotLeaderForPartitionError()
    producer = EventProducer(kafka_config, client=fake_kafka)
    with pytest.raises(ProduceError, match="1 of 1 records were not delivered"):
        producer.send_many([make_event()])
    producer.send(make_event())
    with pytest.raises(ProduceError):
        producer.flush()
    producer.flush()  # failures are reported once


def test_send_rejects_non_events(kafka_config, fake_kafka) -> None:
    with pytest.raises(TypeError, match="expected an encore.v1.Event"):
        EventProducer(kafka_config, client=fake_kafka).send({"event_id": "x"})  # type: ignore[arg-type]


class FakeAdmin:
    def __init__(self, codes: dict[str, int]) -> None:
        self.codes, self.requested, self.waited = codes, None, None

    def create_topics(self, topics, timeout_ms=None, raise_errors=True):
        self.requested = topics
        return {"topics": [{"name": n, "error_code": self.codes.get(n, 0), "error_message": None}
                           for n in topics]}

    def wait_for_topics(self, names, timeout_ms=None):
        self.waited = names


def test_ensure_topics_creates_with_partitions(kafka_config) -> None:
    admin = FakeAdmin({})
    assert ensure_topics(admin, kafka_config) == ["ev", "dlq"]
    assert admin.requested["ev"]["num_partitions"] == kafka_config.partitions
    assert admin.waited == ["ev", "dlq"]


def test_ensure_topics_is_idempotent(kafka_config) -> None:
    admin = FakeAdmin({"ev": TopicAlreadyExistsError.errno, "dlq": TopicAlreadyExistsError.errno})
    assert ensure_topics(admin, kafka_config) == []


def test_ensure_topics_reports_other_errors(kafka_config) -> None:
    with pytest.raises(TopicSetupError, match="dlq: error 29"):
        ensure_topics(FakeAdmin({"dlq": 29}), kafka_config)


def test_empty_event_is_dead_lettered_not_dropped(kafka_config, fake_kafka) -> None:
    result = EventProducer(kafka_config, client=fake_kafka).send_many([Event()])
    assert result.accepted == 0 and len(result.rejections) == 1
    assert len(fake_kafka.on("dlq")) == 1

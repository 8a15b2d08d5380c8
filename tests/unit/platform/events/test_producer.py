"""EventProducer routing, dead-letter records and failures, against a fake client."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError

from encore.platform.config import EventsConfig
from encore.platform.events.codec import decode_event
from encore.platform.events.producer import BatchProduceError, EventProducer, ProduceError
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
    with pytest.raises(ProduceError, match="0 of 1 events were written"):
        producer.send_many([make_event()])
    producer.send(make_event())
    with pytest.raises(ProduceError):
        producer.flush()
    producer.flush()  # failures are reported once


def test_send_rejects_non_events(kafka_config, fake_kafka) -> None:
    with pytest.raises(TypeError, match="expected an encore.v1.Event"):
        EventProducer(kafka_config, client=fake_kafka).send({"event_id": "x"})  # type: ignore[arg-type]


def test_empty_event_is_dead_lettered_not_dropped(kafka_config, fake_kafka) -> None:
    result = EventProducer(kafka_config, client=fake_kafka).send_many([Event()])
    assert result.accepted == 0 and len(result.rejections) == 1
    assert len(fake_kafka.on("dlq")) == 1


# -- size limits: one oversized event never fails the batch (defect 7) -----------------

LIMITS = EventsConfig()


def test_huge_event_id_is_rejected_alone_and_its_dead_letter_fits(
        kafka_config, fake_kafka, make_event) -> None:
    huge = make_event(event_id="x" * 800_000)
    events = [make_event(event_id="before"), huge, make_event(event_id="after")]
    result = EventProducer(kafka_config, client=fake_kafka, limits=LIMITS).send_many(events)

    assert result.accepted == 2
    [rejection] = result.rejections
    assert rejection.index == 1
    assert "event_id is 800000 characters long" in rejection.reason
    assert len(rejection.event_id) < 200 and rejection.event_id.endswith("(799872 more characters)")
    assert [decode_event(v).event_id for _, v in fake_kafka.on("ev")] == ["before", "after"]
    [(key, value)] = fake_kafka.on("dlq")
    assert len(key) + len(value) <= LIMITS.max_dead_letter_bytes
    record = json.loads(value)
    original = huge.SerializeToString()
    assert record["payload_truncated"] is True
    assert record["payload_bytes"] == len(original)
    assert record["payload_sha256"] == hashlib.sha256(original).hexdigest()
    assert original.startswith(base64.b64decode(record["payload_base64"]))
    assert record["event_id"].startswith("x" * 128) and "more characters" in record["event_id"]


def test_small_dead_letters_keep_the_whole_payload(kafka_config, fake_kafka, make_event) -> None:
    bad = make_event(track_id=-1)
    EventProducer(kafka_config, client=fake_kafka, limits=LIMITS).send_many([bad])
    record = json.loads(fake_kafka.on("dlq")[0][1])
    assert record["payload_truncated"] is False
    assert base64.b64decode(record["payload_base64"]) == bad.SerializeToString()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload_size=st.integers(0, 2_000_000), id_size=st.integers(0, 300_000),
       key_size=st.sampled_from([0, 10, 100_000]), n_reasons=st.integers(0, 200),
       reason_size=st.integers(0, 20_000), wide=st.booleans(),
       limit=st.sampled_from([4096, 65_536, 262_144]))
def test_dead_letter_records_always_fit(
        kafka_config, fake_kafka, payload_size, id_size, key_size, n_reasons, reason_size,
        wide, limit) -> None:
    char = "\U0001f3b5" if wide else "r"  # JSON writes an astral character as 12 bytes
    producer = EventProducer(kafka_config, client=fake_kafka,
                             limits=EventsConfig(max_dead_letter_bytes=limit))
    key, value = producer.dead_letter_record(
        b"p" * payload_size, [char * reason_size] * n_reasons,
        key=(b"a:" + b"k" * key_size) if key_size else None, event_id=char * id_size)
    assert len(key or b"") + len(value) <= limit
    record = json.loads(value)
    assert record["payload_bytes"] == payload_size
    kept = base64.b64decode(record["payload_base64"])
    assert record["payload_truncated"] == (len(kept) < payload_size)


def test_a_broker_failure_part_way_says_which_events_were_written(
        kafka_config, fake_kafka, make_event) -> None:
    fake_kafka.send_error, fake_kafka.send_error_after = KafkaTimeoutError("gone"), 2
    fake_kafka.fail_delivery_of = {b"second"}
    events = [make_event(event_id=e) for e in ("first", "second", "third", "fourth")]
    with pytest.raises(BatchProduceError) as err:
        EventProducer(kafka_config, client=fake_kafka).send_many(events)
    assert (err.value.written, err.value.total) == ([0], 4)
    assert "1 of 4 events were written" in str(err.value)


def test_the_whole_batch_is_checked_before_anything_is_sent(
        kafka_config, fake_kafka, make_event) -> None:
    with pytest.raises(TypeError):
        EventProducer(kafka_config, client=fake_kafka).send_many([make_event(), "not an event"])
    assert fake_kafka.records == []

"""The Events gRPC service on loopback over a fake Kafka client: rejections, the batch
cap, UNAVAILABLE on broker trouble, and the health / reflection surface of start_server."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kafka.errors import KafkaTimeoutError

from encore.platform.events.producer import EventProducer
from encore.protos.encore.v1 import events_pb2, events_pb2_grpc
from encore.protos.encore.v1.event_pb2 import Event
from encore.serving.events_service import events_service
from encore.serving.grpc_server import start_server


@pytest.fixture
def channel(kafka_config, fake_kafka):
    producer = EventProducer(kafka_config, source="grpc", client=fake_kafka)
    server, port = start_server(events_service(producer, max_events=5), max_workers=2)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    server.stop(None)


def test_log_accepts_good_and_reports_bad(channel, fake_kafka, make_event) -> None:
    events = [make_event(event_id="a"), Event(event_id="b"), make_event(event_id="c")]
    response = events_pb2_grpc.EventsStub(channel).Log(
        events_pb2.LogEventsRequest(events=events), timeout=10)
    assert response.accepted == 2
    [rejection] = response.rejections
    assert (rejection.index, rejection.event_id) == (1, "b")
    assert "missing subject" in rejection.reason and "missing timestamp" in rejection.reason
    assert len(fake_kafka.on("ev")) == 2 and len(fake_kafka.on("dlq")) == 1


def test_oversized_batch_is_invalid_argument(channel, fake_kafka, make_event) -> None:
    request = events_pb2.LogEventsRequest(events=[make_event()] * 6)
    with pytest.raises(grpc.RpcError) as err:
        events_pb2_grpc.EventsStub(channel).Log(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 5" in err.value.details()
    assert fake_kafka.records == []


def test_broker_trouble_is_unavailable(channel, fake_kafka, make_event) -> None:
    fake_kafka.send_error = KafkaTimeoutError("metadata not available")
    with pytest.raises(grpc.RpcError) as err:
        events_pb2_grpc.EventsStub(channel).Log(
            events_pb2.LogEventsRequest(events=[make_event()]), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry" in err.value.details()


def test_empty_batch_is_fine(channel) -> None:
    response = events_pb2_grpc.EventsStub(channel).Log(events_pb2.LogEventsRequest(), timeout=10)
    assert response.accepted == 0 and not response.rejections


def test_health_reports_serving(channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ("", "encore.v1.Events"):
        status = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [response] = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    names = {s.name for s in response.list_services_response.service}
    assert {"encore.v1.Events", "grpc.health.v1.Health"} <= names


def test_start_server_needs_a_service() -> None:
    with pytest.raises(ValueError, match="at least one Service"):
        start_server()


def test_a_huge_malformed_event_is_one_rejection(channel, fake_kafka, make_event) -> None:
    """Defect 7: a 0.8 MB event_id used to fail the whole call with UNAVAILABLE after
    the events before it were written (its dead-letter record was over 1 MB)."""
    events = [make_event(event_id="a"), make_event(event_id="x" * 800_000),
              make_event(event_id="c")]
    response = events_pb2_grpc.EventsStub(channel).Log(
        events_pb2.LogEventsRequest(events=events), timeout=10)
    assert response.accepted == 2
    [rejection] = response.rejections
    assert rejection.index == 1 and "event_id is 800000 characters long" in rejection.reason
    assert len(fake_kafka.on("ev")) == 2 and len(fake_kafka.on("dlq")) == 1


def test_unavailable_names_the_events_written_anyway(channel, fake_kafka, make_event) -> None:
    fake_kafka.send_error, fake_kafka.send_error_after = KafkaTimeoutError("gone"), 2
    events = [make_event(event_id="a"), Event(event_id="bad"), make_event(event_id="c")]
    with pytest.raises(grpc.RpcError) as err:
        events_pb2_grpc.EventsStub(channel).Log(
            events_pb2.LogEventsRequest(events=events), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "2 of 3 events were written" in err.value.details()
    assert dict(err.value.trailing_metadata())["encore-written-indices"] == "0-1"


@pytest.mark.parametrize(("indices", "text"), [
    ([], ""), ([3], "3"), ([0, 1, 2, 5], "0-2,5"), ([7, 1, 2, 9, 8], "1-2,7-9")])
def test_index_ranges(indices, text) -> None:
    from encore.serving.events_service import index_ranges

    assert index_ranges(indices) == text

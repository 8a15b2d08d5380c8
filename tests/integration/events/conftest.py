"""Fixtures for the event-stream integration tests: a producer and the Events service on
loopback, over the fresh topics of ``kafka_config`` (tests/integration/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from encore.platform.config import KafkaConfig
from encore.platform.events.producer import EventProducer
from encore.serving.events_service import events_service
from encore.serving.grpc_server import start_server

MAX_EVENTS = 50


@pytest.fixture
def max_events() -> int:
    """The batch cap of the Events server of ``events_channel``."""
    return MAX_EVENTS


@pytest.fixture
def producer(kafka_config: KafkaConfig) -> Iterator[EventProducer]:
    with EventProducer(kafka_config, source="test") as producer:
        yield producer


@pytest.fixture
def events_channel(kafka_config: KafkaConfig) -> Iterator[grpc.Channel]:
    """A channel to an Events server with its own producer (source "grpc")."""
    producer = EventProducer(kafka_config, source="grpc")
    server, port = start_server(events_service(producer, max_events=MAX_EVENTS), max_workers=2)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(None)
        producer.close()

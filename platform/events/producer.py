"""Producing events to Kafka, with a dead-letter queue so that no event is lost.

Every event is validated before it is produced. A valid one goes to the events topic
(key and value as in encore.platform.events.codec). A malformed one, or raw bytes that do
not parse as an Event, goes to the dead-letter topic as a JSON record::

    {"reasons": ["missing event_id", ...], "event_id": "", "source": "grpc",
     "received_at": "2026-01-05T08:00:00.123456+00:00", "topic": "encore.events.v1",
     "payload_base64": "<the original bytes>"}

keyed like the original would have been (None when it has no subject), so an operator
can see why it was refused, fix it and replay it. Nothing is dropped silently.

The client is set up for no loss and no duplicates on retry: ``acks="all"``,
``enable_idempotence=True``, bounded retries with backoff inside a delivery timeout.
Broker trouble surfaces as ProduceError, never as a silent drop. The same settings are
what a real Kafka cluster expects, so nothing here is specific to the local broker.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from encore.platform.config import KafkaConfig
from encore.platform.events.codec import CodecError, decode_event, encode_event, record_key
from encore.platform.events.validation import validate
from encore.protos.encore.v1.event_pb2 import Event

DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "retries": 10,
    "retry_backoff_ms": 200,
    "request_timeout_ms": 10_000,
    "delivery_timeout_ms": 30_000,
    # How long send() may block waiting for metadata or buffer space: keep it short so a
    # dead broker turns into a quick UNAVAILABLE for gRPC clients, not a hung call.
    "max_block_ms": 10_000,
    "linger_ms": 5,
    "client_id": "encore-events",
}


class ProduceError(RuntimeError):
    """The stream did not take a record (broker unreachable, delivery timed out)."""


class TopicSetupError(RuntimeError):
    """A topic could not be created."""


@dataclass(frozen=True)
class Rejection:
    """One event of a batch that went to the dead-letter topic instead of the stream."""

    index: int
    event_id: str
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class BatchResult:
    """Outcome of send_many: ``accepted + len(rejections)`` is the batch size."""

    accepted: int
    rejections: list[Rejection]


class EventProducer:
    """Validating event producer over a kafka-python KafkaProducer.

    ``send`` / ``send_raw`` are asynchronous (delivery failures are raised by the next
    ``flush``); ``send_many`` is synchronous: when it returns, every record of the batch
    is acknowledged by the broker, or it raised ProduceError. ``source`` names the entry
    point in dead-letter records ("grpc", "replay", ...). ``client`` replaces the
    KafkaProducer (tests); ``client_options`` override DEFAULT_CLIENT_OPTIONS.
    """

    def __init__(
        self,
        config: KafkaConfig,
        *,
        source: str = "producer",
        client: Any | None = None,
        **client_options: Any,
    ) -> None:
        self.topic = config.events_topic
        self.dead_letter_topic = config.dead_letter_topic
        self.source = source
        self._delivery_timeout_s = (
            client_options.get("delivery_timeout_ms", DEFAULT_CLIENT_OPTIONS["delivery_timeout_ms"])
            / 1000
        )
        if client is None:
            options = {**DEFAULT_CLIENT_OPTIONS, **client_options}
            try:
                client = KafkaProducer(bootstrap_servers=config.bootstrap_servers, **options)
            except KafkaError as err:
                raise ProduceError(
                    f"cannot connect to Kafka at {config.bootstrap_servers}: {err}"
                ) from err
        self._client = client
        self._pending: list[Any] = []
        self._lock = threading.Lock()

    # -- asynchronous ----------------------------------------------------------------

    def send(self, event: Event) -> list[str]:
        """Validate and enqueue one event; returns its rejection reasons (empty: it is
        on its way to the events topic, otherwise to the dead-letter topic)."""
        reasons, future = self._route(event)
        self._track(future)
        return reasons

    def send_raw(self, payload: bytes) -> list[str]:
        """Like send, for a serialized Event; bytes that do not parse are dead-lettered."""
        try:
            event = decode_event(payload)
        except CodecError as err:
            self.dead_letter(payload, [str(err)])
            return [str(err)]
        return self.send(event)

    def dead_letter(
        self, payload: bytes, reasons: Sequence[str], *, key: bytes | None = None,
        event_id: str = "",
    ) -> None:
        """Enqueue a dead-letter record for input that never became a valid Event (e.g.
        a log row the codec refused); a delivery failure is raised by ``flush``."""
        self._track(self._dead_letter(payload, reasons, key=key, event_id=event_id))

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait for every record enqueued by send / send_raw / dead_letter; ProduceError
        if any failed."""
        with self._lock:
            pending, self._pending = self._pending, []
        self._await(pending, timeout_s)

    # -- synchronous -----------------------------------------------------------------

    def send_many(self, events: Iterable[Event]) -> BatchResult:
        """Validate and produce a batch, and wait until the broker has acknowledged all
        of it (valid events on the stream, malformed ones in the dead-letter topic)."""
        futures, rejections = [], []
        for index, event in enumerate(events):
            reasons, future = self._route(event)
            futures.append(future)
            if reasons:
                rejections.append(Rejection(index, event.event_id, tuple(reasons)))
        self._await(futures, None)
        return BatchResult(accepted=len(futures) - len(rejections), rejections=rejections)

    def close(self, timeout_s: float | None = None) -> None:
        """Flush what is pending, then release the client (even if the flush failed)."""
        try:
            self.flush(timeout_s)
        finally:
            self._client.close(timeout=timeout_s)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------

    def _route(self, event: Event) -> tuple[list[str], Any]:
        if not isinstance(event, Event):
            raise TypeError(f"expected an encore.v1.Event, got {type(event).__name__}")
        reasons = validate(event)
        payload = encode_event(event)
        key = record_key(event)
        if reasons:
            return reasons, self._dead_letter(payload, reasons, key=key, event_id=event.event_id)
        return reasons, self._produce(self.topic, key, payload)

    def _dead_letter(
        self, payload: bytes, reasons: Sequence[str], *, key: bytes | None, event_id: str
    ) -> Any:
        record = {
            "reasons": list(reasons),
            "event_id": event_id,
            "source": self.source,
            "received_at": datetime.now(timezone.utc).isoformat(),
            "topic": self.topic,
            "payload_base64": base64.b64encode(payload).decode("ascii"),
        }
        return self._produce(self.dead_letter_topic, key, json.dumps(record).encode())

    def _track(self, future: Any) -> None:
        with self._lock:
            self._pending.append(future)

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> Any:
        try:
            return self._client.send(topic, key=key, value=value)
        except KafkaError as err:  # metadata or buffer wait exceeded max_block_ms
            raise ProduceError(f"cannot produce to {topic}: {err}") from err

    def _await(self, futures: list[Any], timeout_s: float | None) -> None:
        """Block until each future is done; ProduceError naming the first failure."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self._delivery_timeout_s)
        failures: list[Exception] = []
        for future in futures:
            try:
                future.get(timeout=max(deadline - time.monotonic(), 0.0))
            except KafkaError as err:
                failures.append(err)
        if failures:
            raise ProduceError(
                f"{len(failures)} of {len(futures)} records were not delivered: {failures[0]!r}"
            )


def ensure_topics(admin: Any, config: KafkaConfig, *, timeout_ms: int = 10_000) -> list[str]:
    """Create the events topic (``config.partitions`` partitions) and the dead-letter
    topic if they are missing; returns the names created. Idempotent: an existing topic
    is left as it is (its partition count is not changed). ``admin`` is a kafka-python
    KafkaAdminClient."""
    wanted = {
        config.events_topic: {"num_partitions": config.partitions},
        config.dead_letter_topic: {"num_partitions": 1},
    }
    try:
        response = admin.create_topics(wanted, timeout_ms=timeout_ms, raise_errors=False)
    except KafkaError as err:
        raise TopicSetupError(f"cannot create topics {sorted(wanted)}: {err}") from err
    created, problems = [], []
    for topic in response["topics"]:
        code = topic["error_code"]
        if code == 0:
            created.append(topic["name"])
        elif code != TopicAlreadyExistsError.errno:
            problems.append(f"{topic['name']}: error {code} {topic.get('error_message') or ''}")
    if problems:
        raise TopicSetupError("cannot create topics: " + "; ".join(problems))
    try:
        admin.wait_for_topics(list(wanted), timeout_ms=timeout_ms)
    except KafkaError as err:
        raise TopicSetupError(f"topics {sorted(wanted)} did not become ready: {err}") from err
    return created


def setup_topics(config: KafkaConfig, *, client_id: str = "encore-events-admin") -> list[str]:
    """``ensure_topics`` over an admin client of its own on ``config.bootstrap_servers``
    (closed after); TopicSetupError also when the broker cannot be reached."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=config.bootstrap_servers, client_id=client_id)
    except KafkaError as err:
        raise TopicSetupError(f"cannot connect to Kafka at {config.bootstrap_servers}: {err}") from err
    try:
        return ensure_topics(admin, config)
    finally:
        admin.close()

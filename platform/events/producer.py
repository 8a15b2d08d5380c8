"""Producing events to Kafka, with a dead-letter queue so that no event is lost.

Every event is validated before it is produced. A valid one goes to the events topic
(key and value as in encore.platform.events.codec). A malformed one, or raw bytes that do
not parse as an Event, goes to the dead-letter topic as a JSON record::

    {"reasons": ["missing event_id", ...], "event_id": "", "source": "grpc",
     "received_at": "2026-01-05T08:00:00.123456+00:00", "topic": "encore.events.v1",
     "payload_bytes": 57, "payload_sha256": "<hex of the original bytes>",
     "payload_truncated": false, "payload_base64": "<the original bytes>"}

keyed like the original would have been (None when it has no subject), so an operator
can see why it was refused, fix it and replay it. Nothing is dropped silently.

A dead-letter record always fits a Kafka record: the whole record (key + value) is at
most ``events.max_dead_letter_bytes``. When the original payload is longer than the
room left, ``payload_base64`` holds its first bytes only and ``payload_truncated`` is
true (``payload_bytes`` and ``payload_sha256`` still describe the whole original); an
over-long event_id or reason is cut and ends with "... (N more characters)"; a key
longer than any valid key is cut to that length.

``send_many`` prepares (validates, encodes) the whole batch before it produces anything,
so a malformed event never stops the others; when the broker fails part-way, the
BatchProduceError says exactly which events of the batch were written.

The client is set up for no loss and no duplicates on retry: ``acks="all"``,
``enable_idempotence=True``, bounded retries with backoff inside a delivery timeout,
and no automatic topic creation (the topics are created with their configured
partitions by encore.platform.events.topics before the first record). Broker trouble
surfaces as ProduceError, never as a silent drop. The same settings are what a real
Kafka cluster expects, so nothing here is specific to the local broker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from encore.platform.config import EventsConfig, KafkaConfig
from encore.platform.events.codec import CodecError, decode_event, encode_event, record_key
from encore.platform.events.topics import (  # noqa: F401 - re-exported: they used to live here
    TopicSetupError, ensure_topics, setup_topics,
)
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
    # A topic deleted under a running producer must not come back with the broker's
    # default partition count: sending to it fails (ProduceError) instead.
    "allow_auto_create_topics": False,
}

_MAX_REASONS = 32
"""Reasons kept in one dead-letter record (validation gives at most about a dozen)."""


class ProduceError(RuntimeError):
    """The stream did not take a record (broker unreachable, delivery timed out)."""


class BatchProduceError(ProduceError):
    """send_many could not write the whole batch. ``written`` holds the indices (in the
    batch) of the events whose record, on the events or the dead-letter topic, the
    broker acknowledged; the others were not written. Sending the batch again is safe:
    consumers deduplicate by event_id."""

    def __init__(self, message: str, *, written: Sequence[int], total: int) -> None:
        super().__init__(message)
        self.written = list(written)
        self.total = total


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
    is acknowledged by the broker, or it raised BatchProduceError saying which were.
    ``source`` names the entry point in dead-letter records ("grpc", "replay", ...).
    ``limits`` bounds events and dead-letter records (default: the ``events`` section
    of the configuration). When it connects by itself (no ``client``), the producer
    first creates or verifies both topics (encore.platform.events.topics;
    ``check_topics=False`` skips that). ``client`` replaces the KafkaProducer (tests);
    ``client_options`` override DEFAULT_CLIENT_OPTIONS.
    """

    def __init__(
        self,
        config: KafkaConfig,
        *,
        source: str = "producer",
        client: Any | None = None,
        limits: EventsConfig | None = None,
        check_topics: bool = True,
        **client_options: Any,
    ) -> None:
        self.topic = config.events_topic
        self.dead_letter_topic = config.dead_letter_topic
        self.source = source
        self.limits = EventsConfig() if limits is None else limits
        self._delivery_timeout_s = (
            client_options.get("delivery_timeout_ms", DEFAULT_CLIENT_OPTIONS["delivery_timeout_ms"])
            / 1000
        )
        if client is None:
            if check_topics:
                try:
                    setup_topics(config, client_id=f"encore-{source}-admin")
                except TopicSetupError as err:
                    raise ProduceError(str(err)) from err
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
        reasons, topic, key, value = self._prepare(event)
        self._track(self._produce(topic, key, value))
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
        key, value = self.dead_letter_record(payload, reasons, key=key, event_id=event_id)
        self._track(self._produce(self.dead_letter_topic, key, value))

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait for every record enqueued by send / send_raw / dead_letter; ProduceError
        if any failed."""
        with self._lock:
            pending, self._pending = self._pending, []
        failures = self._await(pending, timeout_s)
        if failures:
            raise ProduceError(
                f"{len(failures)} of {len(pending)} records were not delivered: "
                f"{next(iter(failures.values()))!r}"
            )

    # -- synchronous -----------------------------------------------------------------

    def send_many(self, events: Iterable[Event]) -> BatchResult:
        """Validate and produce a batch, and wait until the broker has acknowledged all
        of it (valid events on the stream, malformed ones in the dead-letter topic).

        Every event is validated and encoded before the first record is produced, so a
        malformed event (however large) only ever costs its own rejection. If the broker
        fails part-way, BatchProduceError lists the indices that were written."""
        events = list(events)
        prepared = [self._prepare(event) for event in events]
        futures: list[Any] = []
        send_error: ProduceError | None = None
        for _, topic, key, value in prepared:
            try:
                futures.append(self._produce(topic, key, value))
            except ProduceError as err:  # the broker is gone: do not send the rest
                send_error = err
                break
        failures = self._await(futures, None)
        if send_error is not None or failures:
            written = [i for i in range(len(futures)) if i not in failures]
            first = send_error if send_error is not None else next(iter(failures.values()))
            raise BatchProduceError(
                f"{len(written)} of {len(prepared)} events were written: {first}",
                written=written, total=len(prepared),
            )
        rejections = [
            Rejection(index, _clip(event.event_id, self.limits.max_id_chars), tuple(reasons))
            for index, (event, (reasons, *_)) in enumerate(zip(events, prepared))
            if reasons
        ]
        return BatchResult(accepted=len(prepared) - len(rejections), rejections=rejections)

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

    # -- dead-letter records ---------------------------------------------------------

    def dead_letter_record(
        self, payload: bytes, reasons: Sequence[str], *, key: bytes | None, event_id: str,
    ) -> tuple[bytes | None, bytes]:
        """(key, value) of the dead-letter record of ``payload``, never longer in all
        than ``limits.max_dead_letter_bytes`` (see the module docstring)."""
        limits = self.limits
        payload = bytes(payload)
        if key is not None:
            key = bytes(key)[: 2 + 4 * limits.max_id_chars]  # prefix + the longest valid id
        record: dict[str, Any] = {
            "reasons": [], "event_id": "", "source": self.source,
            "received_at": datetime.now(timezone.utc).isoformat(), "topic": self.topic,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_truncated": False, "payload_base64": "",
        }
        room = 0
        # The usual limits first; if a huge reason list still leaves no room, one short
        # reason and a short id (always fits: max_dead_letter_bytes >= 4096).
        for reason_chars, id_chars, max_reasons, key_bytes in (
            (limits.max_reason_chars, limits.max_id_chars, _MAX_REASONS, len(key or b"")),
            (200, 40, 1, 64),
        ):
            kept = [_clip(str(r), reason_chars) for r in list(reasons)[:max_reasons]]
            if len(reasons) > max_reasons:
                kept.append(f"... ({len(reasons) - max_reasons} more reasons)")
            record["reasons"] = kept
            record["event_id"] = _clip(event_id, id_chars)
            if key is not None:
                key = key[:key_bytes]
            room = limits.max_dead_letter_bytes - len(key or b"") - len(json.dumps(record))
            if room >= 0:
                break
        allowed = max(room, 0) // 4 * 3  # raw bytes whose base64 fits the room
        if len(payload) > allowed:
            record["payload_truncated"] = True
            payload = payload[:allowed]
        record["payload_base64"] = base64.b64encode(payload).decode("ascii")
        return key, json.dumps(record).encode("ascii")

    # -- internals -------------------------------------------------------------------

    def _prepare(self, event: Event) -> tuple[list[str], str, bytes | None, bytes]:
        """(reasons, topic, key, value) of the record an event becomes."""
        if not isinstance(event, Event):
            raise TypeError(f"expected an encore.v1.Event, got {type(event).__name__}")
        reasons = validate(event, limits=self.limits)
        payload = encode_event(event)
        key = record_key(event)
        if reasons:
            key, value = self.dead_letter_record(payload, reasons, key=key, event_id=event.event_id)
            return reasons, self.dead_letter_topic, key, value
        return reasons, self.topic, key, payload

    def _track(self, future: Any) -> None:
        with self._lock:
            self._pending.append(future)

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> Any:
        try:
            return self._client.send(topic, key=key, value=value)
        except KafkaError as err:  # metadata or buffer wait exceeded max_block_ms
            raise ProduceError(f"cannot produce to {topic}: {err}") from err

    def _await(self, futures: list[Any], timeout_s: float | None) -> dict[int, Exception]:
        """Block until each future is done; the failures by position in ``futures``."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self._delivery_timeout_s)
        failures: dict[int, Exception] = {}
        for index, future in enumerate(futures):
            try:
                future.get(timeout=max(deadline - time.monotonic(), 0.0))
            except KafkaError as err:
                failures[index] = err
        return failures


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"

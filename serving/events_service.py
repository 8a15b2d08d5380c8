"""The ``encore.v1.Events`` gRPC service: clients log listener interactions here.

``Log`` validates every event of the batch; valid ones are produced to the events topic,
malformed ones go to the dead-letter topic AND come back as Rejection entries, so the
client learns what was wrong and the operator can still inspect it: nothing is silently
dropped. Every event is checked (size limits included, ``events`` config section)
before any record is produced, so a malformed event, however large, is one rejection
and never fails the call. The call returns only once the broker has acknowledged every
record, so ``accepted`` means durably written, and an OK response covers every event of
the batch. If the stream is down the call fails with UNAVAILABLE and the client retries
the batch (safe: consumers deduplicate by event_id); the status message says how many
events were written before the failure and the trailing metadata key
``encore-written-indices`` lists them (e.g. ``0-3,5``; empty: none).
"""

from __future__ import annotations

import logging

import grpc
from prometheus_client import Counter

from encore.platform.events.producer import BatchProduceError, EventProducer, ProduceError
from encore.protos.encore.v1 import events_pb2, events_pb2_grpc
from encore.serving.grpc_server import Service

log = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS = 1000
"""Largest batch one Log call takes; bounds a call's latency and memory."""
WRITTEN_INDICES_KEY = "encore-written-indices"
"""Trailing metadata of an UNAVAILABLE Log: the batch indices that were written anyway."""
SERVICE_NAME = events_pb2.DESCRIPTOR.services_by_name["Events"].full_name

EVENTS_ACCEPTED = Counter("encore_events_accepted", "Events produced to the events topic.")
EVENTS_REJECTED = Counter("encore_events_rejected", "Events sent to the dead-letter topic.")
LOG_FAILURES = Counter(
    "encore_events_log_failures", "Log calls refused.", ["code"],
)


class EventsServicer(events_pb2_grpc.EventsServicer):
    """Events.Log over an EventProducer (shared by all calls; it is thread-safe)."""

    def __init__(self, producer: EventProducer, *, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self._producer = producer
        self._max_events = max_events

    def Log(
        self, request: events_pb2.LogEventsRequest, context: grpc.ServicerContext
    ) -> events_pb2.LogEventsResponse:
        count = len(request.events)
        if count > self._max_events:
            LOG_FAILURES.labels(code="INVALID_ARGUMENT").inc()
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"batch has {count} events; at most {self._max_events} per Log call "
                "(split it into smaller batches); nothing was accepted",
            )
        try:
            result = self._producer.send_many(request.events)
        except ProduceError as err:
            log.warning("Events.Log: event stream unavailable: %s", err)
            LOG_FAILURES.labels(code="UNAVAILABLE").inc()
            written = err.written if isinstance(err, BatchProduceError) else []
            context.set_trailing_metadata(((WRITTEN_INDICES_KEY, index_ranges(written)),))
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"event stream unavailable, retry the batch (resending is safe; indices "
                f"written anyway are in the {WRITTEN_INDICES_KEY} trailer): {err}",
            )
        EVENTS_ACCEPTED.inc(result.accepted)
        EVENTS_REJECTED.inc(len(result.rejections))
        return events_pb2.LogEventsResponse(
            accepted=result.accepted,
            rejections=[
                events_pb2.Rejection(index=r.index, event_id=r.event_id, reason=r.reason)
                for r in result.rejections
            ],
        )


def index_ranges(indices: list[int]) -> str:
    """Sorted indices as compact ranges: [0, 1, 2, 5] -> "0-2,5"; [] -> ""."""
    parts: list[str] = []
    for index in sorted(indices):
        if parts and index == int(parts[-1].rsplit("-", 1)[-1]) + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{index}"
        else:
            parts.append(str(index))
    return ",".join(parts)


def events_service(producer: EventProducer, *, max_events: int = DEFAULT_MAX_EVENTS) -> Service:
    """The Events service, ready for encore.serving.grpc_server.start_server."""
    return Service(
        servicer=EventsServicer(producer, max_events=max_events),
        add_to_server=events_pb2_grpc.add_EventsServicer_to_server,
        full_name=SERVICE_NAME,
    )

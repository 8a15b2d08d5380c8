"""Counters of the stream processor: plain per-batch/per-run dataclasses (what tests and
the CLI read) and the same numbers as Prometheus metrics (:class:`StreamMetrics`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class BatchStats:
    records: int = 0
    dead_lettered: int = 0
    anonymous: int = 0
    applied: int = 0
    duplicate_offset: int = 0
    duplicate_id: int = 0
    too_late: int = 0  # older than the dedupe retention horizon: not applied
    future_skewed: int = 0  # stamped beyond stream.max_future_skew_s: dead-lettered
    users_pushed: int = 0
    offline_files: int = 0
    seconds: float = 0.0

    def add(self, other: "BatchStats") -> None:
        """Add the batch counters of ``other`` (a RunStats adds only those too)."""
        for f in fields(BatchStats):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class RunStats(BatchStats):
    batches: int = 0
    commits_failed: int = 0
    batches_failed: int = 0
    stopped_by: str = ""


# BatchStats counters exported as encore_stream_<name>_total
_COUNTED = tuple(f.name for f in fields(BatchStats) if f.name != "seconds")


class StreamMetrics:
    """The processor's counters in a Prometheus registry of its own (one per processor,
    so several in one process, as in tests, do not clash); ``serve(port)`` exposes it
    on ``/metrics``. Updated once per batch, never per event."""

    def __init__(self, registry: Any | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.counters = {
            name: Counter(f"encore_stream_{name}", f"stream processor: {name.replace('_', ' ')}",
                          registry=r)
            for name in _COUNTED
        }
        self.batches = Counter("encore_stream_batches", "batches processed and committed",
                               registry=r)
        self.batches_failed = Counter("encore_stream_batches_failed",
                                      "batches that failed and were retried", registry=r)
        self.commits_failed = Counter("encore_stream_commits_failed", "offset commits that failed",
                                      registry=r)
        self.batch_seconds = Histogram(
            "encore_stream_batch_seconds", "time to process one batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
        self.failing_since = Gauge(
            "encore_stream_failing_seconds",
            "seconds the current run of failed batches has lasted (0: healthy)", registry=r)
        self.lag = Gauge("encore_stream_lag_records",
                         "records behind the end of the assigned partitions", registry=r)

    def observe_batch(self, stats: BatchStats) -> None:
        for name, counter in self.counters.items():
            value = getattr(stats, name)
            if value:
                counter.inc(value)
        self.batches.inc()
        self.batch_seconds.observe(stats.seconds)

    def value(self, name: str) -> float:
        """Current value of a metric by its sample name (tests, logs)."""
        got = self.registry.get_sample_value(name)
        return 0.0 if got is None else got

    def serve(self, port: int, addr: str = "127.0.0.1") -> Any:
        from prometheus_client import start_http_server

        return start_http_server(port, addr=addr, registry=self.registry)

"""Replaying the simulator's event log into Kafka, optionally at a fixed rate.

This is how the demo and the stream tests feed the live path with realistic traffic: the
log of a generated world (``<world>/events/date=YYYY-MM-DD/part-*.parquet``) is read day
by day in timestamp order and sent through an EventProducer, so replayed events meet the
same validation, keying and dead-letter handling as events from the gRPC service.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from encore.platform.events.codec import CodecError, row_to_event
from encore.platform.events.producer import EventProducer
from encore.platform.world.schema import EVENTS_DIR

log = logging.getLogger(__name__)

MAX_CHUNK = 1000
"""Events sent (and acknowledged) per batch: bounds memory and the work lost on a crash."""


class ReplayError(ValueError):
    """The world folder has no event log, or a requested date is not in it."""


class TokenBucket:
    """Allows ``rate`` tokens per second on average with bursts of at most ``burst``.

    ``acquire(n)`` blocks until n tokens are available. ``clock`` and ``sleep`` are
    injectable so the pacing can be tested without waiting.
    """

    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = burst
        self._last = clock()

    def acquire(self, n: int) -> None:
        if n > self.burst:
            raise ValueError(f"cannot acquire {n} tokens at once (burst is {self.burst})")
        while True:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= n - 1e-9:  # float slack: a sleep can fall short by an ulp
                self._tokens = max(0.0, self._tokens - n)
                return
            self._sleep((n - self._tokens) / self.rate)


def event_files(world_dir: Path, dates: Iterable[str | date] | None = None) -> list[Path]:
    """The event-log files of ``world_dir`` for ``dates`` (all days if None), in day
    order. ReplayError names a missing log or date."""
    events_dir = Path(world_dir) / EVENTS_DIR
    days = {p.name.removeprefix("date="): p for p in events_dir.glob("date=*") if p.is_dir()}
    if not days:
        raise ReplayError(f"{events_dir} holds no date=YYYY-MM-DD event partitions")
    wanted = sorted(days) if dates is None else [str(d) for d in dates]
    missing = [d for d in wanted if d not in days]
    if missing:
        raise ReplayError(f"no events for {', '.join(missing)} in {events_dir} "
                          f"(it has {min(days)} .. {max(days)})")
    return [f for day in wanted for f in sorted(days[day].glob("*.parquet"))]


def _rows(files: list[Path], chunk: int) -> Iterator[list[dict[str, Any]]]:
    """Log rows in chunks, each day's file in timestamp order (stable, so events with the
    same ts keep their logged order)."""
    for path in files:
        table = pq.read_table(path).sort_by([("ts", "ascending")])
        for batch in table.to_batches(max_chunksize=chunk):
            yield batch.to_pylist()


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} ev/s", style="progress.data.speed")


def replay_world(
    world_dir: str | Path,
    producer: EventProducer,
    rate: float | None,
    dates: Iterable[str | date] | None = None,
    progress: bool = True,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send the world's event log through ``producer`` at ``rate`` events/s (None: as
    fast as the broker takes them); returns how many events were accepted onto the
    events topic. Rows that fail conversion or validation go to the dead-letter topic
    (logged, not counted). Every chunk is acknowledged before the next is read, so on
    return everything is durably written; ProduceError stops the replay."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive events/s or None, got {rate}")
    files = event_files(Path(world_dir), dates)
    chunk = MAX_CHUNK if rate is None else max(1, min(MAX_CHUNK, int(rate / 10)))
    bucket = None if rate is None else TokenBucket(rate, chunk, clock=clock, sleep=sleep)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    accepted = rejected = 0
    bar = Progress(
        TextColumn("replay"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeRemainingColumn(), disable=not progress,
    )
    with bar:
        task = bar.add_task("replay", total=total)
        for rows in _rows(files, chunk):
            if bucket is not None:
                bucket.acquire(len(rows))
            events = []
            for row in rows:
                try:
                    events.append(row_to_event(row))
                except CodecError as err:
                    rejected += 1
                    log.warning("dead-lettering log row %s: %s", row.get("event_id"), err)
                    producer.dead_letter(json.dumps(row, default=str).encode(), [str(err)],
                                         event_id=str(row.get("event_id") or ""))
            result = producer.send_many(events)
            producer.flush()
            accepted += result.accepted
            rejected += len(result.rejections)
            for rejection in result.rejections:
                log.warning("dead-lettered event %s: %s", rejection.event_id, rejection.reason)
            bar.advance(task, len(rows))
    if rejected:
        log.warning("replay sent %d events; %d went to the dead-letter topic", accepted, rejected)
    return accepted

"""Replaying the simulator's event log into Kafka, optionally at a fixed rate.

This is how the demo and the stream tests feed the live path with realistic traffic: the
log of a generated world (``<world>/events/date=YYYY-MM-DD/part-*.parquet``) is read day
by day in timestamp order and sent through an EventProducer, so replayed events meet the
same validation, keying and dead-letter handling as events from the gRPC service.

Nothing is sent before every selected file is checked (``verified_event_files``): it
must be listed in the world's ``manifest.json`` with the sha256 of its bytes, be a
readable parquet file and have the columns and types of
``encore.platform.world.schema.EVENTS``. A truncated, empty, altered or mis-typed file
is a ReplayError naming it, so corrupt data never reaches the stream (or the
dead-letter topic) row by row.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from encore.platform.events.codec import CodecError, row_to_event
from encore.platform.events.producer import EventProducer
from encore.platform.checksums import sha256_file
from encore.platform.contracts.event_log import EVENTS, EVENTS_DIR, check_schema
from encore.platform.world.schema import MANIFEST, WorldSchemaError

log = logging.getLogger(__name__)

MAX_CHUNK = 1000
"""Events sent (and acknowledged) per batch: bounds memory and the work lost on a crash."""


class ReplayError(ValueError):
    """The world folder has no event log or manifest, a requested date is not in it, or
    an event file is unreadable, altered or not of the event schema (the message names
    the file)."""


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


def _manifest_files(world_dir: Path) -> dict[str, str]:
    """relative path -> sha256 of every file the world's manifest lists."""
    manifest = world_dir / MANIFEST
    try:
        files = json.loads(manifest.read_text()).get("files")
    except FileNotFoundError as err:
        raise ReplayError(f"{manifest} not found: {world_dir} is not a world written by "
                          "`encore world generate` (replay checks the event files against it)") from err
    except (OSError, ValueError, AttributeError) as err:
        raise ReplayError(f"{manifest} is not a valid world manifest: {err}") from err
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ReplayError(f"{manifest} is not a valid world manifest: no 'files' checksums")
    return files




def check_event_file(path: Path, expected_sha256: str | None) -> None:
    """ReplayError naming ``path`` unless it is a readable parquet file of the event
    schema whose sha256 is ``expected_sha256`` (None: not in the manifest)."""
    if expected_sha256 is None:
        raise ReplayError(f"{path} is not listed in the world's {MANIFEST}")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as err:
        raise ReplayError(f"{path} is not a readable parquet file "
                          f"(truncated or empty?): {err}") from err
    try:
        check_schema(str(path), EVENTS, schema)
    except WorldSchemaError as err:
        raise ReplayError(str(err)) from err
    if sha256_file(path) != expected_sha256:
        raise ReplayError(f"{path} does not match its sha256 in the world's {MANIFEST} "
                          "(corrupt, or changed after the world was written)")


def verified_event_files(
    world_dir: Path, dates: Iterable[str | date] | None = None,
) -> list[Path]:
    """``event_files``, each checked with ``check_event_file`` against the world's
    manifest; also a ReplayError when the manifest lists an event file of a selected
    day that is not there. Reads every byte once; sends nothing."""
    world_dir = Path(world_dir)
    dates = None if dates is None else [str(d) for d in dates]
    files = event_files(world_dir, dates)
    listed = _manifest_files(world_dir)
    present = {f.relative_to(world_dir).as_posix() for f in files}
    for rel in sorted(listed):
        parts = rel.split("/")
        if len(parts) != 3 or parts[0] != EVENTS_DIR or not parts[1].startswith("date="):
            continue
        if (dates is None or parts[1].removeprefix("date=") in dates) and rel not in present:
            raise ReplayError(f"{world_dir / rel} is listed in the world's {MANIFEST} but missing")
    for path in files:
        check_event_file(path, listed.get(path.relative_to(world_dir).as_posix()))
    return files


def _rows(files: list[Path], chunk: int) -> Iterator[list[dict[str, Any]]]:
    """Log rows in chunks, each day's file in timestamp order (stable, so events with the
    same ts keep their logged order)."""
    for path in files:
        try:
            table = pq.read_table(path, schema=EVENTS).sort_by([("ts", "ascending")])
        except (pa.ArrowException, OSError) as err:  # changed since it was verified
            raise ReplayError(f"{path} cannot be read: {err}") from err
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
    (logged, not counted). Every selected file is verified first
    (``verified_event_files``): a bad one is a ReplayError and nothing is sent. Every
    chunk is acknowledged before the next is read, so on return everything is durably
    written; ProduceError stops the replay."""
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive events/s or None, got {rate}")
    files = verified_event_files(Path(world_dir), dates)
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

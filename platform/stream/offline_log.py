"""The stream processor's parquet offline log of raw events.

Layout under ``StreamConfig.offline_log_dir``::

    date=YYYY-MM-DD/part-p0003-o00000000000000001234.parquet

hive-partitioned by the UTC date of the event; one file per (date, Kafka partition) of a
processed batch, named by the partition and the first offset of that batch's records
for it. Columns: the world event-log columns (``encore.platform.world.schema.EVENTS``:
event_id, ts, user_id (null = anonymous), session_id, scenario, track_id, action,
played_ms, position, propensity, request_id) plus ``kafka_partition`` and
``kafka_offset``.

**Delivery is at-least-once.** A file is written (atomically: temp file + rename)
before the batch's offsets are committed; a batch re-processed after a crash starts at
the same committed offset, so it rewrites the same file name, but its batch boundaries
may differ from the first attempt, and a producer may have sent an event twice. Readers
must therefore de-duplicate by ``event_id`` (e.g. ``df.drop_duplicates("event_id")`` or
``ROW_NUMBER() OVER (PARTITION BY event_id)`` in Spark).
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from encore.platform.contracts.event_log import EVENTS

OFFLINE_LOG_SCHEMA = pa.schema(
    list(EVENTS) + [pa.field("kafka_partition", pa.int32()), pa.field("kafka_offset", pa.int64())]
)


def file_name(partition: int, first_offset: int) -> str:
    return f"part-p{partition:04d}-o{first_offset:020d}.parquet"


class OfflineLogError(OSError):
    """The offline log could not be written (the message names the folder)."""


class OfflineLog:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def write(self, rows: Iterable[tuple[int, int, dict[str, Any]]]) -> list[Path]:
        """Write ``(partition, offset, event_row)`` rows (rows as
        ``encore.platform.events.codec.event_to_row`` gives them); returns the files.
        OfflineLogError (naming the folder) when the folder cannot be written."""
        try:
            return self._write(rows)
        except OSError as err:
            raise OfflineLogError(
                f"cannot write the offline log under {self.root}: {err.strerror or err}"
                + (f" ({err.filename})" if getattr(err, "filename", None) else "")) from err

    def _write(self, rows: Iterable[tuple[int, int, dict[str, Any]]]) -> list[Path]:
        groups: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        day_names: dict[Any, str] = {}
        for partition, offset, row in rows:
            date = row["ts"].date()
            day = day_names.get(date) or day_names.setdefault(date, date.isoformat())
            groups[(day, partition)].append((offset, row))
        written = []
        event_columns = [name for name in OFFLINE_LOG_SCHEMA.names
                         if name not in ("kafka_partition", "kafka_offset")]
        for (day, partition), items in sorted(groups.items()):
            items.sort(key=lambda item: item[0])
            folder = self.root / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / file_name(partition, items[0][0])
            columns = {name: [row.get(name) for _, row in items] for name in event_columns}
            columns["kafka_partition"] = [partition] * len(items)
            columns["kafka_offset"] = [offset for offset, _ in items]
            table = pa.Table.from_pydict(columns, schema=OFFLINE_LOG_SCHEMA)
            tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, target)
            written.append(target)
        return written


def read_offline_log(root: Path, *, dedupe: bool = True):
    """The whole log as a pandas DataFrame, de-duplicated by event_id (first copy kept)."""
    import pandas as pd

    files = sorted(Path(root).glob("date=*/*.parquet"))
    if not files:
        return OFFLINE_LOG_SCHEMA.empty_table().to_pandas()
    frame = pd.concat([pq.read_table(f, schema=OFFLINE_LOG_SCHEMA).to_pandas() for f in files],
                      ignore_index=True)
    if dedupe:
        frame = frame.drop_duplicates("event_id", keep="first").reset_index(drop=True)
    return frame

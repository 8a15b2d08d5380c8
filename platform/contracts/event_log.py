"""The event-log table: one row per listener interaction, whoever produced it (the
Events gRPC service through the stream processor's offline log, or the simulated world).

Columns (``EVENTS``): ``event_id`` (unique; every consumer de-duplicates by it), ``ts``
(UTC, ms), ``user_id`` (null: an anonymous listener, identified by ``session_id``),
``session_id`` (:mod:`.sessions`), ``scenario`` and ``action`` (:mod:`.vocabulary`
spellings), ``track_id``, ``played_ms`` (play_end and skip: the playback position),
``position`` and ``propensity`` (exposures: the slot and the logging policy's
probability), ``request_id`` (the recommendation request the interaction answers).

On disk the log is partitioned by UTC day: ``events/date=YYYY-MM-DD/*.parquet``.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")

EVENTS = pa.schema([
    ("event_id", pa.string()), ("ts", TIMESTAMP), ("user_id", pa.int64()),
    ("session_id", pa.string()), ("scenario", pa.string()), ("track_id", pa.int64()),
    ("action", pa.string()), ("played_ms", pa.int64()), ("position", pa.int32()),
    ("propensity", pa.float32()), ("request_id", pa.string()),
])
EVENTS_DIR = "events"
DATE_PARTITION = "date"


def event_partition(day: str) -> str:
    """Relative path of the (single) event file of one day (``day`` as YYYY-MM-DD), as
    the world writes it; other writers add more part files to the same folder."""
    return f"{EVENTS_DIR}/{DATE_PARTITION}={day}/part-00000.parquet"


class SchemaMismatchError(ValueError):
    """A table is missing, or does not match its contract; the message names it."""


def check_schema(name: str, expected: pa.Schema, actual: pa.Schema) -> None:
    """Raise SchemaMismatchError naming ``name`` if ``actual`` lacks a column of
    ``expected`` or types one differently (extra columns are allowed)."""
    missing = [f.name for f in expected if f.name not in actual.names]
    wrong = [
        f"{f.name}: expected {f.type}, found {actual.field(f.name).type}"
        for f in expected
        if f.name in actual.names and not actual.field(f.name).type.equals(f.type)
    ]
    if missing or wrong:
        problems = "; ".join([f"missing column {m}" for m in missing] + wrong)
        raise SchemaMismatchError(f"{name} does not match its schema: {problems}")

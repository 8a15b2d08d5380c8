"""The event window of batch recall, read where it is used: only the columns the Query
builder needs (column projection), only the window's date partitions, only known
listeners' rows, ``action`` / ``scenario`` dictionary-encoded (pandas categoricals: no
per-row Python strings), ``ts`` as epoch ms.

Spark's batch recall (:mod:`encore.recall.batch`) partitions the *listeners*; the
driver reads the window once per job and spills it, event ids already ranked, as an
uncompressed Arrow IPC file (:func:`spill_window`); each task takes its listeners'
events from that file memory-mapped once per executor process (:func:`cached_window`,
keyed by the job's token so a new job reads anew: no parquet decode and no string
sort per worker), so
the log is never shuffled through the JVM and converted row by row to pandas (that
was ~20 s of 3.4 M events on the 2-core VM, more than all the recall work). The
single-loop and in-process benchmark paths read the same way (:func:`read_window`).

Anonymous events (``user_id`` null) are left out: batch recall answers known listeners
only, so ``session_id`` (which keys anonymous listeners in the builder) is not read;
the column is present and null.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

READ_COLUMNS = ["user_id", "event_id", "ts", "scenario", "track_id", "action", "played_ms"]
DICTIONARY_COLUMNS = ["scenario", "action"]


def window_files(events_dir: Path, days: Sequence[date]) -> list[str]:
    """The parquet files of the ``date=D`` partitions of ``days`` (absent days skipped)."""
    files: list[str] = []
    for day in days:
        folder = Path(events_dir) / f"date={day.isoformat()}"
        if folder.is_dir():
            files += sorted(str(p) for p in folder.glob("*.parquet") if not p.name.startswith(("_", ".")))
    return files


def read_window(files: Sequence[str]):
    """The known listeners' events of ``files`` as an Arrow table: ``READ_COLUMNS``
    less ``ts`` plus ``ts_ms`` (int64 epoch ms, truncated like Spark's ``unix_millis``)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=DICTIONARY_COLUMNS))
    table = ds.dataset(list(files), format=fmt).to_table(columns=READ_COLUMNS, filter=ds.field("user_id").is_valid())
    ts = table["ts"]
    ms = pc.cast(ts, pa.timestamp("ms", tz=getattr(ts.type, "tz", None)), safe=False).cast(pa.int64())
    return table.drop_columns(["ts"]).append_column("ts_ms", ms)


def ranked_ids(table):
    """``table`` with ``event_id`` replaced by the int64 dense rank of the id strings
    (in Arrow's C++ sort): equal ids stay equal and their order is kept, which is all
    the Query builder asks of them, without a Python string per row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(table.schema.field("event_id").type):
        return table  # already ranked (a spilled window)
    ids = table["event_id"].combine_chunks() if table.num_rows else pa.array([], pa.string())
    rank = pc.rank(ids, sort_keys="ascending", tiebreaker="dense").cast(pa.int64()) if len(ids) else \
        pa.array([], pa.int64())
    return table.set_column(table.schema.get_field_index("event_id"), "event_id", rank)


def spill_window(files: Sequence[str], path: Path) -> Path:
    """The driver's one read of the window for a whole job: :func:`read_window` with its
    ``event_id`` ranked over the whole window (:func:`ranked_ids`), written to ``path``
    as an uncompressed Arrow IPC file, which every task memory-maps
    (:func:`open_spilled`) instead of decoding the parquet window again."""
    import pyarrow as pa

    table = ranked_ids(read_window(files)).unify_dictionaries()  # an IPC file holds one dictionary per field
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1 << 20)
    return path


def open_spilled(path: str):
    """A :func:`spill_window` file, memory-mapped (no copy, no decode)."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def events_of(table, user_ids: np.ndarray | None) -> pd.DataFrame:
    """The rows of ``user_ids`` (all rows when None) of a :func:`read_window` table as
    the pandas frame the Query builder takes (``session_id`` null; ``event_id`` the
    int64 dense rank of the id strings within these rows, which the builder takes as
    their order: duplicates and (ts, event_id) order unchanged)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if user_ids is not None:
        table = table.filter(pc.is_in(table["user_id"], value_set=pa.array(np.asarray(user_ids, np.int64))))
    frame = ranked_ids(table).to_pandas()
    frame["session_id"] = pd.Series([None] * len(frame), dtype=object)
    return frame


_WINDOW: dict[tuple, object] = {}
_WINDOW_LOCK = threading.Lock()


def cached_window(token: str, files: Sequence[str], spilled: str | None = None):
    """The window once per process and job ``token`` (the last one kept): the driver's
    ``spilled`` IPC file memory-mapped when given, else :func:`read_window` of ``files``."""
    key = (token, tuple(files), spilled)
    with _WINDOW_LOCK:
        if key not in _WINDOW:
            _WINDOW.clear()
            _WINDOW[key] = open_spilled(spilled) if spilled else read_window(files)
        return _WINDOW[key]

"""Spark batch recall (``encore batch recall``): the top-K candidates of every listener
per recall channel for a day, through the very ``Channel.recall`` code serving runs,
written as parquet and optionally pushed to the online recall table
(:mod:`encore.feature_store.recall_store`) that serving reads for channels configured
``precomputed: true``.

For a date D (the serving day) every known user signed up before D is a listener; its
Query is built point in time at D's first millisecond (UTC), scenario
``daily_recommend``, by the one builder :func:`encore.recall.queries.queries_from_log`
over the events of the ``history_days`` days before D (the profile: the snapshot of
D - 1, as ``materialize_features`` writes it).

On Spark (one pass per date):

1. the listeners (their ``users.parquet`` rows) are hash-partitioned by ``user_id``
   into ``partitions`` partitions (a small multiple of the cores): only this small
   frame is shuffled;
2. ``mapInArrow`` runs :func:`recall_batch` once per partition: the partition's
   listeners' events are taken from the window's parquet files, read by pyarrow once
   per executor process and job (:mod:`encore.recall.batch_read`: the needed columns,
   the window's date partitions, known listeners; the file list is shipped in the
   task's closure, so executors must see ``--events``: a local or shared file system);
   with ``batch.recall.spill_window`` the driver reads the window once instead, ranks
   its event ids and spills it as an uncompressed Arrow IPC file under ``OUT/_window/``
   (removed after the write) that each executor process memory-maps (executors must see
   ``OUT``): worth it with many executors, not on 2 local workers (measured: the serial
   spill of 3 M events takes 2.3-4.6 s, each worker's parallel read about 1 s),
   then the partition's Queries are built in one vectorised call and each channel
   answers them all in one ``recall(queries, k)`` call. Query building needs only the
   listener's own events and the catalog, so a partition's answers are exactly those
   of one process over the whole log (tested); duplicates of an event (same
   ``event_id``) are dropped by the builder;
3. the channel artifacts come from the model registry, the version fixed by the driver
   (the promoted one when the run starts, so every executor serves the same model)
   and loaded once per executor process (:func:`cached_channel`, a per-process cache:
   PySpark reuses its Python workers), checksums verified; a neural channel brings its
   TensorFlow tower and ScaNN index the same way;
4. rows ``(user_id, track_ids array<int>, scores array<float>, model_version)`` (track
   ids as int32: half the bytes through Arrow and parquet; an id above 2^31 - 1 is an
   error naming the channel) are written to ``OUT/recall/date=D/channel=C/`` (dynamic partition overwrite: only the
   (date, channel) pairs computed are replaced).

Incremental by date: a (date, channel) partition already written is skipped unless
``force``. Not kept: per-candidate reasons (serving shows the channel's text), the
request's local hour (the Query is at midnight UTC: hour-dependent channels such as
``popular_at_hour`` should stay live).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from encore.platform.config import EncoreConfig
from encore.recall.batch_read import spill_window, window_files
from encore.recall.channel import Channel
from encore.recall.queries import QueryParams, queries_from_log

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("encore.batch.recall")

JOB = "recall"
TABLE = "recall"
SCENARIO = "daily_recommend"
DAY_MS = 86_400_000
EVENT_COLUMNS = ["user_id", "event_id", "ts_ms", "session_id", "scenario", "track_id", "action", "played_ms"]
USER_COLUMNS = ["user_id", "signup_date", "age_bucket", "region", "home_language"]
OUTPUT_SCHEMA = "user_id long, channel string, model_version string, track_ids array<int>, scores array<float>"
SPILL_DIR = "_window"  # under the output folder: the driver's one read of the window, removed after the write
INT32_MAX = 2**31 - 1


class BatchRecallError(ValueError):
    """A bad input of ``encore batch recall``: the message names the flag."""


@dataclass(frozen=True)
class ChannelRef:
    """One channel to run: its config ``name``, the registry (``root``), its registry
    name and the ``version`` every executor loads, and the ``k`` asked of it."""

    name: str
    root: str
    registry_name: str
    version: str
    k: int


# ----------------------------------------------------------------------------- channels
_CHANNELS: dict[tuple[str, str, str], Channel] = {}
_CHANNELS_LOCK = threading.Lock()


def cached_channel(ref: ChannelRef) -> Channel:
    """The channel of ``ref``, loaded (checksums verified) once per process."""
    key = (ref.root, ref.registry_name, ref.version)
    with _CHANNELS_LOCK:
        if key not in _CHANNELS:
            from encore.platform.registry import Registry
            from encore.recall.registry import load_channel

            registry = Registry(ref.root)
            registry.verify(ref.registry_name, ref.version)
            _CHANNELS[key] = load_channel(registry.path(ref.registry_name, ref.version))
        return _CHANNELS[key]


def resolve_channels(config: EncoreConfig, registry_root: Path, names: Sequence[str],
                     k: int | None = None) -> list[ChannelRef]:
    """The promoted version of each named channel (a ``BatchRecallError`` naming
    ``--channels`` / ``--registry`` when a name is not configured or not promoted)."""
    from encore.platform.registry import Registry, RegistryError
    from encore.recall.train import channel_registry_name

    if not names:
        raise BatchRecallError("--channels: give at least one channel name")
    registry = Registry(registry_root)
    refs = []
    for name in names:
        try:
            channel = config.recall.channel(name)
        except KeyError as err:
            configured = ", ".join(c.name for c in config.recall.channels)
            raise BatchRecallError(f"--channels: no recall channel {name!r} (configured: {configured})") from err
        registry_name = channel_registry_name(config, name)
        try:
            version = registry.promoted(registry_name)
        except RegistryError as err:
            raise BatchRecallError(f"--registry: {err}") from err
        if version is None:
            raise BatchRecallError(
                f"--registry: no promoted version of {registry_name} under {registry_root} "
                f"(run `encore train recall --channel {name}`)")
        refs.append(ChannelRef(name=name, root=str(registry_root), registry_name=registry_name,
                               version=version, k=int(k or channel.k)))
    return refs


# ----------------------------------------------------------------------------- one batch
def listener_queries(listeners: pd.DataFrame, events: pd.DataFrame, tracks: pd.DataFrame,
                     request_ms: int, params: QueryParams) -> list:
    """Point-in-time Queries of ``listeners`` (``USER_COLUMNS``) at ``request_ms`` from
    ``events`` (``EVENT_COLUMNS``; any other listeners' events are ignored)."""
    at = pd.DataFrame({"user_id": pd.array(listeners["user_id"].to_numpy(np.int64), dtype="Int64"),
                       "request_ms": np.full(len(listeners), request_ms, np.int64),
                       "scenario": SCENARIO})
    return queries_from_log(events, at, tracks=tracks, users=listeners, params=params)


def recall_batch(listeners: pd.DataFrame, events: pd.DataFrame, tracks: pd.DataFrame, request_ms: int,
                 refs: Sequence[ChannelRef], params: QueryParams) -> pd.DataFrame:
    """THE unit of work: the Queries of a batch of listeners built in one call, then one
    ``recall(queries, k)`` call per channel. Returns one row per (listener, channel):
    ``user_id``, ``channel``, ``model_version``, ``track_ids`` (int64 (n,)), ``scores``
    (float32 (n,)), n <= k."""
    if not len(listeners):
        return pd.DataFrame({c: [] for c in ("user_id", "channel", "model_version", "track_ids", "scores")})
    listeners = listeners.sort_values("user_id", kind="mergesort").reset_index(drop=True)
    queries = listener_queries(listeners, events, tracks, request_ms, params)
    users = listeners["user_id"].to_numpy(np.int64)
    frames = []
    for ref in refs:
        found = cached_channel(ref).recall(queries, ref.k)
        frames.append(pd.DataFrame({
            "user_id": users, "channel": ref.name, "model_version": ref.version,
            "track_ids": [c.track_ids.astype(np.int64) for c in found],
            "scores": [c.scores.astype(np.float32) for c in found],
        }))
    return pd.concat(frames, ignore_index=True)


def _partition_recall(tracks: pd.DataFrame, request_ms: int, refs: tuple[ChannelRef, ...], params: QueryParams,
                      token: str, files: tuple[str, ...], spilled: str | None = None):
    """The ``mapInArrow`` function: a whole partition of listeners -> their events
    from the window (read once per executor process for the job ``token``) ->
    :func:`recall_batch` once."""
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from encore.recall.batch_read import cached_window, events_of

        parts = [b for b in batches if b.num_rows]
        if not parts:
            return
        listeners = pa.Table.from_batches(parts).to_pandas()[USER_COLUMNS]
        events = events_of(cached_window(token, files, spilled), listeners["user_id"].to_numpy(np.int64))
        yield from arrow_batches(recall_batch(listeners, events, tracks, request_ms, refs, params))

    return run


def arrow_batches(frame: pd.DataFrame) -> Iterator[Any]:
    """:func:`recall_batch`'s rows as Arrow record batches of ``OUTPUT_SCHEMA``, one per
    channel, the list columns built from one concatenated values array and its offsets
    (pandas -> Arrow would convert the per-row arrays one by one)."""
    import pyarrow as pa

    for (channel, version), part in frame.groupby(["channel", "model_version"], sort=False):
        tracks, scores = list(part["track_ids"]), list(part["scores"])
        offsets = np.zeros(len(tracks) + 1, np.int32)
        np.cumsum([len(t) for t in tracks], out=offsets[1:])
        values = np.concatenate(tracks) if tracks else np.zeros(0, np.int64)
        if len(values) and (values.min() < 0 or values.max() > INT32_MAX):
            raise BatchRecallError(f"channel {channel}: track ids outside 0..{INT32_MAX} do not fit the int32 "
                                   "track_ids column")
        values = values.astype(np.int32)  # half the bytes through Arrow and into parquet
        weights = np.concatenate(scores).astype(np.float32) if scores else np.zeros(0, np.float32)
        n = len(part)
        yield pa.RecordBatch.from_arrays([
            pa.array(part["user_id"].to_numpy(np.int64)),
            pa.array([channel] * n, pa.string()),
            pa.array([version] * n, pa.string()),
            pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
            pa.ListArray.from_arrays(pa.array(offsets), pa.array(weights)),
        ], names=["user_id", "channel", "model_version", "track_ids", "scores"])


# ----------------------------------------------------------------------------- inputs
def default_date(events_dir: Path) -> date:
    """The day after the log's last partition: the next serving day."""
    from encore.platform.batch.batch_io import available_dates

    present = available_dates(events_dir)
    if not present:
        raise BatchRecallError(f"--events: no event partitions (date=YYYY-MM-DD) under {events_dir}")
    return present[-1] + timedelta(days=1)


def parse_dates(text: str | None, events_dir: Path) -> list[date]:
    """``--date`` (comma-separated YYYY-MM-DD) or the default: the next serving day."""
    if not text or not text.strip():
        return [default_date(events_dir)]
    days = []
    for item in text.split(","):
        if item.strip():
            try:
                days.append(date.fromisoformat(item.strip()))
            except ValueError as err:
                raise BatchRecallError(f"--date: not a YYYY-MM-DD date: {item.strip()!r}") from err
    if not days:
        raise BatchRecallError("--date: no date given")
    return sorted(set(days))


def window_days(day: date, history_days: int) -> list[date]:
    return [day - timedelta(days=i) for i in range(history_days, 0, -1)]


def listeners_frame(spark: "SparkSession", users_dir: Path, day: date) -> "DataFrame":
    """Every user signed up before ``day`` (``USER_COLUMNS``)."""
    from pyspark.sql import functions as F

    from encore.platform.batch.batch_io import read_users

    users = read_users(spark, users_dir).select(*USER_COLUMNS)
    return users.where(F.col("signup_date") < F.lit(day))


def partition_written(out_dir: Path, day: date, channel: str) -> bool:
    folder = Path(out_dir) / TABLE / f"date={day.isoformat()}" / f"channel={channel}"
    return folder.is_dir() and any(p.suffix == ".parquet" for p in folder.iterdir())


def recall_store_path(config: EncoreConfig) -> Path:
    """The online recall table's SQLite file: ``batch.recall.online_path``, else
    ``recall.db`` beside ``feature_store.sqlite_path``."""
    return config.batch.recall.online_path or Path(config.feature_store.sqlite_path).parent / "recall.db"


# ----------------------------------------------------------------------------- the job
@dataclass
class BatchRecallReport:
    """What a run did: dates computed and skipped, listeners and rows per date,
    seconds of Spark work (reading to written), rows pushed online."""

    channels: list[str]
    versions: dict[str, str]
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    listeners: int = 0
    rows: int = 0
    seconds: float = 0.0
    pushed: int = 0
    per_date: list[dict[str, Any]] = field(default_factory=list)

    @property
    def listeners_per_s(self) -> float:
        return self.listeners / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"channels": self.channels, "versions": self.versions, "computed": self.computed,
                "skipped": self.skipped, "listeners": self.listeners, "rows": self.rows,
                "seconds": round(self.seconds, 3), "listeners_per_s": round(self.listeners_per_s, 1),
                "pushed": self.pushed, "per_date": self.per_date}


def recall_day(spark: "SparkSession", *, events_dir: Path, users_dir: Path, tracks: pd.DataFrame, day: date,
               refs: Sequence[ChannelRef], params: QueryParams, history_days: int, partitions: int,
               spill_dir: Path | None = None) -> "DataFrame":
    """The lazy Spark frame of one day's recall (``OUTPUT_SCHEMA`` plus ``date``). With
    ``spill_dir`` the driver reads the window now and spills it there
    (:func:`encore.recall.batch_read.spill_window`; the caller removes it after the
    write); without, each executor process reads the parquet window itself."""
    from pyspark.sql import functions as F

    from encore.platform.batch.batch_io import DATE_COL, available_dates

    days = sorted(set(window_days(day, history_days)) & set(available_dates(events_dir)))
    if not days:
        raise BatchRecallError(
            f"--date {day}: no event partitions in the {history_days} days before it under {events_dir}")
    files = tuple(window_files(events_dir, days))
    token = uuid.uuid4().hex
    spilled = str(spill_window(files, Path(spill_dir) / f"window-{token}.arrow")) if spill_dir else None
    listeners = listeners_frame(spark, users_dir, day).repartition(partitions, "user_id")
    run = _partition_recall(tracks[["track_id", "genre", "artist_id"]].copy(), day_start_ms(day), tuple(refs), params,
                            token, files, spilled)
    return listeners.mapInArrow(run, OUTPUT_SCHEMA).withColumn(DATE_COL, F.lit(day))


def day_start_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS


def write_recall(df: "DataFrame", out_dir: Path) -> None:
    """``OUT/recall/date=D/channel=C/`` replacing exactly the (date, channel) pairs in ``df``."""
    (df.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
     .partitionBy("date", "channel").parquet(str(Path(out_dir) / TABLE)))


def read_written(out_dir: Path, day: date, channel: str) -> pd.DataFrame:
    """One written (date, channel) partition as pandas (user_id, model_version, track_ids, scores)."""
    import pyarrow.parquet as pq

    folder = Path(out_dir) / TABLE / f"date={day.isoformat()}" / f"channel={channel}"
    files = sorted(p for p in folder.glob("*.parquet"))
    if not files:
        return pd.DataFrame({c: [] for c in ("user_id", "model_version", "track_ids", "scores")})
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def push_online(out_dir: Path, day: date, refs: Sequence[ChannelRef], store_path: Path) -> int:
    """Upsert the written lists of ``day`` into the online recall table; returns rows."""
    from encore.feature_store.recall_store import RecallStore

    store = RecallStore(store_path)
    pushed = 0
    try:
        for ref in refs:
            table = read_written(out_dir, day, ref.name)
            for version, part in table.groupby("model_version", sort=False):
                pushed += store.write(ref.name, day.isoformat(), str(version),
                                      zip(part["user_id"].tolist(), part["track_ids"], part["scores"]))
    finally:
        store.close()
    return pushed


def run_batch_recall(spark: "SparkSession", config: EncoreConfig, *, events_dir: Path, out_dir: Path | None,
                     users_dir: Path, catalog_dir: Path, dates: Sequence[date], registry_root: Path,
                     force: bool = False) -> BatchRecallReport:
    """Run ``batch.recall`` (its channels, k, window, partitions, push) for ``dates``."""
    from encore.platform.batch.batch_io import read_tracks

    opts = config.batch.recall
    out_dir = Path(out_dir) if out_dir else config.batch.output_dir
    refs = resolve_channels(config, registry_root, opts.channels, opts.k)
    params = QueryParams.from_config(config)
    report = BatchRecallReport(channels=[r.name for r in refs], versions={r.name: r.version for r in refs})
    tracks: pd.DataFrame | None = None  # read only when a date is computed (a skipping run starts no job)
    started = time.perf_counter()
    for i, day in enumerate(sorted(dates)):
        todo = [r for r in refs if force or not partition_written(out_dir, day, r.name)]
        if not todo:
            log.info("recall %s: every channel already written (skipped; --force recomputes)", day)
            report.skipped.append(day.isoformat())
        else:
            t0 = time.perf_counter()
            if tracks is None:
                tracks = read_tracks(spark, catalog_dir).select("track_id", "genre", "artist_id").toPandas()
            spill_dir = out_dir / SPILL_DIR if opts.spill_window else None
            try:
                df = recall_day(spark, events_dir=events_dir, users_dir=users_dir, tracks=tracks, day=day, refs=todo,
                                params=params, history_days=opts.history_days, partitions=opts.partitions,
                                spill_dir=spill_dir)
                write_recall(df, out_dir)
            finally:
                if spill_dir is not None:
                    shutil.rmtree(spill_dir, ignore_errors=True)
            seconds = time.perf_counter() - t0
            written = {r.name: read_written(out_dir, day, r.name) for r in todo}
            listeners = max(len(t) for t in written.values())
            rows = sum(len(t) for t in written.values())
            report.computed.append(day.isoformat())
            report.listeners += listeners
            report.rows += rows
            report.seconds += seconds
            report.per_date.append({"date": day.isoformat(), "channels": [r.name for r in todo],
                                    "listeners": listeners, "rows": rows, "seconds": round(seconds, 3)})
            done = i + 1
            elapsed = time.perf_counter() - started
            log.info("recall %s: %d listeners x %d channel(s) in %.1fs (%.0f listeners/s); %d/%d dates, ETA %.0fs",
                     day, listeners, len(todo), seconds, listeners / seconds if seconds else 0.0, done, len(dates),
                     elapsed / done * (len(dates) - done))
        if opts.push:
            report.pushed += push_online(out_dir, day, refs, recall_store_path(config))
    return report

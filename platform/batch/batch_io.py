"""I/O helpers of the batch jobs: which dates to run, reading the event log, the
catalog folder (:mod:`encore.platform.contracts.catalog`) and the users folder,
reading and writing date-partitioned outputs, progress logs.

Layout: the event log is ``EVENTS/date=YYYY-MM-DD/*.parquet`` (hive partitions, one
folder a UTC day); every job table is ``OUT/<table>/date=YYYY-MM-DD/*.parquet``,
written with *dynamic* partition overwrite so only the dates present in the written
frame are replaced. The ``date`` column is a Spark ``DateType`` in every frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("encore.batch")

DATE_COL = "date"
DAY_MS = 24 * 3600 * 1000
USERS_FILE = "users.parquet"  # in a users folder (a world writes <world>/users/)


class BatchInputError(ValueError):
    """Missing input folders / partitions, or a bad date selection."""


# ----------------------------------------------------------------------------- dates
def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as err:
        raise BatchInputError(f"not a YYYY-MM-DD date: {text!r}") from err


def available_dates(table_dir: Path) -> list[date]:
    """The ``date=`` partitions present under a hive-partitioned folder (sorted)."""
    table_dir = Path(table_dir)
    if not table_dir.is_dir():
        return []
    days = []
    for child in table_dir.iterdir():
        if child.is_dir() and child.name.startswith(f"{DATE_COL}="):
            if any(p.suffix == ".parquet" for p in child.iterdir()):
                days.append(parse_day(child.name.split("=", 1)[1]))
    return sorted(days)


def select_dates(
    events_dir: Path,
    dates: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[date]:
    """The dates a job runs for: ``dates`` (comma list) or ``since..until`` (inclusive),
    defaulting to every partition of the event log. Every chosen date must exist."""
    present = available_dates(events_dir)
    if not present:
        raise BatchInputError(f"no event partitions (date=YYYY-MM-DD) under {events_dir}")
    if dates:
        items = dates.split(",") if isinstance(dates, str) else list(dates)
        chosen = sorted({parse_day(d) for d in items if str(d).strip()})
        if since or until:
            raise BatchInputError("give either --dates or --since/--until, not both")
    else:
        lo = parse_day(since) if since else present[0]
        hi = parse_day(until) if until else present[-1]
        if hi < lo:
            raise BatchInputError(f"--until {hi} is before --since {lo}")
        chosen = [d for d in present if lo <= d <= hi]
    missing = [d.isoformat() for d in chosen if d not in set(present)]
    if missing:
        raise BatchInputError(f"no event partition for {', '.join(missing)} under {events_dir}")
    if not chosen:
        raise BatchInputError("the date selection is empty")
    return chosen


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def day_start_ms(day: date) -> int:
    return int(day_start(day).timestamp() * 1000)


def date_range(lo: date, hi: date) -> list[date]:
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]


def contiguous_runs(days: Iterable[date]) -> list[list[date]]:
    """Split sorted dates into runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def dates_frame(spark: "SparkSession", days: Iterable[date], name: str = DATE_COL) -> "DataFrame":
    """A one-column DateType frame of ``days``."""
    from pyspark.sql.types import DateType, StructField, StructType

    return spark.createDataFrame([(d,) for d in sorted(set(days))], StructType([StructField(name, DateType())]))


# ----------------------------------------------------------------------------- reading
def _read_partitions(spark: "SparkSession", table_dir: Path, days: Iterable[date]) -> "DataFrame | None":
    from pyspark.sql import functions as F

    table_dir = Path(table_dir)
    present = set(available_dates(table_dir))
    paths = [str(table_dir / f"{DATE_COL}={d.isoformat()}") for d in sorted(set(days)) if d in present]
    if not paths:
        return None
    df = spark.read.option("basePath", str(table_dir)).parquet(*paths)
    return df.withColumn(DATE_COL, F.col(DATE_COL).cast("date"))


def read_events(spark: "SparkSession", events_dir: Path, days: Iterable[date]) -> "DataFrame":
    """Events of the given days (absent days are skipped), with ``ts_ms`` (epoch ms,
    int64) added next to ``ts`` and ``date`` as DateType.

    ``events_dir`` is either a world's event log or the stream processor's offline log
    (same date partitions). The latter is at-least-once and carries Kafka bookkeeping
    columns, so only the event columns are kept and duplicates are dropped by
    ``event_id``: a replayed or re-sent event is counted once here as in the features.
    """
    from pyspark.sql import functions as F

    from encore.platform.contracts.event_log import EVENTS

    df = _read_partitions(spark, events_dir, days)
    if df is None:
        df = _empty_events(spark)
    df = df.select(*EVENTS.names, DATE_COL).dropDuplicates(["event_id"])
    return df.withColumn("ts_ms", F.unix_millis(F.col("ts")))


def _empty_events(spark: "SparkSession") -> "DataFrame":
    """No events: the world's ``EVENTS`` schema (in Spark types) plus ``date``."""
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import DateType

    from encore.platform.contracts.event_log import EVENTS

    return spark.createDataFrame([], from_arrow_schema(EVENTS).add(DATE_COL, DateType()))


def read_table(spark: "SparkSession", out_dir: Path, table: str, days: Iterable[date]) -> "DataFrame | None":
    """Partitions ``days`` of a job table ``OUT/<table>`` (None when none exists)."""
    return _read_partitions(spark, Path(out_dir) / table, days)


def require_partitions(out_dir: Path, table: str, days: Iterable[date], producer: str) -> None:
    """Raise a clear error when a job's input table lacks some of ``days``."""
    present = set(available_dates(Path(out_dir) / table))
    missing = sorted(d.isoformat() for d in set(days) if d not in present)
    if missing:
        raise BatchInputError(
            f"{table} has no partition for {', '.join(missing)} under {out_dir}: "
            f"run `encore batch {producer} --dates {','.join(missing)}` first"
        )


def world_dir_for(events_dir: Path) -> Path:
    """A world folder holds ``events/`` beside ``catalog/`` and ``users/``."""
    return Path(events_dir).resolve().parent


def world_seed(world_dir: Path | None) -> int | None:
    """The ``seed`` in a world folder's manifest, or None when the folder has no
    manifest (or one without an integer seed). Read as plain JSON, so a manifest with
    fields this code does not know still gives its seed."""
    import json

    from encore.platform.world.schema import MANIFEST

    if world_dir is None:
        return None
    path = Path(world_dir) / MANIFEST
    try:
        seed = json.loads(path.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        return None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _read_parquet(spark: "SparkSession", path: Path, flag: str) -> "DataFrame":
    if not path.exists():
        raise BatchInputError(f"{path} does not exist (pass {flag} DIR, or --world DIR with it)")
    return spark.read.parquet(str(path))


def read_catalog_table(spark: "SparkSession", catalog_dir: Path, name: str) -> "DataFrame":
    """One table of a catalog folder (``name``: a file of
    ``encore.platform.contracts.catalog.CATALOG_FILES``, e.g. ``artists.parquet``)."""
    from encore.platform.contracts.catalog import CATALOG_FILES

    if name not in CATALOG_FILES:
        raise ValueError(f"{name} is not a catalog file ({', '.join(CATALOG_FILES)})")
    return _read_parquet(spark, Path(catalog_dir) / name, "--catalog")


def read_tracks(spark: "SparkSession", catalog_dir: Path) -> "DataFrame":
    """The catalog's tracks without the wide ``audio`` and ``lyrics`` columns."""
    from encore.platform.contracts.catalog import tracks_file

    return _read_parquet(spark, tracks_file(catalog_dir), "--catalog").drop("audio", "lyrics")


def read_users(spark: "SparkSession", users_dir: Path) -> "DataFrame":
    """``USERS/users.parquet``: one row per user with its profile and ``signup_date``."""
    return _read_parquet(spark, Path(users_dir) / USERS_FILE, "--users")


# ----------------------------------------------------------------------------- writing
def write_partitioned(df: "DataFrame", out_dir: Path, table: str, *, files_per_day: int = 1) -> int:
    """Write ``df`` (which has a ``date`` column) to ``OUT/<table>/date=.../`` replacing
    exactly the dates it holds (dynamic partition overwrite). Returns rows written."""
    from pyspark.sql import functions as F

    path = Path(out_dir) / table
    df = df.cache()
    rows = df.count()
    (
        df.repartition(files_per_day, F.col(DATE_COL))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(DATE_COL)
        .parquet(str(path))
    )
    df.unpersist()
    return rows


# ----------------------------------------------------------------------------- progress
@dataclass
class JobReport:
    """What a job did: rows read and written, seconds, per-table row counts."""

    job: str
    dates: list[str]
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "job": self.job, "dates": self.dates, "rows_in": self.rows_in,
            "rows_out": self.rows_out, "seconds": round(self.seconds, 3),
            "rows_in_per_s": round(self.rate, 1), "tables": self.tables,
        }


class Progress:
    """Logs each step of a job with elapsed time, rows and rows/s."""

    def __init__(self, job: str, dates: Sequence[date]):
        self.report = JobReport(job=job, dates=[d.isoformat() for d in dates])
        self._t0 = time.perf_counter()
        log.info("%s: start for %d date(s) %s..%s", job, len(dates),
                 self.report.dates[0] if dates else "-", self.report.dates[-1] if dates else "-")

    def read(self, rows: int, what: str = "events") -> None:
        self.report.rows_in += rows
        log.info("%s: read %d %s (%.1fs)", self.report.job, rows, what, self.elapsed)

    def wrote(self, table: str, rows: int) -> None:
        self.report.rows_out += rows
        self.report.tables[table] = self.report.tables.get(table, 0) + rows
        el = self.elapsed
        log.info("%s: wrote %d rows to %s (%.1fs, %.0f rows/s)", self.report.job, rows, table,
                 el, rows / el if el > 0 else 0.0)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def done(self) -> JobReport:
        self.report.seconds = self.elapsed
        log.info("%s: done in %.1fs: %d rows in (%.0f rows/s), %d rows out", self.report.job,
                 self.report.seconds, self.report.rows_in, self.report.rate, self.report.rows_out)
        return self.report

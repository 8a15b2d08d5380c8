"""Job ``activity_stats``: daily and cumulative activity per entity, a track (table
``item_stats``, key ``track_id``) or an artist (table ``artist_stats``, key
``artist_id``): ``encore batch activity-stats --entity track|artist``.

Columns: date, the key, exposures, plays, completes, skips, hearts, listeners,
completion_rate, skip_rate, heart_rate, and the same counts and rates with a ``cum_``
prefix (all-time as of the end of the date). Per key and date d:

* daily ``exposures, plays, completes, skips, hearts, listeners`` over the events of d:
  plays = play_start events, completes = play_end events that are complete plays
  (:mod:`~encore.platform.contracts.labels`), skips = skip events, hearts = heart events,
  listeners = distinct listener keys (user id, or the anonymous session) that played it;
* ``completion_rate = completes / plays``, ``skip_rate = skips / plays``,
  ``heart_rate = hearts / plays`` (0 when plays = 0);
* the same with a ``cum_`` prefix over every day up to and including d (all-time as of
  the end of d; cumulative listeners are distinct over that whole span).

A row exists for every key with at least one event on or before d. Cumulative values
need every earlier day, so the job reads all event partitions up to the last date.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from encore.platform.batch import batch_io as bio
from encore.platform.batch.plays import listener_key, with_flags

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from encore.platform.batch.job import JobContext


class Entity(str, Enum):
    """What ``activity_stats`` counts: its table and key column."""

    TRACK = "track"
    ARTIST = "artist"

    @property
    def table(self) -> str:
        return {"track": "item_stats", "artist": "artist_stats"}[self.value]

    @property
    def key(self) -> str:
        return f"{self.value}_id"

    @property
    def command(self) -> str:
        """The ``encore batch`` command that writes this entity's table."""
        return f"activity-stats --entity {self.value}"

COUNTS = ("exposures", "plays", "completes", "skips", "hearts")
RATES = (("completion_rate", "completes"), ("skip_rate", "skips"), ("heart_rate", "hearts"))


def _rates(df: "DataFrame", prefix: str = "") -> "DataFrame":
    from pyspark.sql import functions as F

    plays = F.col(f"{prefix}plays")
    for rate, num in RATES:
        df = df.withColumn(
            f"{prefix}{rate}", F.when(plays > 0, F.col(f"{prefix}{num}") / plays).otherwise(F.lit(0.0))
        )
    return df


def compute_stats(ctx: JobContext, events: "DataFrame", key: str) -> "DataFrame":
    """Stats per (date, key) for ``ctx.dates`` from the flagged ``events`` of every day
    up to the last date."""
    from pyspark.sql import functions as F

    spark = ctx.spark

    first_listen = (
        events.where(F.col("listener").isNotNull())
        .groupBy(key, "listener").agg(F.min(bio.DATE_COL).alias(bio.DATE_COL))
        .groupBy(bio.DATE_COL, key).agg(F.count(F.lit(1)).alias("new_listeners"))
    )
    daily = events.groupBy(bio.DATE_COL, key).agg(
        F.sum((F.col("action") == "exposure").cast("long")).alias("exposures"),
        F.sum(F.col("is_play").cast("long")).alias("plays"),
        F.sum(F.col("is_complete").cast("long")).alias("completes"),
        F.sum(F.col("is_skip").cast("long")).alias("skips"),
        F.sum(F.col("is_heart").cast("long")).alias("hearts"),
        F.countDistinct("listener").alias("listeners"),
    )
    daily = daily.join(first_listen, [bio.DATE_COL, key], "left").fillna(0, ["new_listeners"])

    targets = bio.dates_frame(spark, ctx.dates, "as_of")
    cum = (
        daily.join(F.broadcast(targets), F.col(bio.DATE_COL) <= F.col("as_of"))
        .groupBy("as_of", key)
        .agg(*[F.sum(c).alias(f"cum_{c}") for c in COUNTS],
             F.sum("new_listeners").alias("cum_listeners"))
        .withColumnRenamed("as_of", bio.DATE_COL)
    )
    today = daily.join(F.broadcast(bio.dates_frame(spark, ctx.dates)), bio.DATE_COL).drop("new_listeners")
    out = cum.join(today, [bio.DATE_COL, key], "left").fillna(0, list(COUNTS) + ["listeners"])
    out = _rates(_rates(out), "cum_")
    cols = [bio.DATE_COL, key, *COUNTS, "listeners", *(r for r, _ in RATES),
            *(f"cum_{c}" for c in COUNTS), "cum_listeners", *(f"cum_{r}" for r, _ in RATES)]
    return out.select(*cols)


def run(ctx: JobContext, entity: Entity) -> bio.JobReport:
    """Stats per ``entity`` into its table (the run's report is named after the table)."""
    from pyspark.sql import functions as F

    entity = Entity(entity)
    table, key = entity.table, entity.key
    spark = ctx.spark
    progress = bio.Progress(table, ctx.dates)
    history = [d for d in bio.available_dates(ctx.events_dir) if d <= ctx.dates[-1]]
    events = with_flags(bio.read_events(spark, ctx.events_dir, history), bio.read_tracks(spark, ctx.catalog_dir))
    events = events.withColumn("listener", F.when(F.col("is_play") == 1, listener_key()))
    events = events.where(F.col(key).isNotNull()).cache()
    progress.read(events.count(), "events (history up to the last date)")
    progress.wrote(table, bio.write_partitioned(compute_stats(ctx, events, key), ctx.out_dir, table))
    events.unpersist()
    return progress.done()

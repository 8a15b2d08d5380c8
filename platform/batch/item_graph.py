"""Job ``item_graph``: the directed item-item association graph from co-listening
(table ``item_graph``). Options: ``batch.item_graph`` (``window_days``,
``min_support``, ``top_n``, ``max_items_per_context``; the CLI flags of the same names
override them for one run).

Co-listening unit: the **user-day** (a known user's plays on one UTC day; an anonymous
session, within one day, counts as its own listener). ``listeners(a)`` is the set of
user-days that played track ``a`` (a ``play_start``) in the window of ``window_days``
days ending on the partition date (default 30), and

    weight(a -> b) = |listeners(a) ∩ listeners(b)| / |listeners(a)|

kept when ``co_count = |listeners(a) ∩ listeners(b)| >= min_support`` (default 2), a != b,
and only the ``top_n`` (default 50) neighbours of each ``a`` by weight (ties:
lower dst_track_id first). So that bots and always-on players do
not spray quadratic pairs, each user-day contributes at most ``max_items_per_context``
distinct tracks (default ``sampling.max_samples_per_user_per_day``): its first distinct
tracks in play order (ts, event_id).

Columns: date, src_track_id, dst_track_id, co_count, src_listeners, dst_listeners,
weight (double), rank (1 = strongest).
"""

from __future__ import annotations

from datetime import timedelta

from encore.platform.batch import batch_io as bio
from encore.platform.batch.job import JobContext
from encore.platform.contracts.vocabulary import PLAY_START
from encore.platform.batch.plays import listener_key

JOB = TABLE = "item_graph"


def context_items(events, max_items: int):
    """(date, ctx, track_id) rows: the distinct tracks each user-day played, capped."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    plays = events.where(F.col("action") == PLAY_START).withColumn("ctx", listener_key())
    first = plays.groupBy(bio.DATE_COL, "ctx", "track_id").agg(
        F.min(F.struct("ts_ms", "event_id")).alias("first")
    )
    w = Window.partitionBy(bio.DATE_COL, "ctx").orderBy("first")
    return (
        first.withColumn("_rn", F.row_number().over(w))
        .where(F.col("_rn") <= max_items)
        .select(bio.DATE_COL, "ctx", "track_id")
    )


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.spark
    opts = ctx.config.batch.item_graph
    window_days, min_support, top_n = opts.window_days, opts.min_support, opts.top_n
    max_items = opts.max_items_per_context or ctx.config.sampling.max_samples_per_user_per_day
    progress = bio.Progress(JOB, ctx.dates)

    days = bio.date_range(ctx.dates[0] - timedelta(days=window_days - 1), ctx.dates[-1])
    events = bio.read_events(spark, ctx.events_dir, days).cache()
    progress.read(events.count(), f"events ({window_days}-day windows)")
    items = context_items(events, max_items).cache()

    a, b = items.alias("a"), items.alias("b")
    daily_pairs = (
        a.join(b, [bio.DATE_COL, "ctx"])
        .where(F.col("a.track_id") != F.col("b.track_id"))
        .groupBy(bio.DATE_COL, F.col("a.track_id").alias("src_track_id"), F.col("b.track_id").alias("dst_track_id"))
        .agg(F.count(F.lit(1)).alias("co_count"))
    )
    daily_items = items.groupBy(bio.DATE_COL, "track_id").agg(F.count(F.lit(1)).alias("listeners"))

    targets = bio.dates_frame(spark, ctx.dates, "as_of")
    in_window = (F.col(bio.DATE_COL) <= F.col("as_of")) & (
        F.col(bio.DATE_COL) > F.date_sub(F.col("as_of"), window_days)
    )
    pairs = (
        daily_pairs.join(F.broadcast(targets), in_window)
        .groupBy("as_of", "src_track_id", "dst_track_id").agg(F.sum("co_count").alias("co_count"))
        .where(F.col("co_count") >= min_support)
    )
    counts = (
        daily_items.join(F.broadcast(targets), in_window)
        .groupBy("as_of", "track_id").agg(F.sum("listeners").alias("listeners"))
    )
    src = counts.select("as_of", F.col("track_id").alias("src_track_id"), F.col("listeners").alias("src_listeners"))
    dst = counts.select("as_of", F.col("track_id").alias("dst_track_id"), F.col("listeners").alias("dst_listeners"))
    graph = (
        pairs.join(src, ["as_of", "src_track_id"]).join(dst, ["as_of", "dst_track_id"])
        .withColumn("weight", F.col("co_count") / F.col("src_listeners"))
    )
    w = Window.partitionBy("as_of", "src_track_id").orderBy(F.col("weight").desc(), F.col("dst_track_id"))
    graph = (
        graph.withColumn("rank", F.row_number().over(w).cast("int"))
        .where(F.col("rank") <= top_n)
        .withColumnRenamed("as_of", bio.DATE_COL)
        .select(bio.DATE_COL, "src_track_id", "dst_track_id", "co_count", "src_listeners",
                "dst_listeners", "weight", "rank")
    )
    progress.wrote(TABLE, bio.write_partitioned(graph, ctx.out_dir, TABLE))
    items.unpersist()
    events.unpersist()
    return progress.done()

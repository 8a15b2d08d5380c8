"""Job ``recall_samples``: next-item training samples for the recall models (table
``recall_samples``).

One sample per play (``play_start``) on the partition date; ``label`` = 1 when the
play is complete (:mod:`~encore.platform.labels`), else 0. The history is the
last ``batch.recall_history_length`` played track ids *strictly before* the play in
the listener's order (ts, event_id), oldest first: for a known user over their plays of
the last ``history_days`` days (default 30, read from earlier partitions, point-in-time);
for an anonymous listener only within its session (session-only samples).

Cap: at most ``world.max_sample_per_user_per_day`` samples per known user and day,
chosen by :func:`encore.platform.sampling.cap_samples_per_user` (a seeded hash of the
play's event id, seed ``--seed``, default ``world.seed``), applied with a grouped pandas
UDF to the over-cap user-days only, so bots and always-on players cannot dominate and
the choice is identical to the Python one. Anonymous samples are not capped.

Negatives: each positive gets ``batch.negatives_per_positive`` track ids drawn uniformly
from the catalog without the target, by a seeded hash of (event id, i, seed).

Columns: date, sample_id (the play's event_id), user_id (null = anonymous), session_id,
anonymous, scenario, ts, target_track_id, label (int), skipped, skip_at_ms,
history_track_ids (array<long>), history_length, negative_track_ids (array<long>).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from encore.platform.batch import batch_io as bio
from encore.platform.batch.job import JobContext, run_main
from encore.platform.batch.plays import listener_key, plays_with_outcome
from encore.platform.sampling import cap_samples_per_user

JOB = TABLE = "recall_samples"


def _cap_udf(cap: int, seed: int):
    def keep(pdf: pd.DataFrame) -> pd.DataFrame:
        kept = cap_samples_per_user(pdf, cap, seed, user_col="user_id", ts_col="ts", id_col="event_id")
        return kept[["event_id"]]

    return keep


def cap_per_user_day(samples, cap: int, seed: int):
    """Rows of ``samples`` (event_id, user_id, date, ts) kept by the per-user-day cap."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counted = samples.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy("user_id", bio.DATE_COL)))
    over = F.col("user_id").isNotNull() & (F.col("_n") > cap)
    kept_over = (
        counted.where(over).select("user_id", bio.DATE_COL, "ts", "event_id")
        .groupBy("user_id", bio.DATE_COL).applyInPandas(_cap_udf(cap, seed), "event_id string")
    )
    return counted.where(~over).drop("_n").unionByName(
        counted.where(over).drop("_n").join(kept_over, "event_id", "left_semi")
    )


def add_negatives(spark, samples, tracks, k: int, seed: int):
    """Add ``negative_track_ids``: k uniform catalog tracks != target, for label = 1."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if k <= 0:
        return samples.withColumn("negative_track_ids", F.array().cast("array<long>"))
    # A global (unpartitioned) window: it ranks the catalog, not the events, so one
    # partition holds it easily; Spark warns about it regardless. Not cached: the
    # catalog's track_id column is cheap to re-rank, and a cache here would outlive the
    # lazy frame this returns.
    idx = tracks.select("track_id").distinct().withColumn(
        "_idx", (F.row_number().over(Window.orderBy("track_id")) - 1).cast("long")
    )
    n = idx.count()
    if n < 2:
        return samples.withColumn("negative_track_ids", F.array().cast("array<long>"))
    pos = samples.where(F.col("label") == 1).select("sample_id", "target_track_id")
    pos = pos.join(F.broadcast(idx.withColumnRenamed("track_id", "target_track_id").withColumnRenamed("_idx", "_tidx")),
                   "target_track_id", "left")
    draws = pos.withColumn("_i", F.explode(F.sequence(F.lit(0), F.lit(k - 1))))
    j = F.pmod(F.xxhash64("sample_id", "_i", F.lit(seed)), F.lit(n - 1))
    draws = draws.withColumn("_j", j).withColumn(
        "_idx", F.when(F.col("_tidx").isNotNull() & (F.col("_j") >= F.col("_tidx")), F.col("_j") + 1).otherwise(F.col("_j"))
    )
    draws = draws.join(F.broadcast(idx), "_idx").groupBy("sample_id").agg(
        F.transform(F.sort_array(F.collect_list(F.struct("_i", "track_id"))), lambda x: x["track_id"]).alias("negative_track_ids")
    )
    return samples.join(draws, "sample_id", "left").withColumn(
        "negative_track_ids", F.coalesce(F.col("negative_track_ids"), F.array().cast("array<long>"))
    )


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.spark
    h = ctx.config.batch.recall_history_length
    history_days = int(ctx.opt("history_days", 30))
    cap = int(ctx.opt("cap", ctx.config.world.max_sample_per_user_per_day))
    seed = int(ctx.opt("seed", ctx.config.world.seed))
    progress = bio.Progress(JOB, ctx.dates)

    days = bio.date_range(ctx.dates[0] - timedelta(days=history_days), ctx.dates[-1])
    events = bio.read_events(spark, ctx.events_dir, days).cache()
    progress.read(events.count(), f"events ({history_days}-day history)")
    tracks = bio.read_tracks(spark, ctx.world_dir)
    plays = plays_with_outcome(events, tracks).withColumn("_key", listener_key())
    w = Window.partitionBy("_key").orderBy("ts_ms", "event_id").rowsBetween(-h, -1)
    samples = (
        plays.withColumn("history_track_ids", F.collect_list("track_id").over(w))
        .join(F.broadcast(bio.dates_frame(spark, ctx.dates)), bio.DATE_COL)
        .select(
            bio.DATE_COL, "event_id", "user_id", "session_id",
            F.col("user_id").isNull().alias("anonymous"), "scenario", "ts",
            F.col("track_id").alias("target_track_id"), F.col("complete").cast("int").alias("label"),
            "skipped", "skip_at_ms", "history_track_ids",
            F.size("history_track_ids").alias("history_length"),
        )
    )
    samples = cap_per_user_day(samples, cap, seed).withColumnRenamed("event_id", "sample_id")
    samples = add_negatives(spark, samples, tracks, ctx.config.batch.negatives_per_positive, seed)
    samples = samples.select(
        bio.DATE_COL, "sample_id", "user_id", "session_id", "anonymous", "scenario", "ts",
        "target_track_id", "label", "skipped", "skip_at_ms", "history_track_ids",
        "history_length", "negative_track_ids",
    )
    progress.wrote(TABLE, bio.write_partitioned(samples, ctx.out_dir, TABLE))
    events.unpersist()
    return progress.done()


def main(argv=None) -> None:
    run_main(JOB, run, argv)


if __name__ == "__main__":
    main()

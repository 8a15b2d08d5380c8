"""Job ``recall_samples``: next-item training samples for the recall models (table
``recall_samples``).

One sample per play (``play_start``) on the partition date; ``label`` = 1 when the
play is complete (:mod:`~encore.platform.contracts.labels`), else 0. The history is the
last ``batch.recall_samples.history_length`` played track ids *strictly before* the play in
the listener's order (ts, event_id), oldest first: for a known user over their plays
of the last ``batch.recall_samples.history_days`` days (default 30, read from earlier
partitions, point-in-time); for an anonymous listener only within its session
(session-only samples).

Cap, per known user (anonymous samples are not capped), chosen by
:func:`encore.platform.contracts.sampling.cap_samples_per_user` so the Spark choice is the Python
one (a seeded hash of the play's event id; seed ``batch.recall_samples.seed``,
default the world manifest's seed, else ``world.seed``):

* at most ``batch.recall_samples.cap`` (default ``sampling.max_samples_per_user_per_day``)
  samples per user and day;
* and at most the user's budget of the day (``sampling.budget``: a token bucket of
  ``burst`` samples refilled by ``rate`` a day, started full ``horizon_days`` before the
  day), so no user keeps more than ``burst + rate * (T - 1)`` samples in any ``T``
  days: a bot or an always-on player plays all day every day, and a per-day cap alone
  would still give it many times a listener's samples. The quotas come from the
  users' play counts per day (a grouped pandas UDF per user over the days read), and
  the over-quota user-days go through a grouped pandas UDF that calls the Python cap.

Negatives: each positive gets ``batch.recall_samples.negatives_per_positive`` track ids
drawn uniformly from the catalog without the target, by a seeded hash of (event id, i,
seed).

Columns: date, sample_id (the play's event_id), user_id (null = anonymous), session_id,
anonymous, scenario, ts, target_track_id, label (int), skipped, skip_at_ms,
history_track_ids (array<long>), history_length, negative_track_ids (array<long>).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from encore.platform.batch import batch_io as bio
from encore.platform.batch.job import JobContext
from encore.platform.batch.plays import listener_key, plays_with_outcome
from encore.platform.config import SampleBudget
from encore.platform.contracts.vocabulary import PLAY_START
from encore.platform.contracts.sampling import cap_samples_per_user, user_day_quotas

JOB = TABLE = "recall_samples"


def _cap_udf(seed: int):
    def keep(pdf: pd.DataFrame) -> pd.DataFrame:
        cap = int(pdf["_limit"].iloc[0])  # one user-day per group
        kept = cap_samples_per_user(pdf, cap, seed, user_col="user_id", ts_col="ts", id_col="event_id")
        return kept[["event_id"]]

    return keep


def _quota_udf(budget: SampleBudget, targets):
    def quotas(pdf: pd.DataFrame) -> pd.DataFrame:
        out = user_day_quotas(pdf, budget.rate, budget.burst, budget.horizon_days,
                              day_col=bio.DATE_COL, targets=targets)
        out[bio.DATE_COL] = out[bio.DATE_COL].dt.date
        return out[["user_id", bio.DATE_COL, "quota"]]

    return quotas


def cap_per_user(samples, plays, cap: int, budget: SampleBudget | None, seed: int, dates):
    """Rows of ``samples`` (event_id, user_id, date, ts) kept by the per-user-day cap
    and, with ``budget``, the per-user bucket quota computed from ``plays`` (the known
    users' plays of ``budget.horizon_days`` before the first date up to the last:
    event_id, user_id, date). Same rows as ``cap_samples_per_user`` on the whole log."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counted = samples.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy("user_id", bio.DATE_COL)))
    if budget is not None:
        counts = plays.where(F.col("user_id").isNotNull()).groupBy("user_id", bio.DATE_COL).agg(
            F.count(F.lit(1)).alias("n"))
        quotas = counts.groupBy("user_id").applyInPandas(
            _quota_udf(budget, dates), f"user_id long, {bio.DATE_COL} date, quota long")
        counted = counted.join(quotas, ["user_id", bio.DATE_COL], "left").withColumn(
            "_limit", F.least(F.lit(cap).cast("long"), F.coalesce(F.col("quota"), F.lit(cap).cast("long")))
        ).drop("quota")
    else:
        counted = counted.withColumn("_limit", F.lit(cap).cast("long"))
    over = F.col("user_id").isNotNull() & (F.col("_n") > F.col("_limit"))
    kept_over = (
        counted.where(over).select("user_id", bio.DATE_COL, "ts", "event_id", "_limit")
        .groupBy("user_id", bio.DATE_COL).applyInPandas(_cap_udf(seed), "event_id string")
    )
    return counted.where(~over).drop("_n", "_limit").unionByName(
        counted.where(over).drop("_n", "_limit").join(kept_over, "event_id", "left_semi")
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
    opts = ctx.config.batch.recall_samples
    h, history_days = opts.history_length, opts.history_days
    cap = opts.cap or ctx.config.sampling.max_samples_per_user_per_day
    seed = ctx.default_seed() if opts.seed is None else opts.seed
    budget = ctx.config.sampling.budget
    progress = bio.Progress(JOB, ctx.dates)

    lookback = max(history_days, budget.horizon_days if budget else 0)
    days = bio.date_range(ctx.dates[0] - timedelta(days=lookback), ctx.dates[-1])
    events = bio.read_events(spark, ctx.events_dir, days).cache()
    progress.read(events.count(), f"events ({history_days}-day history)")
    tracks = bio.read_tracks(spark, ctx.catalog_dir)
    plays_seen = events.where(F.col("action") == PLAY_START).select("event_id", "user_id", bio.DATE_COL)
    plays = plays_with_outcome(events, tracks).withColumn("_key", listener_key())
    plays = plays.where(F.col(bio.DATE_COL) >= F.lit(ctx.dates[0] - timedelta(days=history_days)))
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
    samples = cap_per_user(samples, plays_seen, cap, budget, seed, ctx.dates).withColumnRenamed("event_id", "sample_id")
    samples = add_negatives(spark, samples, tracks, opts.negatives_per_positive, seed)
    samples = samples.select(
        bio.DATE_COL, "sample_id", "user_id", "session_id", "anonymous", "scenario", "ts",
        "target_track_id", "label", "skipped", "skip_at_ms", "history_track_ids",
        "history_length", "negative_track_ids",
    )
    progress.wrote(TABLE, bio.write_partitioned(samples, ctx.out_dir, TABLE))
    events.unpersist()
    return progress.done()

"""Job ``ranking_samples``: one row per exposure with its labels, logging propensity
and point-in-time features (table ``ranking_samples``).

Labels come from the events of the same session and track from the exposure's ts up to
(not including) the next exposure of that track in that session: ``complete_play`` (a
complete play_end, :mod:`~encore.platform.labels`), ``heart``, ``skip`` and
``skip_at_ms`` (played_ms of the first such skip). Exposure without play = all zero.

Features use only events *strictly before* the exposure's ts (Spark range windows over
epoch ms ending at -1 ms), per listener (user id, or the anonymous session):

* ``user_{exposures,plays,completes,skips,hearts}_30d``: the last ``history_days``
  (default 30) days up to the exposure;
* ``user_plays_today``: since the start of the exposure's UTC day;
* ``user_track_plays_30d``: plays of this very track (repeat consumption);
* ``track_{plays,listeners,completion_rate,skip_rate,heart_rate}``: the track's
  cumulative stats as of the end of the *previous* day (``item_stats``, run it first;
  0 when the track had no activity or the day has no predecessor in the log).
"""

from __future__ import annotations

from datetime import timedelta

from encore.platform.batch import batch_io as bio
from encore.platform.batch.job import JobContext, run_main
from encore.platform.labels import EXPOSURE, HEART, PLAY_END, SKIP, complete_play_col
from encore.platform.batch.plays import listener_key, with_flags

JOB = TABLE = "ranking_samples"
USER_COUNTS = ("exposures", "plays", "completes", "skips", "hearts")
TRACK_FEATURES = {
    "track_plays": "cum_plays", "track_listeners": "cum_listeners",
    "track_completion_rate": "cum_completion_rate", "track_skip_rate": "cum_skip_rate",
    "track_heart_rate": "cum_heart_rate",
}


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.spark
    history_days = int(ctx.opt("history_days", 30))
    progress = bio.Progress(JOB, ctx.dates)
    present = set(bio.available_dates(ctx.events_dir))
    prev_days = sorted({d - timedelta(days=1) for d in ctx.dates} & present)
    bio.require_partitions(ctx.out_dir, "item_stats", prev_days, "item_stats")

    days = bio.date_range(ctx.dates[0] - timedelta(days=history_days), ctx.dates[-1] + timedelta(days=1))
    tracks = bio.read_tracks(spark, ctx.world_dir)
    events = with_flags(bio.read_events(spark, ctx.events_dir, days), tracks)
    events = events.withColumn("_key", listener_key()).withColumn(
        "is_exposure", (F.col("action") == EXPOSURE).cast("int")
    ).cache()
    progress.read(events.count(), f"events ({history_days}-day history + 1 day of labels)")

    # ---- point-in-time features on every event row, then keep the exposures
    span_ms = history_days * bio.DAY_MS
    w30 = Window.partitionBy("_key").orderBy("ts_ms").rangeBetween(-span_ms, -1)
    wday = Window.partitionBy("_key", bio.DATE_COL).orderBy("ts_ms").rangeBetween(Window.unboundedPreceding, -1)
    wtrack = Window.partitionBy("_key", "track_id").orderBy("ts_ms").rangeBetween(-span_ms, -1)
    feats = events
    for name in USER_COUNTS:
        flag = "is_exposure" if name == "exposures" else f"is_{name[:-1]}"
        feats = feats.withColumn(f"user_{name}_30d", F.coalesce(F.sum(flag).over(w30), F.lit(0)).cast("long"))
    feats = (
        feats.withColumn("user_plays_today", F.coalesce(F.sum("is_play").over(wday), F.lit(0)).cast("long"))
        .withColumn("user_track_plays_30d", F.coalesce(F.sum("is_play").over(wtrack), F.lit(0)).cast("long"))
    )
    nxt = Window.partitionBy("session_id", "track_id").orderBy("ts_ms", "event_id")
    exposures = (
        feats.where(F.col("is_exposure") == 1)
        .withColumn("_until_ms", F.lead("ts_ms").over(nxt))
        .join(F.broadcast(bio.dates_frame(spark, ctx.dates)), bio.DATE_COL)
    )

    # ---- labels from the same session and track until the next exposure of it
    outcome = events.where(F.col("action").isin(PLAY_END, SKIP, HEART)).select(
        "session_id", "track_id", F.col("ts_ms").alias("_o_ts"), F.col("event_id").alias("_o_id"),
        F.col("action").alias("_o_action"), F.col("played_ms").alias("_o_played"),
        complete_play_col("played_ms", "duration_ms").alias("_o_complete"),
    )
    e = exposures.alias("e")
    linked = e.join(
        outcome.alias("o"),
        (F.col("e.session_id") == F.col("o.session_id")) & (F.col("e.track_id") == F.col("o.track_id"))
        & (F.col("o._o_ts") >= F.col("e.ts_ms"))
        & (F.col("e._until_ms").isNull() | (F.col("o._o_ts") < F.col("e._until_ms"))),
        "left",
    )
    is_skip = F.col("_o_action") == SKIP
    labels = linked.groupBy(F.col("e.event_id").alias("event_id")).agg(
        F.max(((F.col("_o_action") == PLAY_END) & F.col("_o_complete")).cast("int")).alias("complete_play"),
        F.max((F.col("_o_action") == HEART).cast("int")).alias("heart"),
        F.max(is_skip.cast("int")).alias("skip"),
        F.min_by(F.when(is_skip, F.col("_o_played")), F.when(is_skip, F.struct("_o_ts", "_o_id"))).alias("skip_at_ms"),
    ).fillna(0, ["complete_play", "heart", "skip"])

    # ---- track stats as of the previous day
    stats = bio.read_table(spark, ctx.out_dir, "item_stats", prev_days)
    out = exposures.join(labels, "event_id", "left").withColumn(
        "_prev", F.date_sub(F.col(bio.DATE_COL), 1)
    )
    if stats is not None:
        s = stats.select(
            F.col(bio.DATE_COL).alias("_prev"), "track_id",
            *[F.col(src).alias(dst) for dst, src in TRACK_FEATURES.items()],
        )
        out = out.join(s, ["_prev", "track_id"], "left")
    else:
        for dst in TRACK_FEATURES:
            out = out.withColumn(dst, F.lit(None))
    for dst in TRACK_FEATURES:
        kind = "double" if "rate" in dst else "long"
        out = out.withColumn(dst, F.coalesce(F.col(dst).cast(kind), F.lit(0).cast(kind)))

    out = out.select(
        bio.DATE_COL, F.col("event_id").alias("exposure_id"), "request_id", "user_id",
        "session_id", F.col("user_id").isNull().alias("anonymous"), "scenario", "ts",
        "track_id", "position", "propensity", "complete_play", "heart", "skip", "skip_at_ms",
        *[f"user_{n}_30d" for n in USER_COUNTS], "user_plays_today", "user_track_plays_30d",
        *TRACK_FEATURES,
    )
    progress.wrote(TABLE, bio.write_partitioned(out, ctx.out_dir, TABLE))
    events.unpersist()
    return progress.done()


def main(argv=None) -> None:
    run_main(JOB, run, argv)


if __name__ == "__main__":
    main()

"""Job ``ranking_samples``: one row per exposure with its labels, logging propensity
and point-in-time features (table ``ranking_samples``).

Labels are the outcomes (``play_end``, ``skip``, ``heart``) attributed to the exposure:
``complete_play`` (a complete play_end, :mod:`~encore.platform.contracts.labels`), ``heart``,
``skip`` and ``skip_at_ms`` (played_ms of its first skip in (ts, event_id) order).
Exposure without an outcome = all zero. Each outcome goes to at most one exposure
(:func:`attribute_outcomes`):

* an outcome with a ``request_id`` goes to the exposure of its track *in that request*
  (the slate it answers), whatever the timestamps say: the last track played from one
  slate often ends in the very millisecond the next slate (which may show the same
  track again) is shown, so time alone cannot tell the two exposures apart;
* an outcome without one (a client that does not send it) falls back to the last
  exposure of its (session, track) at or before it in (ts, event_id) order.

Should one request show a track twice, its outcome goes to the last of those exposures
at or before it in (ts, event_id) order. An outcome with no such exposure in the events
read (the exposure is older than the history read) labels nothing.

Features use only events *strictly before* the exposure's ts (Spark range windows over
epoch ms ending at -1 ms), per listener (user id, or the anonymous session):

* ``user_{exposures,plays,completes,skips,hearts}_30d``: the last
  ``batch.ranking_samples.history_days`` (default 30) days up to the exposure;
* ``user_plays_today``: since the start of the exposure's UTC day;
* ``user_track_plays_30d``: plays of this very track (repeat consumption);
* ``track_{plays,listeners,completion_rate,skip_rate,heart_rate}``: the track's
  cumulative stats as of the end of the *previous* day (``item_stats``: run
  ``activity-stats --entity track`` first;
  0 when the track had no activity or the day has no predecessor in the log).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from encore.platform.batch import batch_io as bio
from encore.platform.batch.activity_stats import Entity
from encore.platform.batch.job import JobContext
from encore.platform.contracts.labels import complete_play_col
from encore.platform.contracts.vocabulary import EXPOSURE, HEART, PLAY_END, SKIP
from encore.platform.batch.plays import listener_key, with_flags

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

JOB = TABLE = "ranking_samples"
USER_COUNTS = ("exposures", "plays", "completes", "skips", "hearts")
LABELS = ("complete_play", "heart", "skip")
TRACK_FEATURES = {
    "track_plays": "cum_plays", "track_listeners": "cum_listeners",
    "track_completion_rate": "cum_completion_rate", "track_skip_rate": "cum_skip_rate",
    "track_heart_rate": "cum_heart_rate",
}


def attribute_outcomes(events: "DataFrame") -> "DataFrame":
    """Labels per exposure: ``event_id`` (the exposure's), ``complete_play``, ``heart``,
    ``skip`` (int 0/1) and ``skip_at_ms``, from the outcomes of ``events`` (the event
    log with ``ts_ms``, ``duration_ms``), attributed by the rule of the module
    docstring. Only exposures with at least one outcome have a row.

    One window pass: every exposure appears twice, keyed by (request_id, track_id) and
    by (session_id, track_id); every outcome once, keyed by its request id when it has
    one, else by its session; in each key's (ts, event_id) order an outcome takes the
    last exposure before it.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def keyed(frame, by_request: bool, key: str, exposure: bool):
        return frame.select(
            F.lit(by_request).alias("_by_request"), F.col(key).alias("_akey"), "track_id",
            "ts_ms", "event_id",
            (F.col("event_id") if exposure else F.lit(None).cast("string")).alias("_exposure_id"),
            (F.lit(None).cast("string") if exposure else F.col("action")).alias("_o_action"),
            (F.lit(None).cast("long") if exposure else F.col("played_ms")).alias("_o_played"),
            (F.lit(None).cast("boolean") if exposure
             else complete_play_col("played_ms", "duration_ms")).alias("_o_complete"),
        )

    shown = events.where(F.col("action") == EXPOSURE)
    outcomes = events.where(F.col("action").isin(PLAY_END, SKIP, HEART))
    rows = (
        keyed(shown.where(F.col("request_id").isNotNull()), True, "request_id", True)
        .unionByName(keyed(shown, False, "session_id", True))
        .unionByName(keyed(outcomes.where(F.col("request_id").isNotNull()), True, "request_id", False))
        .unionByName(keyed(outcomes.where(F.col("request_id").isNull()), False, "session_id", False))
    )
    upto = (
        Window.partitionBy("_by_request", "_akey", "track_id").orderBy("ts_ms", "event_id")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    linked = (
        rows.withColumn("_exp", F.last("_exposure_id", ignorenulls=True).over(upto))
        .where(F.col("_o_action").isNotNull() & F.col("_exp").isNotNull())
    )
    is_skip = F.col("_o_action") == SKIP
    return linked.groupBy(F.col("_exp").alias("event_id")).agg(
        F.max(((F.col("_o_action") == PLAY_END) & F.col("_o_complete")).cast("int")).alias("complete_play"),
        F.max((F.col("_o_action") == HEART).cast("int")).alias("heart"),
        F.max(is_skip.cast("int")).alias("skip"),
        F.min_by(F.when(is_skip, F.col("_o_played")), F.when(is_skip, F.struct("ts_ms", "event_id"))).alias("skip_at_ms"),
    )


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.spark
    history_days = ctx.config.batch.ranking_samples.history_days
    progress = bio.Progress(JOB, ctx.dates)
    present = set(bio.available_dates(ctx.events_dir))
    prev_days = sorted({d - timedelta(days=1) for d in ctx.dates} & present)
    bio.require_partitions(ctx.out_dir, Entity.TRACK.table, prev_days, Entity.TRACK.command)

    days = bio.date_range(ctx.dates[0] - timedelta(days=history_days), ctx.dates[-1] + timedelta(days=1))
    tracks = bio.read_tracks(spark, ctx.catalog_dir)
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
    exposures = feats.where(F.col("is_exposure") == 1).join(
        F.broadcast(bio.dates_frame(spark, ctx.dates)), bio.DATE_COL
    )
    labels = attribute_outcomes(events)

    # ---- track stats as of the previous day
    stats = bio.read_table(spark, ctx.out_dir, Entity.TRACK.table, prev_days)
    out = exposures.join(labels, "event_id", "left").fillna(0, list(LABELS)).withColumn(
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

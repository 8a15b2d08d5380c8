"""Job ``sessionize``: the event log -> one row per session (table ``sessions``).

The rule is exactly :mod:`encore.platform.contracts.sessions`: for a known user a new session
starts on a scenario switch, after an inactivity gap (``sessions.inactivity_gap_minutes``,
strictly more), or when the event is more than ``sessions.max_session_minutes`` after the
session's first event. Anonymous events keep the session id their client gave them.

How the max-duration split is done in Spark. Gap and scenario breaks are local (they
compare an event with the one before it), but the duration break is *sequential*: it
depends on where the current session started, which depends on every earlier split.
No window expression can express that exactly, so the events of each user are grouped
(``groupBy(user_id).applyInPandas``) and the very Python function
:func:`encore.platform.contracts.sessions.sessionize` assigns session indices, on the user's
events ordered by (ts, event_id). Results are therefore identical to the Python rule.
Equal timestamps are ordered by event_id (the only stable order a distributed read has).

Incremental by day. A session belongs to the date (UTC) of its first event; partition
``date=d`` holds the sessions that start on d, including their events after midnight.
The state carried over midnight is the previous day's last session per user: when
``sessions/date=d-1`` exists, events up to that session's last event (``last_event_id``)
are dropped and the rest start fresh, which is exact (the event after a session's last
event opens a session by definition). When it does not exist, the job sessionizes from
``batch.sessionize.lookback_days`` (default 1) earlier, which is exact unless a user played without any
gap or scenario switch across that whole lookback (then a log line says how many).
Sessions that start on the last requested date are completed with events of the next
day (up to ``max_session_minutes`` after midnight), so run a day once the next day's
first hours have arrived (or re-run it).

Columns: date, session_id, user_id (null = anonymous), anonymous, session_key
(user id as text, or the anonymous session id), session_index (0-based rank of the
session among its key's sessions that start that day), scenario, start_ts, end_ts,
duration_ms, n_events, n_exposures, n_plays, n_completes, n_skips, n_hearts,
track_ids (play_start track ids in order), last_event_id.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from encore.platform.batch import batch_io as bio
from encore.platform.batch.job import JobContext
from encore.platform.batch.plays import with_flags
from encore.platform.contracts.sessions import session_name, sessionize

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger("encore.batch")
TABLE = "sessions"
JOB = "sessionize"


def _assign_sessions(max_session_ms: int, gap_ms: int):
    def assign(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.sort_values(["ts_ms", "event_id"], kind="mergesort")
        ts = pdf["ts_ms"].to_numpy().astype("int64")
        idx = sessionize(
            ts.tolist(), pdf["scenario"].tolist(), max_session_ms=max_session_ms,
            inactivity_gap_ms=gap_ms,
        )
        idx = pd.Series(idx, index=pdf.index)
        starts = pdf["ts_ms"].groupby(idx.to_numpy()).transform("min")
        # Several sessions of the user opening in the same ms are told apart by rank,
        # numbered in session order exactly as sessionize_frame does.
        first = pd.DataFrame({"idx": idx, "start": starts}).drop_duplicates("idx")
        rank = idx.map(first.set_index("idx").groupby("start").cumcount())
        user = int(pdf["user_id"].iloc[0])
        return pd.DataFrame({
            "event_id": pdf["event_id"].to_numpy(),
            "session_start_ms": starts.to_numpy().astype("int64"),
            "session_id": [session_name(user, int(s), int(r))
                           for s, r in zip(starts.to_numpy(), rank.to_numpy())],
        })

    return assign


def _sessionize_block(ctx: JobContext, block: list, events: "DataFrame", seed: "DataFrame | None") -> "DataFrame":
    """Sessions that start on the days of ``block`` from ``events`` and the sessions of
    the day before (``seed``, None when absent); both read by ``run``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = ctx.spark
    max_ms = ctx.config.sessions.max_session_ms
    gap_ms = ctx.config.sessions.inactivity_gap_ms
    first, last = block[0], block[-1]
    horizon = bio.day_start_ms(last + timedelta(days=1)) + max_ms
    events = events.where(F.col("ts_ms") <= horizon)
    first_ms = bio.day_start_ms(first)
    end_ms = bio.day_start_ms(last + timedelta(days=1))

    known = events.where(F.col("user_id").isNotNull())
    if seed is not None:
        w = Window.partitionBy("user_id").orderBy(F.col("start_ts").desc())
        last_sessions = (
            seed.where(F.col("user_id").isNotNull())
            .withColumn("_rn", F.row_number().over(w)).where("_rn = 1")
            .select("user_id", F.unix_millis("end_ts").alias("seed_end_ms"), F.col("last_event_id").alias("seed_event_id"))
        )
        known = known.join(F.broadcast(last_sessions), "user_id", "left")
        after_seed = (F.col("ts_ms") > F.col("seed_end_ms")) | (
            (F.col("ts_ms") == F.col("seed_end_ms")) & (F.col("event_id") > F.col("seed_event_id"))
        )
        known = known.where(
            F.when(F.col("seed_end_ms").isNotNull(), after_seed).otherwise(F.col("ts_ms") >= first_ms)
        ).drop("seed_end_ms", "seed_event_id")

    assigned = (
        known.select("user_id", "event_id", "ts_ms", "scenario")
        .groupBy("user_id")
        .applyInPandas(
            _assign_sessions(max_ms, gap_ms),
            "event_id string, session_start_ms long, session_id string",
        )
    )
    known_s = known.drop("session_id").join(assigned, "event_id")
    anon = events.where(F.col("user_id").isNull()).withColumn(
        "session_start_ms", F.min("ts_ms").over(Window.partitionBy("session_id"))
    )
    sessioned = known_s.unionByName(anon.select(*known_s.columns))
    sessioned = sessioned.where((F.col("session_start_ms") >= first_ms) & (F.col("session_start_ms") < end_ms))
    return _aggregate(with_flags(sessioned, bio.read_tracks(spark, ctx.catalog_dir)))


def _aggregate(df: "DataFrame") -> "DataFrame":
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = F.struct("ts_ms", "event_id")
    plays = F.filter(
        F.sort_array(F.collect_list(F.when(F.col("is_play") == 1, F.struct("ts_ms", "event_id", "track_id")))),
        lambda x: x.isNotNull(),
    )
    agg = df.groupBy("session_id").agg(
        F.first("user_id", ignorenulls=True).alias("user_id"),
        F.min_by("scenario", order).alias("scenario"),
        F.min("session_start_ms").alias("start_ms"),
        F.max("ts_ms").alias("end_ms"),
        F.count(F.lit(1)).alias("n_events"),
        F.sum((F.col("action") == "exposure").cast("long")).alias("n_exposures"),
        F.sum(F.col("is_play").cast("long")).alias("n_plays"),
        F.sum(F.col("is_complete").cast("long")).alias("n_completes"),
        F.sum(F.col("is_skip").cast("long")).alias("n_skips"),
        F.sum(F.col("is_heart").cast("long")).alias("n_hearts"),
        F.transform(plays, lambda x: x["track_id"]).alias("track_ids"),
        F.max_by("event_id", order).alias("last_event_id"),
        F.first(F.when(F.col("user_id").isNull(), F.col("session_id")), ignorenulls=True).alias("_anon_key"),
    )
    agg = (
        agg.withColumn("anonymous", F.col("user_id").isNull())
        .withColumn("session_key", F.coalesce(F.col("user_id").cast("string"), F.col("_anon_key")))
        .withColumn(bio.DATE_COL, F.date_from_unix_date(F.floor(F.col("start_ms") / bio.DAY_MS).cast("int")))
        .withColumn("start_ts", F.timestamp_millis("start_ms"))
        .withColumn("end_ts", F.timestamp_millis("end_ms"))
        .withColumn("duration_ms", F.col("end_ms") - F.col("start_ms"))
    )
    w = Window.partitionBy("session_key", bio.DATE_COL).orderBy("start_ms", "session_id")
    agg = agg.withColumn("session_index", (F.row_number().over(w) - 1).cast("int"))
    return agg.select(
        bio.DATE_COL, "session_id", "user_id", "anonymous", "session_key", "session_index",
        "scenario", "start_ts", "end_ts", "duration_ms", "n_events", "n_exposures", "n_plays",
        "n_completes", "n_skips", "n_hearts", "track_ids", "last_event_id",
    )


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import functions as F

    progress = bio.Progress(JOB, ctx.dates)
    for block in bio.contiguous_runs(ctx.dates):
        first, last = block[0], block[-1]
        seed = bio.read_table(ctx.spark, ctx.out_dir, TABLE, [first - timedelta(days=1)])
        lookback = 1 if seed is not None else ctx.config.batch.sessionize.lookback_days
        if seed is None:
            log.warning("%s: no %s partition for %s; sessionizing from %d day(s) earlier",
                        JOB, TABLE, first - timedelta(days=1), lookback)
        read_days = bio.date_range(first - timedelta(days=lookback), last + timedelta(days=1))
        # read and deduplicated once: the block's known and anonymous events, and the count
        events = bio.read_events(ctx.spark, ctx.events_dir, read_days).cache()
        in_block = F.col(bio.DATE_COL).between(F.lit(first), F.lit(last))
        progress.read(events.where(in_block).count(), "events (requested dates)")
        rows = bio.write_partitioned(_sessionize_block(ctx, block, events, seed), ctx.out_dir, TABLE)
        progress.wrote(TABLE, rows)
        events.unpersist()
    return progress.done()

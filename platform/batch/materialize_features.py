"""Job ``materialize_features``: daily snapshots of the Feast offline sources
``user_profile``, ``track_profile`` and ``artist_profile``.

Columns and types are those of :mod:`encore.feature_store.schema` (``SourceSpec``):
each snapshot is cast to ``spec.arrow_schema``. A snapshot of date d carries
``event_timestamp = d 23:59:59.999999 UTC`` (the end of d), so Feast's point-in-time
join gives a query at time t the snapshot of the last day that ended before t.
A folder source gets one file per day (``snapshot-YYYY-MM-DD.parquet``, replaced when
the day is re-run); a single-file source (``*.parquet``) is rewritten with that day's
rows replaced.

* user_profile (every user signed up by d): profile from the users folder's
  ``users.parquet`` (``--users``, default ``<world>/users``); over the
  ``batch.materialize_features.window_days`` (default 30) days ending d: ``plays_30d`` (play_start
  events), ``skip_rate_30d`` (skips / plays, 0 without plays), ``active_days_30d``
  (days with any event), ``top_genres`` (3 most played genres) and ``top_artist_ids``
  (5 most played artists), ties broken by name / id.
* track_profile (every track of the catalog folder, ``--catalog``): its attributes + cumulative ``item_stats``
  as of d (``play_count`` = cum_plays, rates = cum_*_rate; 0 without activity), and the emotion
  model's ``predicted_valence`` / ``predicted_arousal``: from ``batch.materialize_features.track_emotion``
  (a parquet of track_id and both columns), else ``track_emotion.parquet`` of the promoted
  ``emotion.registry_name`` model in ``registry.root`` (``encore train emotion``); null for a track
  without a prediction, and for all when there is none.
* artist_profile (every catalog artist): genre, language, ``track_count`` (catalog) +
  cumulative ``artist_stats`` as of d.

Needs ``item_stats`` and ``artist_stats`` for the dates (run ``activity-stats
--entity track`` and ``--entity artist`` first). The sources go to
``batch.materialize_features.offline_dir`` (``--offline-dir``; default
``feature_store.offline_dir``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from encore.feature_store import schema as fs
from encore.platform.batch import batch_io as bio
from encore.platform.batch.activity_stats import Entity
from encore.platform.batch.job import JobContext
from encore.platform.batch.plays import with_flags

JOB = "materialize_features"
TOP_GENRES = 3
TOP_ARTISTS = 5


def snapshot_time(day: date) -> datetime:
    """The event_timestamp of the snapshot of ``day``: the last microsecond of it."""
    return bio.day_start(day) + timedelta(days=1) - timedelta(microseconds=1)


def _to_arrow(pdf: pd.DataFrame, spec: fs.SourceSpec, day: date) -> pa.Table:
    pdf = pdf.copy()
    pdf[fs.EVENT_TIMESTAMP] = pd.Timestamp(snapshot_time(day))
    schema = spec.arrow_schema
    for field in schema:
        if pa.types.is_list(field.type):
            pdf[field.name] = pdf[field.name].map(lambda v: [] if v is None else list(v))
    return pa.Table.from_pandas(pdf[schema.names], schema=schema, preserve_index=False)


def write_snapshot(table: pa.Table, spec: fs.SourceSpec, offline_dir: Path, day: date) -> None:
    target = spec.location(offline_dir)
    if spec.is_single_file:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = pq.read_table(target).cast(spec.arrow_schema)
            ts = pd.Series(old.column(fs.EVENT_TIMESTAMP).to_pandas())
            keep = (ts != pd.Timestamp(snapshot_time(day))).to_numpy()
            table = pa.concat_tables([old.filter(pa.array(keep)), table])
        tmp = target.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(target)
    else:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".snapshot-{day.isoformat()}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(target / f"snapshot-{day.isoformat()}.parquet")


def user_snapshot(day: date, window_days: int, events, users):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    recent = events.where(
        (F.col(bio.DATE_COL) <= F.lit(day)) & (F.col(bio.DATE_COL) > F.date_sub(F.lit(day), window_days))
        & F.col("user_id").isNotNull()
    )
    activity = recent.groupBy("user_id").agg(
        F.sum("is_play").cast("long").alias("plays_30d"),
        F.sum("is_skip").cast("long").alias("_skips"),
        F.countDistinct(bio.DATE_COL).cast("long").alias("active_days_30d"),
    )
    plays = recent.where(F.col("is_play") == 1)

    def top(col: str, n: int, alias: str):
        counted = plays.where(F.col(col).isNotNull()).groupBy("user_id", col).agg(F.count(F.lit(1)).alias("_n"))
        w = Window.partitionBy("user_id").orderBy(F.col("_n").desc(), F.col(col))
        return (
            counted.withColumn("_r", F.row_number().over(w)).where(F.col("_r") <= n)
            .groupBy("user_id")
            .agg(F.transform(F.sort_array(F.collect_list(F.struct("_r", col))), lambda x: x[col]).alias(alias))
        )

    out = (
        users.where(F.col("signup_date") <= F.lit(day))
        .join(activity, "user_id", "left")
        .join(top("genre", TOP_GENRES, "top_genres"), "user_id", "left")
        .join(top("artist_id", TOP_ARTISTS, "top_artist_ids"), "user_id", "left")
        .fillna(0, ["plays_30d", "_skips", "active_days_30d"])
        .withColumn("skip_rate_30d", F.when(F.col("plays_30d") > 0, F.col("_skips") / F.col("plays_30d")).otherwise(0.0))
    )
    return out.orderBy("user_id").toPandas()


def track_snapshot(day: date, tracks, stats):
    from pyspark.sql import functions as F

    s = stats.where(F.col(bio.DATE_COL) == F.lit(day)).select(
        "track_id", F.col("cum_plays").alias("play_count"),
        F.col("cum_completion_rate").alias("completion_rate"),
        F.col("cum_skip_rate").alias("skip_rate"), F.col("cum_heart_rate").alias("heart_rate"),
    )
    out = tracks.join(s, "track_id", "left").fillna(0, ["play_count"]).fillna(
        0.0, ["completion_rate", "skip_rate", "heart_rate"]
    )
    return out.orderBy("track_id").toPandas()


def artist_snapshot(day: date, artists, stats):
    """``artists``: artist_id, genre, language, track_count (the catalog's, see ``run``)."""
    from pyspark.sql import functions as F

    s = stats.where(F.col(bio.DATE_COL) == F.lit(day)).select(
        "artist_id", F.col("cum_plays").alias("play_count"), F.col("cum_listeners").alias("listener_count"),
        F.col("cum_completion_rate").alias("completion_rate"), F.col("cum_skip_rate").alias("skip_rate"),
    )
    out = (
        artists.join(s, "artist_id", "left")
        .fillna(0, ["track_count", "play_count", "listener_count"])
        .fillna(0.0, ["completion_rate", "skip_rate"])
    )
    return out.orderBy("artist_id").toPandas()


EMOTION_COLUMNS = ("predicted_valence", "predicted_arousal")


def track_emotion_path(config) -> Path | None:
    """The predictions the track_profile snapshots take (module docstring), or None."""
    from encore.platform.registry import Registry

    given = config.batch.materialize_features.track_emotion
    if given is not None:
        if not Path(given).is_file():
            raise FileNotFoundError(f"batch.materialize_features.track_emotion: {given} does not exist")
        return Path(given)
    registry = Registry(config.registry.root)
    name = config.emotion.registry_name
    version = registry.promoted(name) if (Path(config.registry.root) / name).is_dir() else None
    if version is None:
        return None
    path = registry.path(name, version) / "track_emotion.parquet"
    return path if path.is_file() else None


def read_track_emotion(path: Path) -> pd.DataFrame:
    """track_id + EMOTION_COLUMNS (float32), one row per track; a clear error otherwise."""
    table = pq.read_table(path)
    missing = [c for c in ("track_id", *EMOTION_COLUMNS) if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(table.column_names)}")
    frame = table.select(["track_id", *EMOTION_COLUMNS]).to_pandas()
    if frame["track_id"].duplicated().any():
        raise ValueError(f"{path}: track {int(frame.loc[frame['track_id'].duplicated(), 'track_id'].iloc[0])} "
                         "appears twice")
    return frame.astype({"track_id": "int64", **{c: "float32" for c in EMOTION_COLUMNS}})


def with_track_emotion(tracks: pd.DataFrame, emotion: pd.DataFrame | None) -> pd.DataFrame:
    """``tracks`` (a track_profile frame) with EMOTION_COLUMNS joined on track_id (NaN,
    written as null, where a track has no prediction or there are none)."""
    out = tracks.drop(columns=[c for c in EMOTION_COLUMNS if c in tracks.columns])
    if emotion is None:
        return out.assign(**{c: np.float32("nan") for c in EMOTION_COLUMNS})
    return out.merge(emotion, on="track_id", how="left")


def run(ctx: JobContext) -> bio.JobReport:
    from pyspark.sql import functions as F

    spark = ctx.spark
    opts = ctx.config.batch.materialize_features
    offline_dir = Path(opts.offline_dir or ctx.config.feature_store.offline_dir)
    window_days = opts.window_days
    progress = bio.Progress(JOB, ctx.dates)
    for entity in Entity:
        bio.require_partitions(ctx.out_dir, entity.table, ctx.dates, entity.command)

    tracks = bio.read_tracks(spark, ctx.catalog_dir).cache()
    track_counts = tracks.groupBy("artist_id").agg(F.count(F.lit(1)).alias("track_count"))
    artists = (
        bio.read_catalog_table(spark, ctx.catalog_dir, "artists.parquet")
        .select("artist_id", "genre", "language").join(track_counts, "artist_id", "left")
    )
    users = bio.read_users(spark, ctx.users_dir)
    days = bio.date_range(ctx.dates[0] - timedelta(days=window_days - 1), ctx.dates[-1])
    events = with_flags(bio.read_events(spark, ctx.events_dir, days), tracks, extra=("genre",)).cache()
    progress.read(events.count(), f"events ({window_days}-day windows)")
    item_stats = bio.read_table(spark, ctx.out_dir, Entity.TRACK.table, ctx.dates)
    artist_stats = bio.read_table(spark, ctx.out_dir, Entity.ARTIST.table, ctx.dates)
    track_cols = tracks.select(
        "track_id", "artist_id", "album_id", "genre", "language",
        tracks["release_year"].cast("long").alias("release_year"), "duration_ms", "valence",
        "arousal", "popularity",
    )
    emotion_path = track_emotion_path(ctx.config)
    emotion = read_track_emotion(emotion_path) if emotion_path is not None else None
    progress.read(0 if emotion is None else len(emotion),
                  f"predicted track emotions ({emotion_path or 'none: the columns stay null'})")
    for day in ctx.dates:
        for spec, pdf in (
            (fs.USER_PROFILE, user_snapshot(day, window_days, events, users)),
            (fs.TRACK_PROFILE, with_track_emotion(track_snapshot(day, track_cols, item_stats), emotion)),
            (fs.ARTIST_PROFILE, artist_snapshot(day, artists, artist_stats)),
        ):
            write_snapshot(_to_arrow(pdf, spec, day), spec, offline_dir, day)
            progress.wrote(spec.view, len(pdf))
    events.unpersist()
    tracks.unpersist()
    return progress.done()

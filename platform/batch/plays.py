"""Event-level building blocks shared by the jobs: outcome flags per event, one row per
play with its outcome, and the listener key.

* A **play** is a ``play_start`` event. Its outcome is the next ``play_end`` or ``skip``
  event of the same (session_id, track_id) after it (events ordered by ts, event_id).
* A play is **complete** by :func:`encore.platform.contracts.labels.complete_play_col` on its
  ``play_end``; a **skip** is a ``skip`` event (``played_ms`` = ms at which it was skipped).
* The **listener key** is the user id, or ``"anon:" + session_id`` for anonymous events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from encore.platform.contracts import labels, vocabulary

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

ORDER = ("ts_ms", "event_id")


def listener_key() -> "Column":
    from pyspark.sql import functions as F

    return F.coalesce(F.col("user_id").cast("string"), F.concat(F.lit("anon:"), F.col("session_id")))


def with_flags(events: "DataFrame", tracks: "DataFrame", extra: tuple[str, ...] = ()) -> "DataFrame":
    """Add int flags ``is_play``, ``is_complete``, ``is_skip``, ``is_heart`` (and the
    track's ``artist_id``, ``duration_ms`` and ``extra`` columns) to every event."""
    from pyspark.sql import functions as F

    t = tracks.select("track_id", "artist_id", "duration_ms", *extra)
    df = events.join(F.broadcast(t), "track_id", "left")
    return (
        df.withColumn("is_play", (F.col("action") == vocabulary.PLAY_START).cast("int"))
        .withColumn(
            "is_complete",
            ((F.col("action") == vocabulary.PLAY_END)
             & labels.complete_play_col("played_ms", "duration_ms")).cast("int"),
        )
        .withColumn("is_skip", (F.col("action") == vocabulary.SKIP).cast("int"))
        .withColumn("is_heart", (F.col("action") == vocabulary.HEART).cast("int"))
    )


def plays_with_outcome(events: "DataFrame", tracks: "DataFrame") -> "DataFrame":
    """One row per play_start with ``complete`` (bool), ``skipped`` (bool),
    ``played_ms`` (the outcome event's) and ``skip_at_ms`` (null unless skipped)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    relevant = events.where(F.col("action").isin(vocabulary.PLAY_START, vocabulary.PLAY_END, vocabulary.SKIP))
    w = Window.partitionBy("session_id", "track_id").orderBy(*ORDER)
    nxt = (
        relevant.withColumn("next_action", F.lead("action").over(w))
        .withColumn("next_played_ms", F.lead("played_ms").over(w))
        .where(F.col("action") == vocabulary.PLAY_START)
    )
    dur = tracks.select("track_id", "artist_id", "duration_ms")
    out = nxt.join(F.broadcast(dur), "track_id", "left")
    ended = F.col("next_action").isin(vocabulary.PLAY_END, vocabulary.SKIP)
    return (
        out.withColumn("outcome_played_ms", F.when(ended, F.col("next_played_ms")))
        .withColumn(
            "complete",
            (F.col("next_action") == vocabulary.PLAY_END)
            & labels.complete_play_col("next_played_ms", "duration_ms"),
        )
        .withColumn("complete", F.coalesce(F.col("complete"), F.lit(False)))
        .withColumn("skipped", F.coalesce(F.col("next_action") == vocabulary.SKIP, F.lit(False)))
        .withColumn("skip_at_ms", F.when(F.col("skipped"), F.col("next_played_ms")))
        .drop("next_action", "next_played_ms", "played_ms")
        .withColumnRenamed("outcome_played_ms", "played_ms")
    )

"""Tiny tables and queries for the recall unit tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from encore.recall.query import Context, Profile, Query, Session
from encore.recall.tables import RecallTables, item_graph_frame  # noqa: F401  (re-exported for the tests)

HOUR = 3_600_000
DAY = 24 * HOUR
AS_OF = 1_767_571_200_000  # 2026-01-05 00:00 UTC


def catalog(track_ids, genres=None, languages=None, artists=None) -> pd.DataFrame:
    n = len(track_ids)
    return pd.DataFrame({
        "track_id": np.asarray(track_ids, np.int64),
        "artist_id": np.asarray(artists if artists is not None else track_ids, np.int64),
        "genre": genres or ["pop"] * n, "language": languages or ["en"] * n,
        "duration_ms": np.full(n, 200_000, np.int64),
    })


def plays(rows) -> pd.DataFrame:
    """Event rows (user_id, track_id, ts_ms[, action]) -> a minimal event log."""
    frame = pd.DataFrame(rows, columns=["user_id", "track_id", "ts_ms", "action"][:len(rows[0])] if rows else
                         ["user_id", "track_id", "ts_ms"])
    if "action" not in frame:
        frame["action"] = "play_start"
    frame["user_id"] = frame["user_id"].astype("Int64")
    frame["event_id"] = [f"e{i:05d}" for i in range(len(frame))]
    frame["session_id"] = frame["user_id"].astype(str) + "-s"
    frame["scenario"] = "private_radio"
    frame["played_ms"] = pd.array([None] * len(frame), dtype="Int64")
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True)
    return frame


def tables(tracks, events=None, **kw) -> RecallTables:
    return RecallTables(tracks=tracks, events=events if events is not None else plays([]).iloc[0:0],
                        as_of_ms=AS_OF, **kw)


def query(user_id=1, request_ms=AS_OF, plays=(), hearts=(), skips=(), session=(), profile=None, hour=None):
    """``plays`` / ``hearts`` / ``skips``: (track, ts_ms) pairs, oldest first."""
    return Query(
        context=Context(request_ms=request_ms, local_hour=hour if hour is not None else request_ms // HOUR % 24,
                        scenario="private_radio"),
        user_id=user_id,
        play_track_ids=tuple(t for t, _ in plays), play_ts_ms=tuple(ts for _, ts in plays),
        heart_track_ids=tuple(t for t, _ in hearts), heart_ts_ms=tuple(ts for _, ts in hearts),
        skip_track_ids=tuple(t for t, _ in skips), skip_ts_ms=tuple(ts for _, ts in skips),
        skip_at_ms=tuple(1000 for _ in skips),
        session=Session(session_id="s", scenario="private_radio", track_ids=tuple(session)),
        profile=profile or Profile(),
    )

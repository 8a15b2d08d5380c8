"""Pure pandas references for the Spark batch jobs (used by the tests only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from encore.platform.contracts.labels import is_complete_play
from encore.platform.contracts.sessions import sessionize_frame


def load_events(world: Path) -> pd.DataFrame:
    ev = pd.read_parquet(world / "events")
    ev["date"] = pd.to_datetime(ev["date"].astype(str)).dt.date
    ev["ts_ms"] = ev["ts"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]").astype("int64")
    ev = ev.sort_values(["ts_ms", "event_id"], kind="mergesort").reset_index(drop=True)
    return ev


def flags(ev: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    ev = ev.merge(tracks[["track_id", "artist_id", "duration_ms"]], on="track_id", how="left")
    ev["is_play"] = (ev.action == "play_start").astype(int)
    complete = is_complete_play(ev.played_ms.astype("float64"), ev.duration_ms).fillna(False)
    ev["is_complete"] = ((ev.action == "play_end") & complete).astype(int)
    ev["is_skip"] = (ev.action == "skip").astype(int)
    ev["is_heart"] = (ev.action == "heart").astype(int)
    ev["key"] = np.where(ev.user_id.isna(), "anon:" + ev.session_id, ev.user_id.astype("Int64").astype(str))
    return ev


def sessions(ev: pd.DataFrame, max_session_ms: int, gap_ms: int) -> pd.DataFrame:
    """Session table straight from encore.platform.contracts.sessions on the whole log."""
    ev = ev.copy()
    known = ev.user_id.notna()
    ev["sid"] = ev["session_id"]
    users = ev[known].assign(user_id=ev.loc[known, "user_id"].astype("int64"))
    ev.loc[known, "sid"] = sessionize_frame(users, key_col="user_id", ts_col="ts_ms",
                                            max_session_ms=max_session_ms, inactivity_gap_ms=gap_ms)
    g = ev.groupby("sid", sort=False)
    out = pd.DataFrame({
        "n_events": g.size(),
        "start_ms": g.ts_ms.min(), "end_ms": g.ts_ms.max(),
        "n_plays": g.is_play.sum(), "n_completes": g.is_complete.sum(),
        "n_skips": g.is_skip.sum(), "n_hearts": g.is_heart.sum(),
        "scenario": g.scenario.first(),
        "track_ids": ev[ev.is_play == 1].groupby("sid", sort=False).track_id.agg(tuple),
    })
    out["track_ids"] = out["track_ids"].map(lambda v: v if isinstance(v, tuple) else ())
    return out.rename_axis("session_id").reset_index()


def item_stats(ev: pd.DataFrame, day, key: str = "track_id") -> pd.DataFrame:
    upto = ev[(ev.date <= day) & ev[key].notna()]
    def agg(df):
        g = df.groupby(key)
        out = pd.DataFrame({
            "exposures": g.action.apply(lambda a: (a == "exposure").sum()),
            "plays": g.is_play.sum(), "completes": g.is_complete.sum(), "skips": g.is_skip.sum(),
            "hearts": g.is_heart.sum(),
            "listeners": df[df.is_play == 1].groupby(key).key.nunique(),
        }).fillna(0)
        return out
    cum = agg(upto).add_prefix("cum_")
    today = agg(upto[upto.date == day])
    out = cum.join(today, how="left").fillna(0).astype("int64")
    return out.sort_index()


def co_listening(ev: pd.DataFrame, days, max_items: int):
    """(listeners per track, co-count per ordered pair) over user-days of ``days``."""
    plays = ev[(ev.action == "play_start") & ev.date.isin(days)]
    first = plays.drop_duplicates(["date", "key", "track_id"])  # ev is sorted: first play
    first = first.assign(rn=first.groupby(["date", "key"]).cumcount())
    first = first[first.rn < max_items]
    listeners = first.groupby("track_id").size()
    co: dict[tuple[int, int], int] = {}
    for _, g in first.groupby(["date", "key"]):
        ts = g.track_id.tolist()
        for a in ts:
            for b in ts:
                if a != b:
                    co[(a, b)] = co.get((a, b), 0) + 1
    return listeners, co

"""A tiny catalog, event log and fitted baseline channels for the serving tests, plus
channels that misbehave (raise, sleep past their deadline) and a fake feature client.

The catalog: 60 tracks (ids 100..159), artist = (track - 100) // 4 (15 artists of 4
tracks), genres cycling rock / jazz / pop. The log: 30 users over one day before
``AS_OF``; user u plays a block of 8 consecutive tracks starting at 100 + 4 * (u % 12)
(so tracks of neighbouring blocks co-occur), plus track 100 + u % 60 for variety.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from encore.platform.config import ChannelConfig, PipelineConfig, RecallConfig
from encore.recall.channel import Candidates, Channel
from encore.recall.query import Query
from encore.recall.registry import build_channel
from encore.recall.tables import RecallTables

HOUR = 3_600_000
DAY = 24 * HOUR
AS_OF = 1_767_571_200_000  # 2026-01-05 00:00 UTC
TRACKS = np.arange(100, 160, dtype=np.int64)
GENRES = ("rock", "jazz", "pop")


def catalog() -> pd.DataFrame:
    n = len(TRACKS)
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "track_id": TRACKS, "artist_id": (TRACKS - 100) // 4, "album_id": (TRACKS - 100) // 2,
        "genre": [GENRES[i % 3] for i in range(n)], "language": ["en" if i % 2 else "zh" for i in range(n)],
        "valence": rng.uniform(-1, 1, n).astype(np.float32), "arousal": rng.uniform(-1, 1, n).astype(np.float32),
        "duration_ms": np.full(n, 200_000, np.int64), "release_year": np.full(n, 2020, np.int64),
        "popularity": np.linspace(1, 0, n).astype(np.float32),
    })


def user_tracks(user: int) -> list[int]:
    start = 100 + 4 * (user % 12)
    return [*range(start, start + 8), 100 + user % 60]


def events() -> pd.DataFrame:
    rows = []
    for user in range(1, 31):
        t0 = AS_OF - DAY + user * 60_000
        for i, track in enumerate(user_tracks(user)):
            rows.append((user, track, t0 + i * 200_000, "play_start"))
            rows.append((user, track, t0 + i * 200_000 + 190_000, "play_end"))
    frame = pd.DataFrame(rows, columns=["user_id", "track_id", "ts_ms", "action"])
    frame["user_id"] = frame["user_id"].astype("Int64")
    frame["event_id"] = [f"e{i:05d}" for i in range(len(frame))]
    frame["session_id"] = frame["user_id"].astype(str) + "-s"
    frame["scenario"] = "daily_recommend"
    frame["played_ms"] = pd.array(np.where(frame["action"] == "play_end", 190_000, 0), dtype="Int64")
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True)
    return frame


def item_graph(ev: pd.DataFrame) -> pd.DataFrame:
    """Co-listening weight(a -> b) = |users(a) & users(b)| / |users(a)|."""
    plays = ev[ev["action"] == "play_start"][["user_id", "track_id"]].drop_duplicates()
    pairs = plays.merge(plays, on="user_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["track_id_a"] != pairs["track_id_b"]]
    co = pairs.groupby(["track_id_a", "track_id_b"]).size().rename("co").reset_index()
    listeners = plays.groupby("track_id").size()
    co["weight"] = co["co"] / listeners.loc[co["track_id_a"]].to_numpy()
    return co.rename(columns={"track_id_a": "src_track_id", "track_id_b": "dst_track_id"})


def sessions(ev: pd.DataFrame) -> pd.DataFrame:
    plays = ev[ev["action"] == "play_start"].sort_values(["user_id", "ts_ms"])
    groups = plays.groupby("session_id")
    return pd.DataFrame({
        "session_id": list(groups.groups),
        "start_ms": groups["ts_ms"].min().to_numpy(),
        "track_ids": [g["track_id"].to_numpy(np.int64) for _, g in groups],
    })


def tables() -> RecallTables:
    ev = events()
    users = pd.DataFrame({"user_id": np.arange(1, 31), "kind": "regular", "signup_date": pd.Timestamp("2025-01-01"),
                          "age_bucket": "25-34", "region": "eu", "home_language": "en"})
    return RecallTables(tracks=catalog(), events=ev, as_of_ms=AS_OF, users=users,
                        item_graph=item_graph(ev), sessions=sessions(ev))


def recall_config(deadline_ms: float = 2000.0, extra: Sequence[ChannelConfig] = ()) -> RecallConfig:
    """Small k / quotas; a generous deadline (tests of lateness add their own channel)."""
    return RecallConfig(channels=[
        ChannelConfig(name="popular", kind="popularity", k=40, quota=20, deadline_ms=deadline_ms),
        ChannelConfig(name="trending", kind="popularity", k=40, quota=10, deadline_ms=deadline_ms,
                      params={"half_life_hours": 24.0}),
        ChannelConfig(name="item_cf", kind="item_cf", k=40, quota=30, deadline_ms=deadline_ms),
        ChannelConfig(name="session_knn", kind="session_knn", k=40, quota=30, deadline_ms=deadline_ms),
        ChannelConfig(name="profile", kind="profile", k=40, quota=20, deadline_ms=deadline_ms),
        *extra,
    ])


def fitted_channels(config: RecallConfig | None = None, recall_tables: RecallTables | None = None) -> dict[str, Channel]:
    config = config or recall_config()
    recall_tables = recall_tables or tables()
    return {c.name: build_channel(c).fit(recall_tables) for c in config.channels
            if c.name in ("popular", "trending", "item_cf", "session_knn", "profile")}


class RaisingChannel(Channel):
    """Always raises at recall time (kind ``popularity`` so its config validates)."""

    kind = "popularity"

    def fit(self, tables: Any) -> "RaisingChannel":
        self.arrays = {"x": np.zeros(1)}
        return self

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        raise RuntimeError("boom: this channel always fails")


class SleepingChannel(Channel):
    """Answers (track 100) only after ``seconds``: far past any small deadline."""

    kind = "popularity"

    def __init__(self, config: ChannelConfig, seconds: float = 3.0) -> None:
        super().__init__(config)
        self.seconds = seconds
        self.arrays = {"x": np.zeros(1)}

    def fit(self, tables: Any) -> "SleepingChannel":
        return self

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        time.sleep(self.seconds)
        return [Candidates(np.array([100], np.int64), np.array([1.0], np.float32)) for _ in queries]


class FakeFeatures:
    """``FeatureClient.user_features`` from a dict (user -> row); ``down`` raises like an
    unreachable store. Rows hold the ``user_realtime`` fields the query builder reads."""

    def __init__(self, rows: dict[int, dict[str, Any]] | None = None, down: bool = False) -> None:
        self.rows, self.down, self.calls = rows or {}, down, 0

    def user_features(self, user_ids):
        self.calls += 1
        if self.down:
            raise ConnectionError("feature store unreachable: connection refused")
        return {int(u): self.rows.get(int(u), {}) for u in user_ids}


def pipeline_config(**overrides: Any) -> PipelineConfig:
    base: dict[str, Any] = dict(default_count=10, max_count=50, recall_threads=8, repeat_share=0.3)
    base.update(overrides)
    return PipelineConfig(**base)


def online_row(user_id: int, plays: Sequence[int], skips: Sequence[int] = (), now_ms: int = AS_OF) -> dict[str, Any]:
    """A ``user_realtime`` row as the stream processor pushes it: ``plays`` a minute
    apart ending an hour before ``now_ms`` (a closed session), ``skips`` just after."""
    from encore.platform.stream.state import UserState

    t0 = now_ms - HOUR - len(plays) * 60_000
    state = UserState(
        user_id=user_id, session_id=f"{user_id}-{t0}", session_start_ms=t0, session_last_ms=now_ms - HOUR,
        session_scenario="daily_recommend", session_track_ids=list(plays),
        recent_play_track_ids=list(plays), recent_play_ts_ms=[t0 + i * 60_000 for i in range(len(plays))],
        recent_skip_track_ids=list(skips), recent_skip_ts_ms=[now_ms - HOUR] * len(skips),
        recent_skip_at_ms=[1000] * len(skips), plays_today=len(plays))
    return state.feature_row()


def tiny_ranker(out_dir, seed: int = 1, rows: int = 600, model: str = "baseline"):
    """Export a tiny ranker over the kit catalog (a few seconds): completes are planted
    on rock tracks, so a working ranker puts rock first. A sequence ranker (``din``,
    ``dien``) gets a planted sequence signal instead: a play completes when the track's
    genre is the genre of the listener's recent plays (``play_track_ids``)."""
    from encore.platform.config import RankingConfig
    from encore.ranking import inputs
    from encore.ranking.ranker import export_ranker
    from encore.ranking.train import example_request, fit_ranker

    rng = np.random.default_rng(seed)
    cat = catalog()
    track = rng.choice(TRACKS, rows)
    rock = cat.set_index("track_id").loc[track, "genre"].to_numpy() == "rock"
    complete = (rng.random(rows) < np.where(rock, 0.9, 0.1)).astype(np.int32)
    ts = pd.Timestamp(AS_OF - DAY, unit="ms", tz="UTC") + pd.to_timedelta(rng.integers(0, DAY, rows), unit="ms")
    frame = pd.DataFrame({
        "user_id": pd.array(rng.integers(1, 30, rows), dtype="Int64"), "anonymous": np.zeros(rows, bool),
        "session_id": "s", "scenario": "daily_recommend", "ts": ts, "track_id": track,
        "complete_play": complete, "heart": complete * (rng.random(rows) < 0.3), "skip": (1 - complete),
        **{c: rng.poisson(5, rows).astype(np.float64) for c in (
            "user_exposures_30d", "user_plays_30d", "user_completes_30d", "user_skips_30d", "user_hearts_30d",
            "user_plays_today", "user_track_plays_30d", "track_plays", "track_listeners")},
        **{c: rng.uniform(0, 1, rows) for c in ("track_completion_rate", "track_skip_rate", "track_heart_rate")},
    })
    config = RankingConfig(embedding_dim=4, hidden_units=[8], epochs=4, batch_size=64, learning_rate=0.02,
                           user_id_buckets=32, seed=seed)
    if model != "baseline":
        genre_of = cat.set_index("track_id")["genre"]
        liked = rng.integers(0, len(GENRES), rows)
        frame["play_track_ids"] = [tuple(int(t) for t in rng.choice(TRACKS[np.arange(len(TRACKS)) % 3 == g], 5))
                                   for g in liked]
        match = genre_of.loc[track].to_numpy() == np.asarray(GENRES)[liked]
        frame["complete_play"] = (rng.random(rows) < np.where(match, 0.9, 0.1)).astype(np.int32)
        frame["skip"] = 1 - frame["complete_play"]
        config = config.model_copy(update={"epochs": 12, "item_dim": 8, "attention_units": [8], "gru_units": 8,
                                           "sequence_length": 10, "hidden_units": [16]})
    cat_table = inputs.Catalog.from_frame(cat)
    fitted = fit_ranker(frame, cat_table, config, model_name=model)
    return export_ranker(fitted.model, fitted.spec, out_dir, model_name=model,
                         example=example_request(frame, cat_table, fitted.spec))

"""Tiny synthetic ranking_samples tables with a planted signal, and a tiny config.

The planted signal: a play completes mostly when the scenario and the genre match
(rock on private radio, anything else elsewhere); popularity (``track_plays``) is drawn
independently, so the popularity order is no better than chance and a ranker that
reads scenario and genre must beat it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import RankingConfig
from encore.platform.contracts.vocabulary import SCENARIOS

GENRES = ("rock", "jazz", "pop")
START = date(2026, 1, 5)


def make_catalog(n_tracks: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "track_id": np.arange(100, 100 + n_tracks, dtype=np.int64),
        "artist_id": (np.arange(n_tracks) % 10).astype(np.int64),
        "genre": [GENRES[i % len(GENRES)] for i in range(n_tracks)],
        "language": ["en" if i % 2 else "zh" for i in range(n_tracks)],
        "valence": rng.uniform(-1, 1, n_tracks).astype(np.float32),
        "arousal": rng.uniform(-1, 1, n_tracks).astype(np.float32),
        "duration_ms": rng.integers(120_000, 300_000, n_tracks).astype(np.int64),
        "release_year": rng.integers(1990, 2025, n_tracks).astype(np.int32),
    })


def make_samples(catalog: pd.DataFrame, rows: int, day: date, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    track = rng.choice(catalog["track_id"].to_numpy(), rows)
    genre = catalog.set_index("track_id").loc[track, "genre"].to_numpy()
    scenario = rng.choice(np.array(SCENARIOS), rows)
    match = (scenario == "private_radio") == (genre == "rock")
    complete = (rng.random(rows) < np.where(match, 0.85, 0.12)).astype(np.int32)
    users = rng.integers(0, 60, rows)
    anonymous = rng.random(rows) < 0.05
    ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400_000, rows), unit="ms")
    frame = pd.DataFrame({
        "exposure_id": [f"e{seed}-{i}" for i in range(rows)],
        "request_id": [f"r{seed}-{i // 5}" for i in range(rows)],
        "user_id": pd.array(np.where(anonymous, 0, users), dtype="Int64"),
        "session_id": [f"{u}-{seed}" for u in users],
        "anonymous": anonymous,
        "scenario": scenario,
        "ts": ts.astype("datetime64[ms, UTC]"),
        "track_id": track,
        "position": rng.integers(0, 10, rows).astype(np.int32),
        "propensity": rng.uniform(0.01, 0.5, rows).astype(np.float32),
        "complete_play": complete,
        "heart": (complete * (rng.random(rows) < 0.5)).astype(np.int32),
        "skip": ((1 - complete) * (rng.random(rows) < 0.7)).astype(np.int32),
        "skip_at_ms": pd.array([None] * rows, dtype="Int64"),
        **{c: rng.poisson(lam, rows).astype(np.int64) for c, lam in (
            ("user_exposures_30d", 50), ("user_plays_30d", 30), ("user_completes_30d", 20),
            ("user_skips_30d", 8), ("user_hearts_30d", 2), ("user_plays_today", 3),
            ("user_track_plays_30d", 0.5), ("track_plays", 40), ("track_listeners", 20))},
        "track_completion_rate": rng.uniform(0, 1, rows),
        "track_skip_rate": rng.uniform(0, 1, rows),
        "track_heart_rate": rng.uniform(0, 0.2, rows),
    })
    frame.loc[anonymous, "user_id"] = pd.NA
    return frame


def write_tables(root: Path, days: int = 3, rows_per_day: int = 450) -> tuple[Path, Path]:
    """A world folder (catalog only) and a batch folder with ``days`` partitions."""
    world, batch = root / "world", root / "batch"
    (world / "catalog").mkdir(parents=True)
    catalog = make_catalog()
    catalog.to_parquet(world / "catalog" / "tracks.parquet")
    for i in range(days):
        day = START + timedelta(days=i)
        part = batch / "ranking_samples" / f"date={day.isoformat()}"
        part.mkdir(parents=True)
        make_samples(catalog, rows_per_day, day, seed=i + 1).to_parquet(part / "part-00000.parquet")
    return world, batch


def tiny_config(**overrides) -> RankingConfig:
    base = dict(embedding_dim=4, hidden_units=[16, 8], epochs=8, batch_size=64, learning_rate=0.01,
                user_id_buckets=64, seed=3)
    base.update(overrides)
    return RankingConfig(**base)


@pytest.fixture(scope="session")
def synth() -> SimpleNamespace:
    """The helpers above, for test modules (conftest is not importable under
    --import-mode=importlib)."""
    return SimpleNamespace(START=START, make_catalog=make_catalog, make_samples=make_samples,
                           write_tables=write_tables, tiny_config=tiny_config)


@pytest.fixture(scope="session")
def tables(tmp_path_factory) -> tuple[Path, Path]:
    return write_tables(tmp_path_factory.mktemp("ranking"))

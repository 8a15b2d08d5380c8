"""The emotion model's predictions reach Feast: ``encore train emotion`` publishes them,
the track_profile snapshot joins them (the materialize job's own functions), and the
online store serves them back for every track (null for a track without one)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from encore.feature_store import schema as fs
from encore.feature_store.client import FeatureClient
from encore.platform.batch.materialize_features import (
    _to_arrow,
    read_track_emotion,
    snapshot_time,
    track_emotion_path,
    with_track_emotion,
    write_snapshot,
)
from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry
from encore.recall.emotion import EmotionModel, track_emotion
from encore.recall.emotion_bench import train_emotion

from testkit.emotion import TINY, write_catalog

pytestmark = pytest.mark.integration

DAY = date(2026, 1, 5)


def _profiles(n: int) -> pd.DataFrame:
    """track_profile rows of tracks 0..n-1 as track_snapshot gives them (truth included)."""
    return pd.DataFrame({
        "track_id": np.arange(n, dtype=np.int64), "artist_id": 1, "album_id": 2, "genre": "pop", "language": "en",
        "release_year": 2020, "duration_ms": 200_000, "valence": 0.5, "arousal": -0.5, "popularity": 0.25,
        "play_count": 3, "completion_rate": 0.5, "skip_rate": 0.25, "heart_rate": 0.0})


def test_predicted_emotion_round_trips_through_the_online_store(tmp_path: Path, make_store) -> None:
    world, n = tmp_path / "world", 12
    write_catalog(world, n)
    summary = train_emotion(TINY.model_copy(update={"epochs": 1}), tmp_path / "models", world_dir=world,
                            say=lambda _: None)
    config = EncoreConfig.model_validate({"registry": {"root": str(tmp_path / "models")}})
    path = track_emotion_path(config)
    folder = Registry(tmp_path / "models").path("emotion", summary["version"])
    assert path == folder / "track_emotion.parquet"
    assert Registry(tmp_path / "models").promoted("emotion") == summary["version"] == "v0001"
    assert Registry(tmp_path / "models").manifest("emotion", "v0001").kind == "emotion/audio_lyrics"
    assert read_track_emotion(path)["track_id"].tolist() == list(range(n))  # every track of the world
    expected = track_emotion(world, EmotionModel.load(folder))  # (n, 2): the model's output, not the truth

    profiles = with_track_emotion(_profiles(n + 1), read_track_emotion(path))  # track n has no prediction
    offline = tmp_path / "offline"
    write_snapshot(_to_arrow(profiles, fs.TRACK_PROFILE, DAY), fs.TRACK_PROFILE, offline, DAY)
    store = make_store(offline, "sqlite")
    store.materialize(start_date=snapshot_time(DAY) - timedelta(days=1),
                      end_date=snapshot_time(DAY) + timedelta(seconds=1), feature_views=[fs.TRACK_PROFILE.view])
    online = FeatureClient(store, item_cache_size=0, item_cache_ttl_s=0).track_features(list(range(n + 1)))
    got = np.array([[online[t]["predicted_valence"], online[t]["predicted_arousal"]] for t in range(n)], np.float32)
    assert np.array_equal(got, expected)
    assert online[0]["valence"] == 0.5  # the truth column is still there, apart
    assert online[n]["predicted_valence"] is None and online[n]["predicted_arousal"] is None


def test_no_promoted_model_leaves_the_columns_null(tmp_path: Path) -> None:
    config = EncoreConfig.model_validate({"registry": {"root": str(tmp_path / "models")}})
    assert track_emotion_path(config) is None
    frame = with_track_emotion(_profiles(2), None)
    assert frame[["predicted_valence", "predicted_arousal"]].isna().all().all()
    missing = EncoreConfig.model_validate({"batch": {"materialize_features": {"track_emotion": str(tmp_path / "x")}}})
    with pytest.raises(FileNotFoundError, match="track_emotion"):
        track_emotion_path(missing)

"""Builds what ``encore serve``, the demo and the benchmark run: the catalog, the track
statistics, the feature client and the Pipeline from the registry, and a clock.

``serving_parts(config, catalog=..., world=...)``: the catalog frame comes from a
``tracks.parquet`` (``--catalog``) or a world folder's ``catalog/tracks.parquet``;
with a world, the ranker's track statistics come from its last day's events. The
feature client is opened on ``config.feature_store``; a store that cannot be opened
is served as unreachable (every request degraded to popularity, never an error).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry
from encore.serving.pipeline import Pipeline, TrackStats

log = logging.getLogger(__name__)


class UnreachableFeatures:
    """Stands in for a FeatureClient that could not be opened: every read raises, so
    each request is answered degraded (``feature_store`` in degraded_channels)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def user_features(self, user_ids):
        raise ConnectionError(f"feature store unavailable: {self.error}")


def open_features(config: EncoreConfig) -> Any:
    from encore.feature_store.client import FeatureClient

    try:
        return FeatureClient.from_config(config.feature_store)
    except Exception as err:  # noqa: BLE001 - serve degraded rather than not at all
        log.warning("feature store cannot be opened (%s); serving degraded answers", err)
        return UnreachableFeatures(err)


def read_catalog(catalog: Path | None = None, world: Path | None = None) -> pd.DataFrame:
    path = Path(catalog) if catalog is not None else Path(world) / "catalog" / "tracks.parquet"  # type: ignore[arg-type]
    if not path.is_file():
        raise FileNotFoundError(f"no catalog at {path} (give --catalog FILE or --world DIR)")
    return pd.read_parquet(path)


def world_track_stats(world: Path, tracks: pd.DataFrame) -> TrackStats:
    """Track statistics from the last day of a world's event log."""
    from datetime import date

    from encore.recall.evaluate import last_day
    from encore.recall.tables import read_events

    day: date = last_day(world)
    return TrackStats.from_events(read_events(Path(world), [day]), tracks)


def replay_clock(start: datetime) -> Any:
    """A clock that starts at ``start`` and advances with real time (epoch ms)."""
    origin = start.astimezone(timezone.utc).timestamp() * 1000
    t0 = time.monotonic()
    return lambda: int(origin + (time.monotonic() - t0) * 1000)


def build_pipeline(config: EncoreConfig, *, catalog: Path | None = None, world: Path | None = None,
                   features: Any = None, use_features: bool = True, now: datetime | None = None,
                   poll: bool = True) -> Pipeline:
    """The Pipeline of a server: models from ``config.registry.root``, catalog and track
    statistics as described in the module docstring."""
    tracks = read_catalog(catalog, world)
    stats = world_track_stats(Path(world), tracks) if world is not None else None
    if features is None and use_features:
        features = open_features(config)
    return Pipeline.from_config(config, Registry(config.registry.root), tracks, features=features,
                                track_stats=stats, poll=poll, clock_ms=replay_clock(now) if now else None)

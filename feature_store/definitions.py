"""Feast objects of the ``encore`` project, built from the column contract in schema.py.

They are built by a function of the offline folder rather than at import time because
FileSource paths are baked into the registry on apply: one process (a test, a job) may
apply the repo for several folders. ``repo/encore_repo.py`` calls it for the ``feast``
command line with the folder named by $ENCORE_FEATURES_OFFLINE_DIR.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, FeastType, Float32, Int64, String

from encore.feature_store import schema
from encore.feature_store.schema import SourceSpec

REPO_DIR = Path(__file__).resolve().parent / "repo"

_FEAST_TYPES: dict[pa.DataType, FeastType] = {
    pa.string(): String,
    pa.int64(): Int64,
    pa.float32(): Float32,
    pa.list_(pa.string()): Array(String),
    pa.list_(pa.int64()): Array(Int64),
}


@dataclass(frozen=True)
class Definitions:
    """The applied Feast objects, by name, so callers need no registry look-ups."""

    user: Entity
    track: Entity
    artist: Entity
    user_profile: FeatureView
    user_realtime_push: PushSource
    user_realtime: FeatureView
    track_profile: FeatureView
    artist_profile: FeatureView
    ranking_v1: FeatureService

    def objects(self) -> list:
        """Everything ``FeatureStore.apply`` needs, in dependency order."""
        return [getattr(self, f.name) for f in fields(self)]


def offline_dir_from_env() -> Path:
    """The offline folder: $ENCORE_FEATURES_OFFLINE_DIR (``store.open_store`` sets it from
    the settings it opens), else ``offline/`` beside the static repo's registry."""
    value = os.environ.get(schema.OFFLINE_DIR_ENV)
    if value:
        return Path(value).resolve()
    return static_repo_dir() / "offline"


def static_repo_dir(repo_dir: Path = REPO_DIR) -> Path:
    """The folder of the registry that ``<repo_dir>/feature_store.yaml`` names (for the
    ``feast`` command line run in a repo folder; Encore itself opens the store from its
    configuration, see store.open_store)."""
    import yaml

    registry = yaml.safe_load((repo_dir / "feature_store.yaml").read_text())["registry"]
    return (repo_dir / registry).resolve().parent


def feast_fields(spec: SourceSpec) -> list[Field]:
    """Feast fields of a view, translated from its pyarrow feature schema."""
    try:
        return [Field(name=f.name, dtype=_FEAST_TYPES[f.type]) for f in spec.features]
    except KeyError as err:
        raise TypeError(f"{spec.view}: no Feast type for pyarrow type {err.args[0]}") from err


def _file_source(spec: SourceSpec, offline_dir: Path) -> FileSource:
    return FileSource(
        name=f"{spec.view}_source",
        path=str(spec.location(offline_dir)),
        timestamp_field=schema.EVENT_TIMESTAMP,
    )


def _view(spec: SourceSpec, entity: Entity, source, description: str) -> FeatureView:
    return FeatureView(
        name=spec.view,
        entities=[entity],
        ttl=spec.ttl,
        schema=feast_fields(spec),
        source=source,
        online=True,
        description=description,
    )


def build_definitions(offline_dir: Path) -> Definitions:
    """Entities, views, the user push source and feature services for ``offline_dir``."""
    offline_dir = Path(offline_dir).resolve()
    user = Entity(name="user", join_keys=[schema.USER_ID], value_type=ValueType.INT64)
    track = Entity(name="track", join_keys=[schema.TRACK_ID], value_type=ValueType.INT64)
    artist = Entity(name="artist", join_keys=[schema.ARTIST_ID], value_type=ValueType.INT64)

    user_realtime_push = PushSource(
        name=schema.USER_REALTIME_PUSH_SOURCE,
        batch_source=_file_source(schema.USER_REALTIME, offline_dir),
    )
    user_profile = _view(
        schema.USER_PROFILE, user, _file_source(schema.USER_PROFILE, offline_dir),
        "Long-term user profile, recomputed daily by the Spark batch job.",
    )
    user_realtime = _view(
        schema.USER_REALTIME, user, user_realtime_push,
        "Session, recent play/heart/skip sequences and counters pushed by the stream processor.",
    )
    track_profile = _view(
        schema.TRACK_PROFILE, track, _file_source(schema.TRACK_PROFILE, offline_dir),
        "Track metadata, emotion (valence/arousal) and play statistics.",
    )
    artist_profile = _view(
        schema.ARTIST_PROFILE, artist, _file_source(schema.ARTIST_PROFILE, offline_dir),
        "Artist metadata and play statistics.",
    )
    ranking_v1 = FeatureService(
        name=schema.RANKING_FEATURE_SERVICE,
        features=[user_profile, user_realtime, track_profile, artist_profile],
        description="Everything the v1 rankers read (DIN, DIEN, session multi-behaviour).",
    )
    return Definitions(
        user=user, track=track, artist=artist,
        user_profile=user_profile, user_realtime_push=user_realtime_push,
        user_realtime=user_realtime, track_profile=track_profile,
        artist_profile=artist_profile, ranking_v1=ranking_v1,
    )

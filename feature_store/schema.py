"""The column contract of every Feast source, in one place.

The Feast definitions, the Spark jobs that write the offline parquet files and the
stream processor that pushes user state all import this module, so a feature is added
or renamed here once and every writer and reader follows. Each offline file holds the
columns of ``SourceSpec.arrow_schema``: the entity key (int64), ``event_timestamp``
(timestamp, microseconds, UTC) and then the features in the order listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

EVENT_TIMESTAMP = "event_timestamp"
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

USER_ID = "user_id"
TRACK_ID = "track_id"
ARTIST_ID = "artist_id"

USER_REALTIME_PUSH_SOURCE = "user_realtime_push"
"""Push source the stream processor writes user real-time state to."""

RANKING_FEATURE_SERVICE = "ranking_v1"

OFFLINE_DIR_ENV = "ENCORE_FEATURES_OFFLINE_DIR"
"""Environment variable naming the offline folder the definitions point their sources
at; ``encore.feature_store.store.open_store`` sets it from FeatureStoreConfig."""

PROFILE_TTL = timedelta(days=400)
"""How far back a batch-computed profile row stays valid (user, track, artist)."""

_INT_LIST = pa.list_(pa.int64())
_STR_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class SourceSpec:
    """One feature view's offline source: its key, features and file layout.

    ``offline_path`` is relative to the offline folder. A name ending in ``.parquet`` is
    one parquet file (needed where Feast appends to it: pushes to the offline store
    rewrite a single file); any other name is a folder of parquet part files, the
    layout a Spark ``df.write.parquet(path)`` produces (files starting with ``_`` or
    ``.`` such as ``_SUCCESS`` are ignored by the reader).
    """

    view: str
    join_key: str
    features: pa.Schema
    offline_path: str
    ttl: timedelta

    @property
    def arrow_schema(self) -> pa.Schema:
        """Full offline schema: join key, event timestamp, then the features."""
        head = [pa.field(self.join_key, pa.int64()), pa.field(EVENT_TIMESTAMP, TIMESTAMP_TYPE)]
        return pa.schema(head + list(self.features))

    @property
    def feature_names(self) -> list[str]:
        return list(self.features.names)

    @property
    def is_single_file(self) -> bool:
        return self.offline_path.endswith(".parquet")

    def location(self, offline_dir: Path) -> Path:
        return Path(offline_dir) / self.offline_path


USER_PROFILE = SourceSpec(
    view="user_profile",
    join_key=USER_ID,
    offline_path="user_profile",
    ttl=PROFILE_TTL,
    features=pa.schema([
        ("age_bucket", pa.string()),
        ("region", pa.string()),
        ("home_language", pa.string()),
        ("top_genres", _STR_LIST),
        ("top_artist_ids", _INT_LIST),
        ("plays_30d", pa.int64()),
        ("skip_rate_30d", pa.float32()),
        ("active_days_30d", pa.int64()),
    ]),
)

USER_REALTIME = SourceSpec(
    view="user_realtime",
    join_key=USER_ID,
    offline_path="user_realtime.parquet",
    ttl=timedelta(days=30),
    features=pa.schema([
        ("session_id", pa.string()),
        ("session_start_ms", pa.int64()),
        ("session_track_ids", _INT_LIST),
        ("recent_play_track_ids", _INT_LIST),
        ("recent_play_ts_ms", _INT_LIST),
        ("recent_heart_track_ids", _INT_LIST),
        ("recent_heart_ts_ms", _INT_LIST),
        ("recent_skip_track_ids", _INT_LIST),
        ("recent_skip_ts_ms", _INT_LIST),
        ("recent_skip_at_ms", _INT_LIST),
        ("recent_dislike_track_ids", _INT_LIST),  # DISLIKEs, oldest first (never recommended again)
        ("recent_complete_track_ids", _INT_LIST),  # complete plays (PLAY_END >= 90%), oldest first: DIEN's sequence
        ("recent_complete_ts_ms", _INT_LIST),  # their PLAY_END epoch ms
        ("counters_day", pa.string()),  # YYYY-MM-DD the *_today counters refer to
        ("plays_today", pa.int64()),
        ("completes_today", pa.int64()),
        ("skips_today", pa.int64()),
        ("hearts_today", pa.int64()),
        ("plays_total", pa.int64()),
        ("stream_state", pa.string()),  # opaque JSON owned by the stream processor
    ]),
)

TRACK_PROFILE = SourceSpec(
    view="track_profile",
    join_key=TRACK_ID,
    offline_path="track_profile",
    ttl=PROFILE_TTL,
    features=pa.schema([
        ("artist_id", pa.int64()),
        ("album_id", pa.int64()),
        ("genre", pa.string()),
        ("language", pa.string()),
        ("release_year", pa.int64()),
        ("duration_ms", pa.int64()),
        ("valence", pa.float32()),
        ("arousal", pa.float32()),
        ("popularity", pa.float32()),
        ("play_count", pa.int64()),
        ("completion_rate", pa.float32()),
        ("skip_rate", pa.float32()),
        ("heart_rate", pa.float32()),
        # the emotion model's (valence, arousal) of the track (encore.recall.emotion), not the world's
        # truth above; null when no emotion model was promoted when the snapshot was written
        ("predicted_valence", pa.float32()),
        ("predicted_arousal", pa.float32()),
    ]),
)

ARTIST_PROFILE = SourceSpec(
    view="artist_profile",
    join_key=ARTIST_ID,
    offline_path="artist_profile",
    ttl=PROFILE_TTL,
    features=pa.schema([
        ("genre", pa.string()),
        ("language", pa.string()),
        ("track_count", pa.int64()),
        ("play_count", pa.int64()),
        ("listener_count", pa.int64()),
        ("completion_rate", pa.float32()),
        ("skip_rate", pa.float32()),
    ]),
)

ALL_SOURCES: tuple[SourceSpec, ...] = (USER_PROFILE, USER_REALTIME, TRACK_PROFILE, ARTIST_PROFILE)

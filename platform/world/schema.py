"""The on-disk contract of a generated world: file layout, column names and types.

Other parts of Encore (loaders, the stream processor, Spark jobs, trainers) code against
these schemas; ``load_world`` checks every file against them. Bump ``SCHEMA_VERSION``
on any incompatible change.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 3  # 2: kind moved from users/ to truth/user_kinds; policy/slates; past_plays
# 3: past_plays per day (date column)
MANIFEST = "manifest.json"

SCENARIOS = ("daily_recommend", "private_radio", "playlist", "search")
ACTIONS = (
    "exposure", "play_start", "play_end", "skip", "heart", "unheart", "dislike", "share",
    "download", "comment",
)
USER_KINDS = ("regular", "new", "bot", "hyperactive")
SHOW_KINDS = ("soundtrack_show", "variety_season")
AGE_BUCKETS = ("13-17", "18-24", "25-34", "35-44", "45+")
UTILITY_PARTS = ("taste", "interest", "emotion", "kg", "popularity", "familiarity", "rhythm", "noise")

TIMESTAMP = pa.timestamp("ms", tz="UTC")

ARTISTS = pa.schema([
    ("artist_id", pa.int64()), ("name", pa.string()), ("genre", pa.string()),
    ("language", pa.string()), ("origin", pa.string()), ("popularity", pa.float64()),
])
ALBUMS = pa.schema([
    ("album_id", pa.int64()), ("artist_id", pa.int64()), ("release_year", pa.int32()),
    ("genre", pa.string()),
])
TRACKS = pa.schema([
    ("track_id", pa.int64()), ("album_id", pa.int64()), ("artist_id", pa.int64()),
    ("genre", pa.string()), ("language", pa.string()), ("release_year", pa.int32()),
    ("duration_ms", pa.int64()), ("popularity", pa.float32()), ("valence", pa.float32()),
    ("arousal", pa.float32()), ("audio", pa.list_(pa.float32())),
    ("lyrics", pa.list_(pa.int32())), ("show_id", pa.int64()),
])
SHOWS = pa.schema([("show_id", pa.int64()), ("kind", pa.string()), ("name", pa.string())])
TRIPLES = pa.schema([("head", pa.string()), ("relation", pa.string()), ("tail", pa.string())])
# What the platform knows of a user (a profile); who they really are is truth (USER_KINDS).
USERS = pa.schema([
    ("user_id", pa.int64()), ("signup_date", pa.date32()),
    ("age_bucket", pa.string()), ("region", pa.string()), ("home_language", pa.string()),
])
# What each user played before the world's first day (what the platform logged before
# the event log begins): play counts per (user, track, date), sorted by (user, track,
# date); it covers at least the history window (world.history_window_days).
PAST_PLAYS = pa.schema([("user_id", pa.int64()), ("track_id", pa.int64()), ("date", pa.date32()),
                        ("plays", pa.int32())])
# Planted label of each user (kind in USER_KINDS; never_active: a new user with a profile
# and no events at all). Ground truth: models must not read it.
USER_KIND_TRUTH = pa.schema([
    ("user_id", pa.int64()), ("kind", pa.string()), ("never_active", pa.bool_()),
])
USER_TASTE = pa.schema([
    ("user_id", pa.int64()),
    ("genre_weights", pa.map_(pa.string(), pa.float32())),
    ("language_weights", pa.map_(pa.string(), pa.float32())),
    ("artist_weights", pa.map_(pa.int64(), pa.float32())),
    ("show_affinities", pa.map_(pa.int64(), pa.float32())),
])
INTERESTS = pa.schema([
    ("user_id", pa.int64()), ("date", pa.date32()), ("interest_id", pa.int32()),
    ("weight", pa.float32()), ("genre", pa.string()), ("artist_ids", pa.list_(pa.int64())),
    ("valence_center", pa.float32()), ("arousal_center", pa.float32()),
])
SESSIONS = pa.schema([
    ("session_id", pa.string()), ("user_id", pa.int64()), ("scenario", pa.string()),
    ("start_ts", TIMESTAMP), ("end_ts", TIMESTAMP), ("active_interest_id", pa.int32()),
    ("interest_genre", pa.string()), ("target_valence", pa.float32()),
    ("target_arousal", pa.float32()), ("user_kind", pa.string()),
])
EXPOSURE_TRUTH = pa.schema(
    [("event_id", pa.string()), ("session_id", pa.string()), ("user_id", pa.int64()),
     ("track_id", pa.int64()), ("utility", pa.float32())]
    + [(part, pa.float32()) for part in UTILITY_PARTS]
    + [("mismatch", pa.float32())]
)
# The logging policy's own log, one row per slate (request) that reached the event log:
# the candidate pool, its scores and temperature, and for each shown track (list index
# = position) the logged propensity and its marginal slate probabilities. Which
# off-policy estimator needs which column: see encore.platform.world.policy.
POLICY_SLATES = pa.schema([
    ("request_id", pa.string()), ("user_id", pa.int64()), ("temperature", pa.float32()),
    ("slate_size", pa.int32()), ("pool_track_ids", pa.list_(pa.int64())),
    ("pool_scores", pa.list_(pa.float32())), ("shown_track_ids", pa.list_(pa.int64())),
    ("propensity", pa.list_(pa.float32())), ("position_prob", pa.list_(pa.float32())),
    ("inclusion_prob", pa.list_(pa.float32())), ("marginal_draws", pa.int32()),
])
EVENTS = pa.schema([
    ("event_id", pa.string()), ("ts", TIMESTAMP), ("user_id", pa.int64()),
    ("session_id", pa.string()), ("scenario", pa.string()), ("track_id", pa.int64()),
    ("action", pa.string()), ("played_ms", pa.int64()), ("position", pa.int32()),
    ("propensity", pa.float32()), ("request_id", pa.string()),
])

#: Every fixed file of a world and its schema (event partitions use ``EVENTS``).
TABLES: dict[str, pa.Schema] = {
    "catalog/artists.parquet": ARTISTS,
    "catalog/albums.parquet": ALBUMS,
    "catalog/tracks.parquet": TRACKS,
    "catalog/shows.parquet": SHOWS,
    "kg/triples.parquet": TRIPLES,
    "users/users.parquet": USERS,
    "users/past_plays.parquet": PAST_PLAYS,
    "truth/user_kinds.parquet": USER_KIND_TRUTH,
    "truth/user_taste.parquet": USER_TASTE,
    "truth/interests.parquet": INTERESTS,
    "truth/sessions.parquet": SESSIONS,
    "truth/exposures.parquet": EXPOSURE_TRUTH,
    "policy/slates.parquet": POLICY_SLATES,
}
EVENTS_DIR = "events"


def event_partition(day: str) -> str:
    """Relative path of the event file of one day (``day`` as YYYY-MM-DD)."""
    return f"{EVENTS_DIR}/date={day}/part-00000.parquet"


class WorldSchemaError(ValueError):
    """A world folder is missing a file, or a file does not match its schema."""


def check_schema(name: str, expected: pa.Schema, actual: pa.Schema) -> None:
    """Raise WorldSchemaError naming ``name`` if ``actual`` differs from ``expected``."""
    missing = [f.name for f in expected if f.name not in actual.names]
    wrong = [
        f"{f.name}: expected {f.type}, found {actual.field(f.name).type}"
        for f in expected
        if f.name in actual.names and not actual.field(f.name).type.equals(f.type)
    ]
    if missing or wrong:
        problems = "; ".join([f"missing column {m}" for m in missing] + wrong)
        raise WorldSchemaError(f"{name} does not match the world schema: {problems}")

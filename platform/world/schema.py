"""The on-disk layout of a generated world: which file holds which table.

The shared tables (the event log, the catalog, the knowledge graph) follow the
platform's contracts (:mod:`encore.platform.contracts`); this module adds the world's
own files (users, the listening past, the ground truth, the logging policy's log) and
says where each lives. ``load_world`` checks every file against them. Bump
``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

import pyarrow as pa

from encore.platform.contracts.catalog import ALBUMS, ARTISTS, SHOW_KINDS, SHOWS, TRACKS, TRIPLES
from encore.platform.contracts.event_log import (
    EVENTS,
    EVENTS_DIR,
    TIMESTAMP,
    SchemaMismatchError,
    check_schema,
    event_partition,
)
from encore.platform.contracts.vocabulary import ACTIONS, SCENARIOS

__all__ = [  # the shared contracts this world writes, re-exported for the world's code
    "ACTIONS", "ALBUMS", "ARTISTS", "EVENTS", "EVENTS_DIR", "SCENARIOS", "SHOWS", "SHOW_KINDS",
    "TIMESTAMP", "TRACKS", "TRIPLES", "check_schema", "event_partition",
]

SCHEMA_VERSION = 3  # 2: kind moved from users/ to truth/user_kinds; policy/slates; past_plays
# 3: past_plays per day (date column)
MANIFEST = "manifest.json"

USER_KINDS = ("regular", "new", "bot", "hyperactive")
AGE_BUCKETS = ("13-17", "18-24", "25-34", "35-44", "45+")
UTILITY_PARTS = ("taste", "interest", "emotion", "kg", "popularity", "familiarity", "rhythm", "noise")

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


#: A world folder's files that break its own schema raise this (the contracts' error).
WorldSchemaError = SchemaMismatchError

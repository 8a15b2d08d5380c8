"""Entry point for the `feast` command line: exposes the Encore definitions as module
attributes, which is how `feast apply` discovers objects in a repo folder.

The definitions themselves live in encore.feature_store.definitions so the Python API
(encore.feature_store.store.apply_repo) applies exactly the same objects. Importing this
module also prepares the folders feature_store.yaml names, because Feast creates only
the last folder of the registry path and reads every offline source on apply.
"""


from pathlib import Path

from encore.feature_store.definitions import build_definitions, offline_dir_from_env, static_repo_dir
from encore.feature_store.store import ensure_offline_sources

_OFFLINE_DIR = offline_dir_from_env()
static_repo_dir(Path(__file__).resolve().parent).mkdir(parents=True, exist_ok=True)
ensure_offline_sources(_OFFLINE_DIR)
_DEFINITIONS = build_definitions(_OFFLINE_DIR)

user = _DEFINITIONS.user
track = _DEFINITIONS.track
artist = _DEFINITIONS.artist
user_profile = _DEFINITIONS.user_profile
user_realtime_push = _DEFINITIONS.user_realtime_push
user_realtime = _DEFINITIONS.user_realtime
track_profile = _DEFINITIONS.track_profile
artist_profile = _DEFINITIONS.artist_profile
ranking_v1 = _DEFINITIONS.ranking_v1

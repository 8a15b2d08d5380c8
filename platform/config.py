"""Typed configuration for every part of Encore, in one place.

Defaults live in ``encore.yaml`` beside this module. A deployment overrides them with
its own YAML file given by ``--config`` on the command line or the ``ENCORE_CONFIG``
environment variable; only the keys it names change. Unknown keys are an error, so a
typo in a config file fails loudly instead of being ignored.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = PACKAGE_DIR / "encore.yaml"
CONFIG_ENV = "ENCORE_CONFIG"


@lru_cache(maxsize=1)
def project_root() -> Path:
    """The folder holding pyproject.toml above this package (the repository of an
    editable install), else the cwd (a non-editable install has none)."""
    for folder in PACKAGE_DIR.parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path.cwd()


def resolve_project_path(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute: a relative one is taken relative to ``project_root()``,
    for configured paths that must not depend on the cwd."""
    path = Path(path)
    return path if path.is_absolute() else (project_root() / path).resolve()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsConfig(_Section):
    """Where runtime state (relative to the cwd) and the shared real data sets (relative
    to the project root, see ``resolve_project_path``) live."""

    runtime_dir: Path = Path(".runtime")
    shared_data_dir: Path = Path("../shared/data")


class UtilityWeights(_Section):
    """Weight of each named part of the simulated listener's latent utility.

    utility(user, track, context) = sum over parts of weight * part. Set a part to 0 and
    the behaviour it drives disappears from the world, so a model that claims to use it
    must lose its edge (see encore.platform.world.utility for what each part measures).
    """

    taste: float = Field(1.0, ge=0)  # long-term genre / language / artist taste
    interest: float = Field(1.2, ge=0)  # the interest active in this session
    emotion: float = Field(1.5, ge=0)  # wanted (valence, arousal) at this hour vs the track's
    kg: float = Field(2.0, ge=0)  # knowledge-graph ties: show soundtracks, variety seasons
    popularity: float = Field(0.3, ge=0)
    familiarity: float = Field(0.5, ge=0)  # repeat listening of what was played before
    rhythm: float = Field(1.0, ge=0)  # weekly rhythm: the weekend lift of rock
    noise: float = Field(0.5, ge=0)


class WorldConfig(_Section):
    """Size and behaviour knobs of the simulated music world (encore.platform.world)."""

    users: int = Field(2000, ge=1)
    days: int = Field(14, ge=1)
    seed: int = 7
    start_date: date = date(2026, 1, 5)  # a Monday, so weekday rhythms line up with day 0
    artists: int = Field(300, ge=4)
    tracks: int = Field(5000, ge=20)
    shows: int = Field(30, ge=1)
    genres: list[str] = [
        "pop", "rock", "hiphop", "electronic", "folk", "jazz", "classical", "rnb",
        "metal", "ambient",
    ]
    languages: list[str] = ["en", "zh", "es", "ko", "ja"]
    audio_dim: int = Field(16, ge=4)
    lyrics_len: int = Field(24, ge=4)
    lyrics_vocab_per_group: int = Field(40, ge=8)
    max_interests: int = Field(4, ge=1)
    new_user_share: float = Field(0.08, ge=0, le=1)
    bot_share: float = Field(0.01, ge=0, le=1)
    hyperactive_share: float = Field(0.03, ge=0, le=1)
    anonymous_sessions_per_day: int = Field(60, ge=0)
    exposures_per_request: int = Field(10, ge=1)
    max_sample_per_user_per_day: int = Field(200, ge=1)
    # The platform's one sessionization rule (encore.platform.sessions): the world, the
    # stream processor and the Spark sessionize job all read these two.
    max_session_minutes: int = Field(90, ge=5)
    inactivity_gap_minutes: int = Field(30, ge=1)
    candidate_pool_size: int = Field(60, ge=2)  # tracks the logging policy scores per slate
    logging_temperature: float = Field(1.0, gt=0)  # softmax temperature of the logging policy
    # Documented band of the share of a regular user's plays that re-play a track they
    # played before (earlier in the log); tests and `summarize` check against it.
    repeat_share_band: tuple[float, float] = (0.15, 0.40)
    utility_weights: UtilityWeights = UtilityWeights()


class StackConfig(_Section):
    """Local services started by ``encore stack up`` on 127.0.0.1."""

    host: str = "127.0.0.1"
    kafka_port: int = 19092
    redis_port: int = 16379
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 15.0  # SIGTERM grace period before SIGKILL


class KafkaConfig(_Section):
    bootstrap_servers: str = "127.0.0.1:19092"
    events_topic: str = "encore.events.v1"
    dead_letter_topic: str = "encore.events.dlq.v1"
    partitions: int = 4


class SparkConfig(_Section):
    master: str = "local[2]"
    app_name: str = "encore"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"
    ui_enabled: bool = False
    log_level: str = "WARN"


class FeatureStoreConfig(_Section):
    """The Feast repo in feature_store/ and where its offline sources live.

    ``online_store`` switches the online store: the embedded SQLite file (default) or
    Redis (production); both must give the same answers.
    """

    online_store: Literal["sqlite", "redis"] = "sqlite"
    redis_connection_string: str = "127.0.0.1:16379"
    registry_path: Path = Path(".runtime/features/registry.db")
    sqlite_path: Path = Path(".runtime/features/online.db")
    offline_dir: Path = Path(".runtime/features/offline")
    item_cache_size: int = Field(100_000, ge=0)
    item_cache_ttl_s: float = Field(600.0, ge=0)

    def under(self, folder: Path, **overrides: Any) -> "FeatureStoreConfig":
        """This config with its registry, online SQLite file and offline sources in
        ``folder`` (a private store for a demo, a benchmark or a test)."""
        folder = Path(folder)
        return self.model_copy(update={
            "registry_path": folder / "registry.db",
            "sqlite_path": folder / "online.db",
            "offline_dir": folder / "offline",
            **overrides,
        })


class StreamConfig(_Section):
    """The stream processor (``encore stream run``): Kafka -> sessions -> Feast."""

    consumer_group: str = "encore-stream-v1"
    recent_sequence_length: int = Field(50, ge=1)
    # Exactly-once effect of re-sent events: event-id hashes are kept per user for the
    # UTC day of the user's newest event and this many days before it; an older event
    # is not applied (counted as too_late). See encore.platform.stream.state.
    dedupe_retention_days: int = Field(1, ge=0, le=30)
    max_batch_events: int = Field(2000, ge=1)
    poll_timeout_ms: int = Field(200, ge=1)
    offline_log_dir: Path = Path(".runtime/events")
    # An event stamped more than this far ahead of the processor's wall clock (at
    # processing time) is dead-lettered and counted (future_skewed), never applied:
    # a fast client clock must not move a listener's "today" forward.
    max_future_skew_s: float = Field(300.0, ge=0)
    # A failing batch (offline log, online store, dead-letter topic) is retried after
    # retry_backoff_s, doubling up to retry_backoff_max_s; after give_up_after_s of
    # failures in a row the processor stops with an error (nothing is committed).
    retry_backoff_s: float = Field(0.5, gt=0)
    retry_backoff_max_s: float = Field(30.0, gt=0)
    give_up_after_s: float = Field(300.0, gt=0)
    metrics_port: int = Field(0, ge=0, le=65535)  # Prometheus /metrics of `stream run`; 0 = off
    # Users whose state the processor keeps in memory between batches (it owns them
    # while it owns their partition; cleared on every rebalance and after a failed
    # batch). 0: read every batch's users back from the online store.
    state_cache_users: int = Field(100_000, ge=0)
    # Verify the CRC-32C of fetched record batches. None: only when kafka-python has its
    # C implementation (the optional `crc32c` package); its pure-Python fallback costs
    # about 15 ms per 60 KB, a fifth of a core at 5,000 events/s. Protobuf decoding
    # still dead-letters a corrupt record.
    check_crcs: bool | None = None


class BatchConfig(_Section):
    """Spark batch jobs (``encore batch <job>``)."""

    output_dir: Path = Path(".runtime/batch")
    negatives_per_positive: int = Field(4, ge=0)
    recall_history_length: int = Field(50, ge=1)


class ServingConfig(_Section):
    """The gRPC services (``encore events serve``; the Recommender later)."""

    host: str = "127.0.0.1"
    events_port: int = Field(50052, ge=0, le=65535)
    max_events_per_log_call: int = Field(1000, ge=1)
    max_workers: int = Field(8, ge=1)
    metrics_port: int = Field(0, ge=0, le=65535)  # Prometheus /metrics; 0 = off
    shutdown_grace_s: float = Field(5.0, ge=0)


class EncoreConfig(_Section):
    paths: PathsConfig = PathsConfig()
    world: WorldConfig = WorldConfig()
    stack: StackConfig = StackConfig()
    kafka: KafkaConfig = KafkaConfig()
    spark: SparkConfig = SparkConfig()
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    stream: StreamConfig = StreamConfig()
    batch: BatchConfig = BatchConfig()
    serving: ServingConfig = ServingConfig()


class ConfigError(ValueError):
    """A configuration file is missing, not YAML, or names an unknown or invalid key."""


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def load_config(path: str | os.PathLike[str] | None = None) -> EncoreConfig:
    """Defaults from encore.yaml, overridden by ``path`` (or $ENCORE_CONFIG) if given."""
    data = _read_yaml(DEFAULT_CONFIG_FILE)
    override = path or os.environ.get(CONFIG_ENV)
    source = str(override) if override else str(DEFAULT_CONFIG_FILE)
    if override:
        data = _deep_merge(data, _read_yaml(Path(override)))
    try:
        return EncoreConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"invalid configuration in {source}: {problems}") from err


@lru_cache(maxsize=1)
def default_config() -> EncoreConfig:
    return load_config()

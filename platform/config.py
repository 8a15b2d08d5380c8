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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


def _runtime(*parts: str) -> Path:
    """The default of a runtime path: under the default ``paths.runtime_dir`` (a loaded
    EncoreConfig re-derives it under the configured one, see ``EncoreConfig``)."""
    return PathsConfig().runtime(*parts)


class PathsConfig(_Section):
    """Where runtime state (relative to the cwd) and the shared real data sets (relative
    to the project root, see ``resolve_project_path``) live."""

    runtime_dir: Path = Path(".runtime")
    shared_data_dir: Path = Path("../shared/data")

    def runtime(self, *parts: str) -> Path:
        """A path under ``runtime_dir``: where every default runtime folder derives from."""
        return self.runtime_dir.joinpath(*parts)


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
    candidate_pool_size: int = Field(60, ge=2)  # tracks the logging policy scores per slate
    logging_temperature: float = Field(1.0, gt=0)  # softmax temperature of the logging policy
    # Monte-Carlo draws per slate for the marginal slate probabilities in
    # policy/slates.parquet (exact enumeration instead when the pool is tiny).
    marginal_draws: int = Field(32, ge=1)
    # The logging policy's discovery sources redraw a track the listener already played
    # up to this many times: re-listening comes from the history (and show) sources, so
    # the repeat share settles instead of climbing.
    discovery_redraws: int = Field(8, ge=0)
    # Listeners remember the plays of the last history_window_days days (and of the day
    # so far): familiarity, the policy's history candidates and its "already played"
    # check use that window, and a play "repeats" when the listener played the track
    # in it. A finite memory keeps the world stationary (an all-time history only
    # grows, so the repeat share would climb for as long as the world runs).
    history_window_days: int = Field(30, ge=1)
    # Listening before day 0 (users/past_plays.parquet): a listener who signed up before
    # the world has played for min(past_days, days since signup) days, at the rate of
    # their listening in the world. It must cover the history window, so that day 0
    # starts in the steady state.
    past_days: int = Field(30, ge=1)
    past_plays_per_session: float = Field(12.0, ge=0)
    # Documented band of the share of a regular user's plays that re-play a track they
    # played in the previous history_window_days days (earlier in the log or before
    # day 0, users/past_plays.parquet), each day of the world; tests and `summarize`
    # check against it.
    repeat_share_band: tuple[float, float] = (0.15, 0.40)
    utility_weights: UtilityWeights = UtilityWeights()

    @model_validator(mode="after")
    def _past_covers_the_history_window(self) -> WorldConfig:
        if self.past_days < self.history_window_days:
            raise ValueError(f"past_days ({self.past_days}) must cover history_window_days "
                             f"({self.history_window_days}): day 0 would not start in the steady state")
        return self


class SessionsConfig(_Section):
    """The platform's one sessionization rule (encore.platform.contracts.sessions): a
    session ends on a scenario switch, after more than ``inactivity_gap_minutes``
    without events, or once it would span more than ``max_session_minutes``. The world
    (a producer), the stream processor and the Spark sessionize job all read it."""

    max_session_minutes: int = Field(90, ge=5)
    inactivity_gap_minutes: int = Field(30, ge=1)

    @property
    def max_session_ms(self) -> int:
        return self.max_session_minutes * 60_000

    @property
    def inactivity_gap_ms(self) -> int:
        return self.inactivity_gap_minutes * 60_000


class StackConfig(_Section):
    """Local services started by ``encore stack up`` on 127.0.0.1."""

    host: str = "127.0.0.1"
    kafka_port: int = 19092
    redis_port: int = 16379
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 15.0  # SIGTERM grace period before SIGKILL

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_address(self) -> str:
        return f"{self.host}:{self.redis_port}"


class KafkaConfig(_Section):
    """The event topics. ``encore events topics|serve|replay`` (and every EventProducer
    that connects by itself) create a missing topic with these partition counts and
    refuse to run on one that has fewer (see encore.platform.events.topics)."""

    # Derived from the stack section (its host and kafka_port) unless set.
    bootstrap_servers: str = Field(default_factory=lambda: StackConfig().kafka_bootstrap)
    events_topic: str = "encore.events.v1"
    dead_letter_topic: str = "encore.events.dlq.v1"
    partitions: int = Field(4, ge=1)
    dead_letter_partitions: int = Field(1, ge=1)
    topic_setup_timeout_ms: int = Field(10_000, ge=100)  # create + wait until topics have leaders


class EventsConfig(_Section):
    """Size limits of the event ingestion path (encore.platform.events): checked by
    validation before anything is produced, so one oversized event is rejected on its
    own instead of failing a whole batch at the broker (which refuses records over its
    message limit, 1 MB by default)."""

    max_id_chars: int = Field(128, ge=1, le=4096)  # event_id, anonymous_id, session_id, request_id
    max_event_bytes: int = Field(8192, ge=256, le=262_144)  # one serialized Event, unknown fields included
    max_played_ms: int = Field(24 * 3600 * 1000, ge=1)  # a playback longer than a day is a client bug
    max_clock_skew_s: int = Field(24 * 3600, ge=0)  # how far in the future a client clock may run
    max_reason_chars: int = Field(500, ge=40)  # one reason in a dead-letter record
    # A whole dead-letter record (key + JSON value); a longer original payload is cut and
    # the record says so. Keep it below the broker's message limit.
    max_dead_letter_bytes: int = Field(262_144, ge=4096, le=900_000)


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
    # Derived unless set: Redis from the stack section, the files under paths.runtime_dir.
    redis_connection_string: str = Field(default_factory=lambda: StackConfig().redis_address)
    registry_path: Path = Field(default_factory=lambda: _runtime("features", "registry.db"))
    sqlite_path: Path = Field(default_factory=lambda: _runtime("features", "online.db"))
    offline_dir: Path = Field(default_factory=lambda: _runtime("features", "offline"))
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
    offline_log_dir: Path = Field(default_factory=lambda: _runtime("events"))  # derived unless set
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


class SampleBudget(_Section):
    """Per-user budget of training samples over time (``encore.platform.contracts.sampling``), on
    top of ``sampling.max_samples_per_user_per_day``: a token bucket that holds ``burst``
    samples and refills ``rate`` a day, so no user keeps more than
    ``burst + rate * (T - 1)`` samples in any ``T`` days. The defaults: ``rate`` is about
    a regular listener's average day (11 plays), ``burst`` about a heavy regular
    listener's week (p90: 148 plays), so a bot or an always-on player keeps about what
    a heavy regular listener does. ``horizon_days``: the bucket of a day starts full
    this many days before it (a batch job reads that much history)."""

    rate: int = Field(10, ge=0)
    burst: int = Field(150, ge=1)
    horizon_days: int = Field(30, ge=0)


class SamplingConfig(_Section):
    """The per-listener sampling rule (encore.platform.contracts.sampling) every sample
    table and model applies against bots and always-on players: at most
    ``max_samples_per_user_per_day`` samples per user and day, and within the user's
    ``budget`` over time (null: the per-day cap only)."""

    max_samples_per_user_per_day: int = Field(200, ge=1)
    budget: SampleBudget | None = SampleBudget()


class SessionizeOptions(_Section):
    """``encore batch sessionize`` (the rule itself is the ``sessions`` section)."""

    lookback_days: int = Field(
        1, ge=1, description="Days read before the first date when sessions(d-1) is absent.")


class ItemGraphOptions(_Section):
    """``encore batch item-graph``: the co-listening graph of user-days."""

    window_days: int = Field(30, ge=1, description="Window of days ending on each date.")
    min_support: int = Field(2, ge=1, description="Minimum co-listening count of an edge.")
    top_n: int = Field(50, ge=1, description="Neighbours kept per item.")
    max_items_per_context: int | None = Field(
        None, ge=1, description="Distinct tracks per user-day (default: sampling.max_samples_per_user_per_day).")


class RecallSamplesOptions(_Section):
    """``encore batch recall-samples``: next-item samples (the per-user budget over time
    is ``sampling.budget``)."""

    history_days: int = Field(30, ge=1, description="Days of history read before each date.")
    history_length: int = Field(50, ge=1, description="Played track ids kept as a sample's history.")
    negatives_per_positive: int = Field(4, ge=0, description="Catalog negatives drawn per positive.")
    cap: int | None = Field(
        None, ge=1, description="Samples per user per day (default: sampling.max_samples_per_user_per_day).")
    seed: int | None = Field(
        None, description="Seed of the cap and negative sampling (default: the world manifest's seed, "
        "else world.seed).")


class RankingSamplesOptions(_Section):
    """``encore batch ranking-samples``: one row per exposure."""

    history_days: int = Field(30, ge=1, description="Days of user history for the features.")


class MaterializeFeaturesOptions(_Section):
    """``encore batch materialize-features``: the Feast offline sources."""

    window_days: int = Field(30, ge=1, description="User activity window in days.")
    offline_dir: Path | None = Field(
        None, description="Feast offline folder (default: feature_store.offline_dir).")
    track_emotion: Path | None = Field(
        None, description="Parquet of track_id, predicted_valence, predicted_arousal for track_profile "
        "(default: track_emotion.parquet of the promoted emotion model in the registry; none: null columns).")


class BatchRecallOptions(_Section):
    """``encore batch recall``: top-K recall of every listener per channel on Spark
    (encore.recall.batch), for one day at a time, the Query built point in time at the
    day's start."""

    channels: list[str] = Field(
        ["item_cf"], min_length=1, description="Recall channels (names of recall.channels) to run.")
    k: int | None = Field(
        None, ge=1, description="Candidates kept per listener and channel (default: each channel's k).")
    history_days: int = Field(30, ge=1, description="Days of events read before each date for the Queries.")
    partitions: int = Field(4, ge=1, description="Spark partitions of the listeners (one Query batch each).")
    push: bool = Field(False, description="Also push the written recall to the online recall table.")
    spill_window: bool = Field(
        False, description="The driver reads the event window once and spills it as an Arrow IPC file "
        "under OUT/_window/ that executors memory-map, instead of each executor process reading the "
        "parquet window (worth it with many executors; on 2 local workers the serial spill costs more "
        "wall time than the parallel reads).")
    online_path: Path | None = Field(
        None, description="SQLite file of the online recall table (default: recall.db beside "
        "feature_store.sqlite_path).")


class BatchConfig(_Section):
    """Spark batch jobs (``encore batch <job>``): the output root, and one section of
    typed options per job (a job's CLI flags override them for one run)."""

    output_dir: Path = Field(default_factory=lambda: _runtime("batch"))  # derived unless set
    sessionize: SessionizeOptions = SessionizeOptions()
    item_graph: ItemGraphOptions = ItemGraphOptions()
    recall_samples: RecallSamplesOptions = RecallSamplesOptions()
    ranking_samples: RankingSamplesOptions = RankingSamplesOptions()
    materialize_features: MaterializeFeaturesOptions = MaterializeFeaturesOptions()
    recall: BatchRecallOptions = BatchRecallOptions()


class ServingConfig(_Section):
    """The gRPC services (``encore events serve``; the Recommender later)."""

    host: str = "127.0.0.1"
    events_port: int = Field(50052, ge=0, le=65535)
    max_events_per_log_call: int = Field(1000, ge=1)
    max_workers: int = Field(8, ge=1)
    metrics_port: int = Field(0, ge=0, le=65535)  # Prometheus /metrics; 0 = off
    shutdown_grace_s: float = Field(5.0, ge=0)


class PipelineConfig(_Section):
    """The serving pipeline and the Recommender service (``encore.serving.pipeline``,
    ``encore serve``): request limits, which recall channels each rpc runs (names of
    ``recall.channels``; empty = every enabled one), the merge, ranking and re-rank knobs.

    - merge: a candidate's merged score is the reciprocal-rank fusion
      ``sum over channels of 1 / (rrf_k + rank)`` (rank 1 = the channel's best) over the
      channels whose top ``quota`` (``recall.channels[*].quota``) hold it;
    - rank: the first ``rank_limit`` merged candidates are scored by the promoted ranker;
      final score ``sum over heads of head_weights[head] * p(head)``;
    - re-rank: at most ``max_per_artist`` tracks of one artist in the returned slots
      (extra ones move behind every other candidate), repeats (tracks the listener
      played before) interleaved at ``repeat_share`` of the slots (0: discoveries first,
      1: repeats first), never an excluded, recently skipped or disliked track.
    """

    port: int = Field(50051, ge=0, le=65535)  # the Recommender gRPC port (0: any free port)
    default_count: int = Field(30, ge=1)
    max_count: int = Field(200, ge=1)
    max_session_tracks: int = Field(200, ge=1)  # NextTrack.recent_track_ids
    max_exclude_ids: int = Field(1000, ge=0)
    max_id_chars: int = Field(128, ge=1)  # anonymous_id, session_id
    daily_channels: list[str] = []
    next_track_channels: list[str] = ["session_knn", "session_gnn", "item_cf", "trending"]
    similar_channels: list[str] = ["item_cf"]
    artist_channels: list[str] = ["item_cf", "session_knn", "profile", "popular", "kg_walk", "similar_listeners"]
    fallback_channels: list[str] = ["popular", "trending"]  # when the feature store is unreachable
    rrf_k: float = Field(60.0, gt=0)
    rank_limit: int = Field(500, ge=1)
    head_weights: dict[str, float] = {"complete_play": 1.0, "heart": 0.5, "skip": -0.5}
    max_per_artist: int = Field(2, ge=1)
    repeat_share: float = Field(0.3, ge=0, le=1)
    recall_threads: int = Field(16, ge=1)  # the channel fan-out pool (a late channel holds a thread)
    channel_registry_prefix: str = "recall."  # registry name of a channel: prefix + channel name
    ranker_registry_name: str = "ranker"

    @model_validator(mode="after")
    def _count_limits(self) -> "PipelineConfig":
        if self.default_count > self.max_count:
            raise ValueError(f"default_count {self.default_count} exceeds max_count {self.max_count}")
        return self


class RegistryConfig(_Section):
    """The model registry (``encore.platform.registry``): versioned artifacts under
    ``root/<name>/<version>/`` (relative to the cwd, like ``paths.runtime_dir``)."""

    root: Path = Field(default_factory=lambda: _runtime("models"))  # derived unless set
    poll_interval_s: float = Field(10.0, gt=0)  # how often a server's LiveModel re-reads PROMOTED


class RankingConfig(_Section):
    """Rankers (``encore.ranking``): the feature spec's switches, the models (baseline,
    DIN, DIEN) and their training. ``head_weights`` weight each head's binary
    cross-entropy in the loss.

    Sequence rankers (``din``, ``dien``) read the listener's last ``sequence_length``
    behaviours of each kind in ``behaviours`` (the Query's play / heart / skip /
    complete-play sequences), each described by its track profile embedded with the candidate's tables
    and projected to ``item_dim`` (D). ``activation``: the MLPs' activation (``dice``:
    DIN's Dice). ``mba_lambda``: DIN's mini-batch aware L2 on the track / artist / album
    embedding rows of each batch, each divided by its training frequency (0 = off).
    DIN: ``attention_units`` of the local activation unit; ``pooling`` ``attention``
    (the model) or ``sum`` / ``mean`` (the ablations). DIEN: ``gru_units`` (H) of the
    interest extractor and evolving layers; ``evolution`` ``augru`` (the model),
    ``agru``, ``aigru`` or ``gru`` (no attention); ``aux_loss_weight`` of the auxiliary
    next-behaviour loss (0 = off). Session ranker: ``session_behaviours`` as separate
    channels, each split into its last ``max_sessions`` sessions by the platform's
    sessionization rule (``sessions``); ``session_split`` False = one sequence (the
    ablation); ``session_heads`` of the intra-session self-attention;
    ``session_lstm_units`` per direction of the inter-session Bi-LSTM."""

    model: Literal["baseline", "din", "dien", "session"] = "baseline"
    registry_name: str = "ranker"
    eval_days: int = Field(1, ge=1)  # the last N days of ranking_samples are held out
    use_user_id: bool = True  # hashed user-id embedding (anonymous listeners share one row)
    user_id_buckets: int = Field(20_000, ge=2)
    embedding_dim: int = Field(16, ge=1)
    hidden_units: list[int] = [128, 64]
    dropout: float = Field(0.0, ge=0, lt=1)
    head_weights: dict[str, float] = {"complete_play": 1.0, "heart": 1.0, "skip": 1.0}
    # Training-only shallow tower: a learned logit per head and logged position, added
    # in training and left out at serving (where there is no position); 0 buckets = off.
    position_buckets: int = Field(0, ge=0)
    sequence_length: int = Field(50, ge=1)  # T: behaviours kept per sequence
    behaviours: list[Literal["play", "heart", "skip", "complete"]] = ["play"]
    item_dim: int = Field(32, ge=1)  # D: the projected track profile of behaviours and candidates
    activation: Literal["relu", "prelu", "dice"] = "dice"
    mba_lambda: float = Field(0.0, ge=0)
    attention_units: list[int] = [64, 16]
    pooling: Literal["attention", "sum", "mean"] = "attention"
    gru_units: int = Field(16, ge=1)
    evolution: Literal["augru", "agru", "aigru", "gru"] = "augru"
    aux_loss_weight: float = Field(1.0, ge=0)
    session_behaviours: list[Literal["play", "heart", "skip", "complete"]] = ["play", "heart", "skip"]
    max_sessions: int = Field(5, ge=1)
    session_split: bool = True
    session_heads: int = Field(2, ge=1)
    session_lstm_units: int = Field(16, ge=1)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(1024, ge=1)
    learning_rate: float = Field(0.003, gt=0)
    seed: int = 7


class PopularityParams(_Section):
    """``popularity`` channel: time-decayed play counts (encore.recall.popularity).

    Each play counts ``0.5 ** (age / half_life_hours)`` at the end of the fitted window;
    a short half-life makes it *trending*. ``by_hour`` scores by the decayed counts at
    the query's local hour (smoothed towards the all-day counts by ``hour_smoothing``)."""

    half_life_hours: float = Field(168.0, gt=0)
    by_hour: bool = False
    hour_smoothing: float = Field(0.2, ge=0, le=1)
    signal: Literal["plays", "completes"] = "plays"


class ItemCFParams(_Section):
    """``item_cf`` channel over the ``item_graph`` batch table (encore.recall.item_cf).

    Source weight of a recent play: ``0.5 ** (age / recency_half_life_hours)``; a heart
    adds ``heart_boost`` times its recency weight, a skip subtracts ``skip_penalty``
    times it. At most ``max_sources`` most recent plays (and hearts, skips) are used."""

    recency_half_life_hours: float = Field(24.0, gt=0)
    heart_boost: float = Field(1.0, ge=0)
    skip_penalty: float = Field(1.0, ge=0)
    max_sources: int = Field(50, ge=1)


class SessionKNNParams(_Section):
    """``session_knn`` channel: V-SKNN (Ludewig & Jannach 2018; encore.recall.session_knn).

    ``neighbours``: top-M most similar past sessions; ``sample_size``: only the most
    recent sessions sharing an item with the query are candidates; ``max_session_items``:
    the last items of the current session used; ``fallback_to_recent``: a listener whose
    session has no play yet uses their last recent plays as the session."""

    neighbours: int = Field(100, ge=1)
    sample_size: int = Field(1000, ge=1)
    max_session_items: int = Field(20, ge=1)
    fallback_to_recent: bool = True
    window_days: int = Field(30, ge=1)


class ProfileParams(_Section):
    """``profile`` channel: genre / language / artist taste of the ``user_profile``
    features against the catalog (encore.recall.profile); a profile without play
    history falls back to the genre prior of its age bucket."""

    genre_weight: float = Field(1.0, ge=0)
    language_weight: float = Field(0.5, ge=0)
    artist_weight: float = Field(1.0, ge=0)
    popularity_weight: float = Field(0.5, ge=0)
    popularity_half_life_hours: float = Field(168.0, gt=0)
    prior_genres: int = Field(3, ge=1)


class AnnConfig(_Section):
    """The approximate nearest-neighbour index over item embeddings that neural recall
    channels search by maximum inner product (``encore.recall.ann.ItemIndex``): a ScaNN
    tree (k-means partitions) + asymmetric hashing (AH) of each item's residual to its
    partition's center + exact re-scoring of the best AH candidates. Chosen on ``encore
    bench ann`` (1M x 64 clustered items, docs/benchmarks/ann.json): the defaults reach
    recall@100 ~0.99 against exact search at > 10,000 single queries/s on 2 cores."""

    kind: Literal["scann", "brute_force"] = Field(
        "scann", description="scann, or brute_force: exact numpy search (the reference).")
    num_leaves: int | None = Field(
        None, ge=1, description="Tree partitions; null: round(2 * sqrt(n)) (2,000 at 1M items). "
        "Smaller partitions leave smaller residuals for AH, so its scores are closer to exact "
        "(1M x 64: recall@100 0.99 with 2,000 leaves, 0.96 with 1,000, at reorder_k 200).")
    num_leaves_to_search: int = Field(
        10, ge=1, description="Partitions searched per query (those whose centers score "
        "highest). On the benchmark 5 already reach the recall of 10; 10 (0.5% of a 1M "
        "catalog) leaves a margin for embeddings less clustered than its mixture.")
    training_sample_size: int = Field(
        250_000, ge=1, description="Items sampled to train the tree and the AH codebooks "
        "(all when fewer). Keep >= ~100 per partition: with 50 (100,000 for 2,000 leaves) "
        "the partitions train badly and recall@100 falls to ~0.85.")
    dimensions_per_block: int = Field(
        2, ge=1, description="Dimensions per AH block (16 codes each). 4 is ~1.5x faster but "
        "recall@100 drops to ~0.8 at reorder_k 200.")
    anisotropic_quantization_threshold: float = Field(
        0.2, description="AH's anisotropic loss threshold (ScaNN's advice for inner product "
        "on roughly unit-norm embeddings); nan turns it off.")
    reorder_k: int = Field(
        200, ge=1, description="Best AH candidates re-scored exactly per query (at least k "
        "are). The main knob: recall@100 0.82 at 100, 0.95 at 150, 0.99 at 200, 1.0 at 300.")
    min_items_for_scann: int = Field(
        10_000, ge=1, description="Smaller catalogs are searched exactly: a brute-force "
        "query over 10k x 64 floats takes ~0.1 ms on one core, and the partitions of a "
        "tiny catalog would be too small to train.")

    def leaves_for(self, n: int) -> int:
        """Partitions of a tree over ``n`` items (``num_leaves`` or the sqrt rule)."""
        leaves = self.num_leaves if self.num_leaves is not None else round(2 * n ** 0.5)
        return max(1, min(leaves, n))


class NeuralRecallParams(_Section):
    """Training shared by the neural recall channels (encore.recall.neural).

    Samples: the complete plays of ``recall_samples`` (the batch table; without it the
    same rule applied to the fitted log), each with its Query built point in time by the
    one Query builder; ``sample_cap`` applies the per-listener rule of the ``sampling``
    section (off: every complete play of bots and always-on players counts, the
    ablation), then at most ``max_train_samples`` (seeded). Loss: softmax over the
    in-batch targets with ``temperature`` on L2-normalised vectors, minus log Q of each
    target's frequency (``logq_correction``, Yi et al. 2019), accidental hits removed.
    ``embedding_dim`` is D of every query and item vector; ``history_length`` /
    ``session_length``: the last plays of the listener / of the current session read;
    ``ann``: the index over the item vectors of each space."""

    embedding_dim: int = Field(64, ge=4)
    history_length: int = Field(50, ge=1)
    session_length: int = Field(20, ge=1)
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(512, ge=2)
    learning_rate: float = Field(0.003, gt=0)
    temperature: float = Field(0.05, gt=0)
    logq_correction: bool = True
    sample_cap: bool = True
    max_train_samples: int | None = Field(150_000, ge=1)
    seed: int = 7
    ann: AnnConfig = AnnConfig()


class YouTubeDNNParams(NeuralRecallParams):
    """``youtube_dnn`` channel: YouTube-DNN retrieval (Covington et al. 2016) with
    ``pooling`` of the play sequence by self-attention (``attention_heads``) or by the
    paper's average (the ablation), concatenated with the profile (genres, languages,
    artists, age, region, activity) and the hour, through ``hidden_units``."""

    pooling: Literal["self_attention", "mean"] = "self_attention"
    attention_heads: int = Field(2, ge=1)
    hidden_units: tuple[int, ...] = (256,)


class MINDParams(NeuralRecallParams):
    """``mind`` channel: MIND (Li et al. 2019), behaviour-to-interest dynamic routing.

    ``interests``: ``dynamic`` K = max(1, min(max_interests, floor(log2(history
    length)))), ``fixed`` K = max_interests, ``single`` K = 1 (the ablations);
    ``routing_iterations`` of B2I routing; label-aware attention with power ``label_attention_power``
    in training; each capsule joins the profile through ``hidden_units`` (ReLU) to its
    interest vector; at serving each interest asks for top-k and the lists merge."""

    interests: Literal["dynamic", "fixed", "single"] = "dynamic"
    max_interests: int = Field(4, ge=1)
    routing_iterations: int = Field(3, ge=1)
    label_attention_power: float = Field(2.0, ge=0)
    hidden_units: tuple[int, ...] = (256,)


class SDMParams(NeuralRecallParams):
    """``sdm`` channel: SDM (Lv et al. 2019) as NetEase Cloud Music runs it.

    ``fusion="two_space"``: a short-term space over the current session (self-attention
    + LSTM) against track-id vectors and a long-term space over the listener's history
    of track attributes (artist, genre, language, album) against attribute vectors, each
    with its own loss and both queried at serving (``long_term_share`` of the k
    candidates from the long-term space); ``"gated"``: the paper's single loss on
    gate * short + (1 - gate) * long (the ablation, its gate values reported)."""

    fusion: Literal["two_space", "gated"] = "two_space"
    attention_heads: int = Field(2, ge=1)
    long_term_share: float = Field(0.5, ge=0, le=1)


class KGWalkParams(_Section):
    """``kg_walk`` channel: meta-path guided walks over the music knowledge graph
    (encore.recall.kg_walk).

    ``meta_paths``: name -> the relations walked from a track to the path's pivot
    entity (each a relation of the triples, ``~relation`` walks it backwards); the walk
    returns from the pivot to a track along the same relations reversed, every step
    choosing uniformly among the neighbours (row-normalised transitions).
    ``normalise``: ``"path"`` scores each meta-path's reach given that its walk goes
    anywhere for this listener (divided by the walk's surviving mass), ``"walk"`` uses
    the raw reach probability. ``pivot_focus``: a listener's mass on each pivot m
    becomes m ** pivot_focus (rescaled to the same total) before the walk returns, so
    above 1 a show many of their plays lead to outweighs shows one play touches.
    ``path_weights``: fixed weights per meta-path; empty =
    counted from the log at fit time (each meta-path's precision: the reach mass it puts
    on listeners' next discoveries per unit of mass it spreads, normalised to sum 1;
    at most ``max_fit_events`` discoveries, seeded sample). Source weights as item-CF
    (recency half-life, heart boost, skip penalty, ``max_sources`` per sequence); heard
    tracks (plays, hearts, skips, dislikes, the session) are never candidates.
    ``combine``: how the meta-paths' scores are merged: ``"sum"`` of the weighted
    reaches; ``"rank"`` weighted reciprocal-rank fusion, sum over meta-paths of
    share_m / (rank_constant + rank_m); ``"interleave"`` its max over meta-paths (a
    weighted interleave: each meta-path keeps a quota of the top ranks).
    share_m = path weight ** ``share_power`` (0: equal quotas). The defaults
    (interleave, rank_constant 10, share_power 0.5, half-life 168 h) were chosen on
    validation worlds of seeds 11 and 13, not on the benchmark's world (seed 31)."""

    meta_paths: dict[str, list[str]] = {
        "album": ["in_album"],
        "artist": ["in_album", "by_artist"],
        "soundtrack": ["soundtrack_of"],
        "season": ["in_album", "by_artist", "appeared_in"],
    }
    normalise: Literal["path", "walk"] = "path"
    pivot_focus: float = Field(2.0, gt=0)
    path_weights: dict[str, float] = {}
    max_fit_events: int = Field(20_000, ge=1)
    recency_half_life_hours: float = Field(168.0, gt=0)
    heart_boost: float = Field(1.0, ge=0)
    skip_penalty: float = Field(1.0, ge=0)
    max_sources: int = Field(50, ge=1)
    seed: int = 0
    combine: Literal["sum", "rank", "interleave"] = "interleave"
    rank_constant: float = Field(10.0, gt=0)
    share_power: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _known_paths(self) -> "KGWalkParams":
        if not self.meta_paths or any(not steps for steps in self.meta_paths.values()):
            raise ValueError("kg_walk: meta_paths must name at least one non-empty path")
        unknown = sorted(set(self.path_weights) - set(self.meta_paths))
        if unknown:
            raise ValueError(f"kg_walk: path_weights for unknown meta-paths {unknown}")
        if any(w < 0 for w in self.path_weights.values()):
            raise ValueError("kg_walk: path weights must be >= 0")
        return self


class SimilarListenersParams(_Section):
    """``similar_listeners`` channel: user-based co-listening neighbours
    (encore.recall.similar_listeners). Listener vectors: log-damped counts of finished
    tracks (``signal: completes``) or of play starts (``plays``) in the fitting window,
    L2-normalised. A query's vector: its recency-weighted plays and hearts (item-CF's
    source rule), compared by cosine; its ``neighbours`` nearest listeners with
    similarity >= ``min_similarity`` vote for what they finished."""

    neighbours: int = Field(50, ge=1)
    min_similarity: float = Field(0.0, ge=0, le=1)
    signal: Literal["completes", "plays"] = "completes"
    recency_half_life_hours: float = Field(168.0, gt=0)
    heart_boost: float = Field(1.0, ge=0)
    skip_penalty: float = Field(0.0, ge=0)  # unused: a query vector keeps positive sources only
    max_sources: int = Field(50, ge=1)


class SessionGNNParams(_Section):
    """``session_gnn`` channel: the emotion-aware heterogeneous session GNN (SR-GNN based;
    encore.recall.session). Ablations: ``readout`` ("hybrid" = global + local, "global",
    "local"), ``emotion`` (fuse the tracks' emotion vectors from ``emotion_source``:
    "catalog" true valence/arousal, "audio" descriptors, "predicted:<file>" the emotion
    model's output), ``hetero`` (initial node representations from the co-occurrence /
    listener / emotion-region graph). Training: the most recent ``max_train_pairs``
    SR-GNN pairs of the sessions of the last ``window_days``; ``fallback_to_recent``: a
    listener whose session has no play yet uses the recent plays (DailyRecommend)."""

    hidden: int = Field(64, ge=1)
    steps: int = Field(1, ge=1)
    readout: Literal["hybrid", "global", "local"] = "hybrid"
    emotion: bool = True
    emotion_source: str = "catalog"
    hetero: bool = True
    max_length: int = Field(50, ge=1)
    batch_size: int = Field(100, ge=1)
    epochs: int = Field(2, ge=1)
    learning_rate: float = Field(0.001, gt=0)
    l2: float = Field(1e-5, ge=0)
    max_train_pairs: int = Field(200_000, ge=1)
    window_days: int = Field(30, ge=1)
    fallback_to_recent: bool = True
    seed: int = 0
    # training loss: sampled softmax with this many popularity^alpha negatives per step
    # (0 = full softmax over all items; scoring is always over all items)
    negatives: int = Field(0, ge=0)
    negative_alpha: float = Field(0.75, ge=0)


CHANNEL_PARAMS: dict[str, type[_Section]] = {
    "popularity": PopularityParams,
    "item_cf": ItemCFParams,
    "session_knn": SessionKNNParams,
    "profile": ProfileParams,
    "youtube_dnn": YouTubeDNNParams,
    "mind": MINDParams,
    "sdm": SDMParams,
    "kg_walk": KGWalkParams,
    "similar_listeners": SimilarListenersParams,
    "session_gnn": SessionGNNParams,
}
"""Known recall channel kinds and the typed parameters of each (the registry of the
channel classes, ``encore.recall.CHANNEL_KINDS``, has exactly these keys)."""


class ChannelConfig(_Section):
    """One recall channel of the serving pipeline: ``k`` candidates are asked of it,
    at most ``quota`` of them enter the merged list, and it is dropped when it takes
    longer than ``deadline_ms``. ``params`` are checked against the kind's parameter
    model (``CHANNEL_PARAMS``); ``settings`` is that model."""

    name: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$")
    kind: str
    k: int = Field(200, ge=1)
    quota: int = Field(100, ge=0)
    deadline_ms: float = Field(50.0, gt=0)
    enabled: bool = True
    params: dict[str, Any] = {}
    # serving answers daily requests of known listeners from the online recall table
    # that `encore batch recall --push` fills (live on a miss): for heavy channels
    precomputed: bool = False

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in CHANNEL_PARAMS:
            raise ValueError(f"unknown channel kind {kind!r}; known: {sorted(CHANNEL_PARAMS)}")
        return kind

    @model_validator(mode="after")
    def _valid_params(self) -> "ChannelConfig":
        if self.quota > self.k:
            raise ValueError(f"channel {self.name}: quota {self.quota} exceeds k {self.k}")
        _ = self.settings  # raises on an unknown or invalid parameter
        return self

    @property
    def settings(self) -> Any:
        """The typed parameters of this channel's kind (defaults filled in)."""
        return CHANNEL_PARAMS[self.kind].model_validate(self.params)


def _default_channels() -> list[ChannelConfig]:
    return [
        ChannelConfig(name="popular", kind="popularity", k=200, quota=50,
                      params={"half_life_hours": 168.0}),
        ChannelConfig(name="trending", kind="popularity", k=200, quota=30,
                      params={"half_life_hours": 24.0}),
        ChannelConfig(name="popular_at_hour", kind="popularity", k=200, quota=30,
                      params={"half_life_hours": 168.0, "by_hour": True}),
        ChannelConfig(name="item_cf", kind="item_cf", k=500, quota=200),
        ChannelConfig(name="session_knn", kind="session_knn", k=500, quota=150),
        ChannelConfig(name="profile", kind="profile", k=300, quota=100),
        # the neural channels: switched on by `enabled: true` once trained (encore train recall --channel)
        ChannelConfig(name="youtube_dnn", kind="youtube_dnn", k=500, quota=150, enabled=False),
        ChannelConfig(name="mind", kind="mind", k=500, quota=150, enabled=False),
        ChannelConfig(name="sdm", kind="sdm", k=500, quota=150, enabled=False),
        # knowledge-graph walks: needs the world's kg/triples.parquet in the recall tables
        ChannelConfig(name="kg_walk", kind="kg_walk", k=500, quota=150, enabled=False),
        # co-listening neighbours ("listeners like you finished this")
        ChannelConfig(name="similar_listeners", kind="similar_listeners", k=500, quota=150, enabled=False),
        # the session GNN (encore train recall --channel session_gnn): NextTrack and DailyRecommend
        ChannelConfig(name="session_gnn", kind="session_gnn", k=500, quota=150, enabled=False),
    ]


class RecallConfig(_Section):
    """The recall stage: the channels run in parallel for every request (see
    encore.recall). Names are unique; a disabled channel is configured but not run.
    ``ann``: the nearest-neighbour index of the embedding channels."""

    channels: list[ChannelConfig] = Field(default_factory=_default_channels)
    history_length: int = Field(50, ge=1)  # longest play / heart / skip sequence in a Query

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate channel names: {duplicates}")
        return channels

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"no recall channel {name!r}; configured: {[c.name for c in self.channels]}")

    @property
    def enabled(self) -> list[ChannelConfig]:
        return [c for c in self.channels if c.enabled]


class EvaluationConfig(_Section):
    """Offline evaluation of the whole recommender (``encore train all``, ``encore eval
    pipeline``; encore.serving.evaluate).

    The last ``test_days`` days of the world are held out: recall channels are fitted
    on the ``fit_window_days`` days before the first of them, the ranker on the
    ranking_samples of the days before. On each held-out day every known, non-bot
    listener who completes a play gets one request at their first event (the
    recall.evaluate protocol); at most ``max_listeners`` of them (a seeded sample;
    null = all). Measured: recall@K of each channel for K in ``recall_ks``; HR@K and
    NDCG@K of the final list of ``list_length`` tracks for K in ``list_ks``; the
    world's ground-truth reward (encore.platform.world.reward) of the list's first
    ``reward_length`` tracks; bootstrap CIs with ``bootstrap_samples`` resamples of
    listeners at level ``confidence``. ``baseline_channel`` (a recall channel name)
    alone is the baseline list; the world's oracle list (``RewardModel.ideal_lists``)
    is scored on a seeded sample of ``oracle_listeners`` listeners as the ceiling."""

    test_days: int = Field(1, ge=1)
    fit_window_days: int = Field(30, ge=1)
    recall_ks: list[int] = [50, 200, 500]
    list_ks: list[int] = [10, 30]
    list_length: int = Field(30, ge=1)
    reward_length: int = Field(10, ge=1)
    max_listeners: int | None = Field(None, ge=1)
    baseline_channel: str = "popular"
    oracle_listeners: int = Field(100, ge=0)  # seeded sample scored with the world's oracle list
    bootstrap_samples: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 7

    @model_validator(mode="after")
    def _cutoffs_fit_the_list(self) -> "EvaluationConfig":
        if not self.recall_ks or not self.list_ks:
            raise ValueError("recall_ks and list_ks need at least one cut-off")
        if max(self.list_ks) > self.list_length:
            raise ValueError(f"list_ks {self.list_ks} exceed list_length {self.list_length}")
        if self.reward_length > self.list_length:
            raise ValueError(f"reward_length {self.reward_length} exceeds list_length {self.list_length}")
        return self


class ABConfig(_Section):
    """Offline A/B of two pipeline configurations (``encore ab``; encore.serving.ab).

    Both configurations answer the held-out requests of ``evaluation`` (same listeners,
    hours, days; at most ``max_listeners``, a seeded sample; null = evaluation's).
    Every metric's B - A gets a paired bootstrap CI over listeners (``bootstrap_samples``
    resamples, level ``confidence``) and, when it straddles 0, the listeners needed to
    detect the observed difference with ``power``. Counterfactual estimates reweight the
    logged ``logged_scenario`` exposures of the held-out days by 1 / inclusion
    propensity, weights clipped at ``weight_clip``; an effective sample size below
    ``min_ess`` is flagged. The DR / DM reward model (``reward_model``): ``ranker`` (the
    default; complete plays, hearts keep ``features``) a BaselineRanker (the mean of
    ``ranker_ensemble``, one per training seed) trained for ``ranker_epochs`` on the logged exposures of the
    ``ranker_days`` days before the first held-out day (encore.serving.ab.ranker_reward);
    ``features`` a logistic regression with L2 ``reward_model_l2`` on those of the
    ``reward_model_days`` days before it; ``average`` the mean of both. Long tail: tracks outside the ``head_share`` most
    played of the catalogue (fit window). Simulated online: the world's completion
    probabilities of each list, outcomes drawn with common random numbers (``seed``)."""

    max_listeners: int | None = Field(500, ge=1)
    bootstrap_samples: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    logged_scenario: str = "daily_recommend"
    weight_clip: float = Field(100.0, gt=0)
    min_ess: float = Field(100.0, ge=0)
    reward_model_days: int = Field(7, ge=1)
    reward_model_l2: float = Field(1.0, ge=0)
    # DR / DM reward model: the logistic model on point-in-time features, the ranker
    # (encore.serving.ab.ranker_reward) on the same rows, or the mean of both.
    reward_model: Literal["features", "ranker", "average"] = "ranker"
    ranker_epochs: int = Field(4, ge=1)
    ranker_days: int = Field(7, ge=1)  # fit days of the ranker (at least reward_model_days)
    ranker_ensemble: int = Field(1, ge=1)  # rankers (training seeds) averaged
    head_share: float = Field(0.2, gt=0, lt=1)
    seed: int = 7


class EmotionConfig(_Section):
    """The emotion model (``encore.recall.emotion``): a track's audio descriptors and
    lyrics -> (valence, arousal), and its baselines (``encore bench emotion``).

    Model: each descriptor becomes a ``descriptor_dim`` token (its scaled value plus an
    embedding of its quantile bin among ``descriptor_bins``), a 1-d CNN of
    ``conv_filters`` x ``kernel_size`` runs over the tokens beside an MLP of
    ``mlp_units`` on the raw descriptors; lyrics go through a ``word_dim`` embedding, a
    BiLSTM of ``lstm_units`` per direction and additive attention of
    ``attention_units``; ``fusion_units`` fuse both into the 2-d output. Training: Adam,
    at most ``epochs``, early stopping on a ``validation_share`` of the training rows
    (``patience`` epochs). Baselines: ridge (``ridge_alphas``) and gradient-boosted
    trees (``gbt_*``). ``folds``-fold cross-validation; the trained world model is
    published as ``registry_name``."""

    registry_name: str = "emotion"
    descriptor_dim: int = Field(16, ge=1)
    descriptor_bins: int = Field(16, ge=2)
    conv_filters: int = Field(32, ge=1)
    kernel_size: int = Field(3, ge=1)
    mlp_units: int = Field(128, ge=1)
    word_dim: int = Field(32, ge=1)
    lstm_units: int = Field(32, ge=1)
    attention_units: int = Field(32, ge=1)
    fusion_units: int = Field(64, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    epochs: int = Field(150, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(0.0005, gt=0)
    validation_share: float = Field(0.1, gt=0, lt=0.5)
    patience: int = Field(25, ge=1)
    folds: int = Field(5, ge=2)
    seed: int = 0
    ridge_alphas: list[float] = [0.1, 1.0, 10.0, 100.0, 1000.0]  # chosen per axis by leave-one-out error
    gbt_trees: int = Field(400, ge=1)
    gbt_depth: int = Field(4, ge=1, le=12)
    gbt_learning_rate: float = Field(0.05, gt=0, le=1)
    gbt_min_leaf: int = Field(20, ge=1)
    gbt_subsample: float = Field(0.8, gt=0, le=1)
    gbt_bins: int = Field(64, ge=2, le=255)
    # spotify-features (issue 10): which input sets the bench reports (``encore.recall.emotion_inputs``),
    # the artist target encoding (smoothed mean, ``artist_prior`` pseudo-rows at the fitting part's mean;
    # training rows get theirs from ``artist_inner_folds`` inner folds so no row sees its own target),
    # the grouped-fold robustness line (folds by (lower-cased name, artist)), the input set ``train emotion
    # --spotify`` fits on
    spotify_input_sets: list[Literal["readme_nine", "all_descriptors", "all_descriptors_artist"]] = [
        "readme_nine", "all_descriptors", "all_descriptors_artist"]
    artist_prior: float = Field(5.0, ge=0)
    artist_inner_folds: int = Field(5, ge=2)
    spotify_grouped_folds: bool = True
    spotify_train_inputs: Literal["readme_nine", "all_descriptors"] = "all_descriptors"


#: Settings derived from other sections unless a config sets them: (section, key) ->
#: value from (stack, paths). One source for each port, host and runtime folder.
_DERIVED: dict[tuple[str, str], Any] = {
    ("kafka", "bootstrap_servers"): lambda stack, paths: stack.kafka_bootstrap,
    ("feature_store", "redis_connection_string"): lambda stack, paths: stack.redis_address,
    ("feature_store", "registry_path"): lambda stack, paths: paths.runtime("features", "registry.db"),
    ("feature_store", "sqlite_path"): lambda stack, paths: paths.runtime("features", "online.db"),
    ("feature_store", "offline_dir"): lambda stack, paths: paths.runtime("features", "offline"),
    ("stream", "offline_log_dir"): lambda stack, paths: paths.runtime("events"),
    ("batch", "output_dir"): lambda stack, paths: paths.runtime("batch"),
    ("registry", "root"): lambda stack, paths: paths.runtime("models"),
}


def _given(value: Any) -> dict[str, Any]:
    """The keys a section was given explicitly (a mapping from YAML, or a model)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value or {})


class EncoreConfig(_Section):
    """Every section of Encore's configuration. Connection strings and runtime paths
    that a file does not set are derived from the ``stack`` and ``paths`` sections
    (``_DERIVED``), so a port or the runtime folder is changed in one place."""

    paths: PathsConfig = PathsConfig()
    world: WorldConfig = WorldConfig()
    sessions: SessionsConfig = SessionsConfig()
    sampling: SamplingConfig = SamplingConfig()
    stack: StackConfig = StackConfig()
    kafka: KafkaConfig = KafkaConfig()
    events: EventsConfig = EventsConfig()
    spark: SparkConfig = SparkConfig()
    feature_store: FeatureStoreConfig = FeatureStoreConfig()
    stream: StreamConfig = StreamConfig()
    batch: BatchConfig = BatchConfig()
    serving: ServingConfig = ServingConfig()
    pipeline: PipelineConfig = PipelineConfig()
    registry: RegistryConfig = RegistryConfig()
    ranking: RankingConfig = RankingConfig()
    recall: RecallConfig = RecallConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    ab: ABConfig = ABConfig()
    emotion: EmotionConfig = EmotionConfig()

    @model_validator(mode="before")
    @classmethod
    def _derive_from_stack_and_paths(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        stack = StackConfig.model_validate(_given(data.get("stack")))
        paths = PathsConfig.model_validate(_given(data.get("paths")))
        for (section, key), derive in _DERIVED.items():
            given = _given(data.get(section))
            if key not in given:
                data[section] = {**given, key: derive(stack, paths)}
        return data


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

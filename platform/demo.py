"""The demo: the main job a fresh clone runs (``scripts/demo.sh`` -> ``encore demo``).

It walks the platform's data flow on a small simulated world and grows with the
platform: (1) generate the world, (2) load it back with its schema checks and summarise
it, (3) replay its last day into Kafka, (4) run the stream processor into the Feast
online store and (5) read one listener's real-time features back, checked against the
log. The serving end (models, the Recommender, a gRPC daily-recommend answer) lives in
``encore.serving.demo`` (platform does not import serving); ``encore demo`` runs both.

Steps 3-5 run on a private stack (broker and Redis on free ports, Feast and logs under
``out``) that is wiped first and stopped at the end, so the demo is repeatable and never
touches a stack started with ``encore stack up``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from encore.platform.contracts import vocabulary
from encore.platform.config import EncoreConfig, default_config
from encore.platform.world.cli import summary_table, world_config

# How the realtime features shown in step 5 are counted from the raw log.
_LOG_COUNTS = {"plays_today": vocabulary.PLAY_START, "skips_today": vocabulary.SKIP, "hearts_today": vocabulary.HEART}


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured: events generated and replayed, and for one listener the
    real-time counters read back online next to the same counts taken from the raw log."""

    world_events: int
    replayed_events: int
    listener: int
    online_counts: dict[str, int]
    log_counts: dict[str, int]
    world_dir: Path | None = None
    config: EncoreConfig | None = None  # the private config the demo ran on (its Feast store)


def run_demo(out: Path, users: int | None = None, days: int | None = None) -> DemoResult:
    from encore.platform.world import generate_world, load_world, summarize

    console = Console()
    cfg = world_config(users=users, days=days)
    world_dir = out / "world"

    console.print(Rule(f"1. simulated world: {cfg.users:,} users x {cfg.days} days, seed {cfg.seed}"))
    started = time.perf_counter()
    manifest = generate_world(cfg, world_dir, progress=True)
    console.print(f"generated {manifest.counts['events']:,} events in "
                  f"{time.perf_counter() - started:.1f} s -> {world_dir}")

    console.print(Rule("2. load it back (schema and checksums verified) and summarise"))
    world = load_world(world_dir, verify_checksums=True)
    console.print(summary_table(summarize(world), f"world {world_dir}"))

    replayed, listener, online, log_counts, private = _realtime_path(console, world, out)
    return DemoResult(manifest.counts["events"], replayed, listener, online, log_counts,
                      world_dir=world_dir, config=private)


def _private_config(out: Path) -> EncoreConfig:
    """The configured platform, moved onto free ports and folders under ``out``."""
    from encore.platform.stack import free_port

    base = default_config()
    stack = base.stack.model_copy(update={"kafka_port": free_port(), "redis_port": free_port()})
    return base.model_copy(update={
        "stack": stack,
        "kafka": base.kafka.model_copy(
            update={"bootstrap_servers": f"{stack.host}:{stack.kafka_port}"}),
        "feature_store": base.feature_store.under(out / "features"),
        "stream": base.stream.model_copy(update={"offline_log_dir": out / "stream-log"}),
        "registry": base.registry.model_copy(update={"root": out / "models"}),
    })


def _realtime_path(console: Console, world, out: Path) -> tuple[int, int, dict, dict, EncoreConfig]:
    from encore.feature_store.client import FeatureClient
    from encore.platform.events.producer import EventProducer
    from encore.platform.events.replay import replay_world
    from encore.platform.stack import LocalStack
    from encore.feature_store.store import open_store
    from encore.platform.stream.admin import prepare_stream
    from encore.platform.stream.processor import StreamProcessor, load_track_durations

    for folder in ("stack", "features", "stream-log", "models"):
        shutil.rmtree(out / folder, ignore_errors=True)
    cfg = _private_config(out)
    last_day = world.dates[-1]
    stack = LocalStack(cfg.stack, runtime_dir=out, tied_to_this_process=True)
    console.print(Rule(f"3. replay {last_day} into Kafka (private broker on {stack.kafka_bootstrap})"))
    stack.up()
    try:
        with EventProducer(cfg.kafka, source="demo") as producer:
            started = time.perf_counter()
            sent = replay_world(world.path, producer, rate=None, dates=[last_day], progress=True)
        console.print(f"{sent:,} events on topic {cfg.kafka.events_topic} "
                      f"in {time.perf_counter() - started:.1f} s")

        console.print(Rule("4. stream processor: sessions, sequences, counters -> Feast online store"))
        prepare_stream(cfg, store := open_store(cfg.feature_store))
        processor = StreamProcessor.from_config(
            cfg, store=store, durations=load_track_durations(world.path / "catalog" / "tracks.parquet"))
        stats = processor.run(max_events=sent, max_idle_s=30, install_signal_handlers=False)
        console.print(f"{stats.records:,} records in {stats.batches} batches, "
                      f"{stats.users_pushed:,} user pushes, {stats.dead_lettered} dead-lettered")

        console.print(Rule("5. one listener's real-time features, read back online"))
        day = world.events(dates=[last_day], columns=["user_id", "action", "track_id"])
        listener = _busiest_regular_listener(world.truth("user_kinds"), day)
        features = FeatureClient.from_config(cfg.feature_store).user_features([listener])[listener]
        log = day[day["user_id"] == listener]
        log_counts = _log_counts(log)
        console.print(_features_table(listener, features, log, log_counts))
    finally:
        stack.down()
    online = {name: features[name] for name in _LOG_COUNTS}
    return sent, listener, online, log_counts, cfg


def _log_counts(log: pd.DataFrame) -> dict[str, int]:
    return {name: int((log["action"] == action).sum()) for name, action in _LOG_COUNTS.items()}


def _busiest_regular_listener(kinds: pd.DataFrame, day: pd.DataFrame) -> int:
    """``kinds``: the world's truth/user_kinds (the demo may peek at truth to pick a
    typical listener to show)."""
    regular = set(kinds.loc[kinds["kind"] == "regular", "user_id"])
    plays = day[(day["action"] == vocabulary.PLAY_START) & day["user_id"].isin(regular)]
    return int(plays["user_id"].value_counts().idxmax())


def _features_table(user_id: int, features: dict, log: pd.DataFrame,
                    log_counts: dict[str, int]) -> Table:
    table = Table(title=f"user {user_id}: Feast online store vs. the raw event log")
    table.add_column("feature")
    table.add_column("online", justify="right")
    table.add_column("from the log", justify="right")
    for feature, count in log_counts.items():
        table.add_row(feature, str(features[feature]), str(count))
    plays = log.loc[log["action"] == vocabulary.PLAY_START, "track_id"].tolist()
    table.add_row("recent_play_track_ids (last 5)",
                  str(list(features["recent_play_track_ids"] or [])[-5:]), str(plays[-5:]))
    table.add_row("session_id", str(features["session_id"]), "")
    return table

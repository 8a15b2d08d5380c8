"""The demo's serving end (``encore demo`` runs it after :func:`encore.platform.demo.run_demo`):

6. fit the baseline recall channels (popularity, trending, popularity at the hour,
   item-CF, session-kNN, profile) on every day of the world but the last, publish each to
   the demo's model registry as ``recall.<name>`` and promote it; then the ranker: the
   real Spark batch jobs run in-process on a small local session (``activity_stats`` for
   tracks -> ``item_stats``, then ``ranking_samples``) for the last ``RANK_DAYS`` days of
   the world only, and the baseline ranker is trained on them for ``RANK_EPOCHS`` epochs
   by :func:`encore.ranking.train.train_rank` (first days; the last one held out and
   evaluated), published and promoted as ``ranker``;
7. start the Recommender on a free port of 127.0.0.1 (the Pipeline reads the listener's
   real-time features from the Feast store the stream processor filled in step 4);
8. through the Python client: one listener's daily-recommend list (track, artist, genre,
   channels, repeat flag, reason), re-ranked by the ranker (``ranker:<version>``), and a
   private-radio continuation of an anonymous session from the last day's log.

Should the world be too small for the ranker (fewer than two days, or a day without
samples), the demo says so and serves lists in merged-score order. The item-CF graph
is computed by the ``item_graph`` rule in pandas (user-day co-listening, at most
``ITEM_GRAPH_MAX_ITEMS`` tracks per user-day) instead of the Spark job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry

ITEM_GRAPH_MAX_ITEMS = 50
#: Days of ranking_samples the demo builds (the world's last ones): the ranker trains
#: on all but the last and is evaluated on that one.
RANK_DAYS = 3
RANK_EPOCHS = 2
SPARK_PARTITIONS = 2


@dataclass(frozen=True)
class ServeDemoResult:
    listener: int
    daily: list  # client Recommended items
    radio_seed: list[int]
    radio: list
    channel_versions: dict[str, str]
    fit_seconds: float
    ranker_version: str | None = None
    model_version: str = ""  # what served the daily list: ranker:<version> or merged-score


def fit_and_publish_channels(config: EncoreConfig, world_dir: Path, until: date, registry: Registry,
                             window_days: int = 30) -> tuple[dict[str, str], float]:
    """Fit every enabled channel of ``config.recall`` on the days before ``until``,
    publish and promote each as ``<prefix><name>``; returns (name -> version, seconds)."""
    from encore.recall.queries import QueryParams
    from encore.recall.registry import fit_channels
    from encore.recall.tables import item_graph_frame, load_recall_tables
    from encore.recall.train import publish_channel

    t0 = time.perf_counter()
    first = min(p.name.split("=", 1)[1] for p in (Path(world_dir) / "events").glob("date=*"))
    window = min(window_days, (until - date.fromisoformat(first)).days)
    tables = load_recall_tables(world_dir, None, until=until, window_days=max(window, 1),
                                query_params=QueryParams.from_config(config), sampling=config.sampling)
    tables = replace(tables, item_graph=item_graph_frame(tables.events, max_items=ITEM_GRAPH_MAX_ITEMS))
    channels = fit_channels(config.recall, tables)
    data_window = {"fit": [(until - timedelta(days=window)).isoformat(), (until - timedelta(days=1)).isoformat()]}
    versions = {channel.name: publish_channel(channel, config, registry, data_window=data_window)
                for channel in channels}
    return versions, time.perf_counter() - t0


def build_ranking_samples(config: EncoreConfig, world_dir: Path, batch_dir: Path, days: list[date],
                          say: Callable[[str], None]) -> float:
    """Run the Spark jobs the ranker learns from, in-process on a small local session:
    ``activity_stats`` (track -> ``item_stats``) for the days before ``days``, then
    ``ranking_samples`` for ``days``, into ``batch_dir``; returns the seconds."""
    from pyspark.sql import SparkSession

    from encore.platform.batch.activity_stats import Entity
    from encore.platform.batch.job import Step, make_context
    from encore.platform.spark import spark_session, stop_spark

    t0 = time.perf_counter()
    events = world_dir / "events"
    present = {date.fromisoformat(p.name.split("=", 1)[1]) for p in events.glob("date=*")}
    stats_days = sorted({d - timedelta(days=1) for d in days} & present)
    owned = SparkSession.getActiveSession() is None
    spark_cfg = config.spark.model_copy(update={"shuffle_partitions": SPARK_PARTITIONS})
    spark = spark_session(spark_cfg, app_name="encore-demo-batch", runtime_dir=batch_dir.parent)
    say(f"local Spark session ({spark_cfg.master}, {SPARK_PARTITIONS} shuffle partitions) "
        f"started in {time.perf_counter() - t0:.1f} s")
    try:
        runs = [(Step("activity_stats", Entity.TRACK), stats_days), (Step("ranking_samples"), days)]
        for step, step_days in runs:
            if not step_days:
                say(f"batch {step.name}: no days to run (the first day of the world has no predecessor)")
                continue
            started = time.perf_counter()
            ctx = make_context(spark, events, batch_dir, config=config, world_dir=world_dir,
                               dates=[d.isoformat() for d in step_days])
            report = step.run(ctx)
            say(f"batch {step.name} {step_days[0]}..{step_days[-1]}: {report.rows_in:,} rows in, "
                f"{report.rows_out:,} rows out in {time.perf_counter() - started:.1f} s")
    finally:
        if owned:
            stop_spark()
    return time.perf_counter() - t0


def train_demo_ranker(config: EncoreConfig, world_dir: Path, registry: Registry, console: Console,
                      rank_days: int = RANK_DAYS, epochs: int = RANK_EPOCHS) -> str | None:
    """Build ranking_samples for the world's last ``rank_days`` days, train the baseline
    ranker on them (the last day held out), publish and promote it as
    ``pipeline.ranker_registry_name``; its version, or None (and a message) when the
    world is too small to train one."""
    import shutil

    from encore.ranking import inputs
    from encore.ranking.train import train_rank
    from encore.recall.evaluate import last_day

    say = console.print
    last = last_day(world_dir)
    first = min(date.fromisoformat(p.name.split("=", 1)[1]) for p in (world_dir / "events").glob("date=*"))
    days = [d for d in (last - timedelta(days=i) for i in range(rank_days - 1, -1, -1)) if d >= first]
    if len(days) < 2:
        say(f"no ranker: the world has {len(days)} day(s), the ranker needs two (train, evaluate); "
            "lists are in merged-score order")
        return None
    if (last - first).days + 1 > len(days):
        say(f"ranking_samples only for the last {len(days)} days ({days[0]}..{days[-1]}) to keep the demo short")
    batch_dir = world_dir.parent / "batch"
    shutil.rmtree(batch_dir, ignore_errors=True)
    build_ranking_samples(config, world_dir, batch_dir, days, say)
    rcfg = config.ranking.model_copy(update={"epochs": epochs, "eval_days": 1,
                                             "registry_name": config.pipeline.ranker_registry_name})
    t0 = time.perf_counter()
    try:
        report = train_rank(batch_dir, world_dir, rcfg, registry, model_name=rcfg.model, promote=True,
                            progress=lambda msg: say(f"ranker: {msg}"))
    except inputs.RankingInputError as err:
        say(f"no ranker: {err}; lists are in merged-score order")
        return None
    aucs = ", ".join(f"{h} AUC {r['model']['auc']:.3f} (popularity {r['reference']['auc']:.3f})"
                     for h, r in report["evaluation"]["heads"].items())
    say(f"trained {rcfg.model} ranker on {report['train_rows']:,} rows, evaluated on {report['eval_rows']:,} "
        f"({aucs}) in {time.perf_counter() - t0:.1f} s")
    return report["version"]


def _anonymous_session(world_dir: Path, day: date, n: int = 4) -> list[int]:
    from encore.recall.tables import read_events

    ev = read_events(world_dir, [day])
    plays = ev[(ev["action"] == "play_start")].sort_values(["ts_ms", "event_id"])
    anon = plays[plays["user_id"].isna()]
    counts = anon.groupby("session_id").size()
    pool = anon if len(counts) and counts.max() >= n else plays
    key = "session_id"
    longest = pool.groupby(key).size().idxmax()
    return pool.loc[pool[key] == longest, "track_id"].astype(np.int64).head(n).tolist()


def _items_table(title: str, items, tracks: pd.DataFrame) -> Table:
    meta = tracks.set_index("track_id")
    table = Table(title=title)
    for col, justify in (("#", "right"), ("track", "right"), ("artist", "right"), ("genre", "left"),
                         ("channels", "left"), ("repeat", "center"), ("reason", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for rank, item in enumerate(items, 1):
        row = meta.loc[item.track_id] if item.track_id in meta.index else None
        table.add_row(str(rank), str(item.track_id), "?" if row is None else str(int(row["artist_id"])),
                      "?" if row is None else str(row["genre"]), ",".join(item.channels),
                      "yes" if item.is_repeat else "", item.explanation)
    return table


def serve_demo(config: EncoreConfig, world_dir: Path, listener: int, console: Console | None = None,
               count: int = 15) -> ServeDemoResult:
    """Steps 6-8 (see the module docstring) on the private ``config`` of the demo."""
    from encore.recall.evaluate import last_day
    from encore.serving.app import build_pipeline
    from encore.serving.client import RecommenderClient
    from encore.serving.grpc_server import start_server
    from encore.serving.recommender_service import recommender_service

    console = console or Console()
    world_dir = Path(world_dir)
    day = last_day(world_dir)
    registry = Registry(config.registry.root)
    console.print(Rule(f"6. fit the baseline recall channels on the days before {day}; publish and promote"))
    versions, fit_seconds = fit_and_publish_channels(config, world_dir, day, registry)
    console.print(f"fitted and published {', '.join(f'recall.{n} {v}' for n, v in versions.items())} "
                  f"in {fit_seconds:.1f} s -> {registry.root}")
    console.print(Rule("6b. the ranker: Spark item_stats and ranking_samples, then the baseline ranker"))
    started = time.perf_counter()
    ranker_version = train_demo_ranker(config, world_dir, registry, console)
    if ranker_version is not None:
        console.print(f"{config.pipeline.ranker_registry_name} {ranker_version} published and promoted "
                      f"(step 6b: {time.perf_counter() - started:.1f} s)")

    console.print(Rule("7. the Recommender on 127.0.0.1 (models from the registry, features from Feast)"))
    now = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    pipeline = build_pipeline(config, world=world_dir, now=now, poll=False)
    server, port = start_server(recommender_service(pipeline), host="127.0.0.1", port=0,
                                max_workers=config.serving.max_workers)
    console.print(f"encore.v1.Recommender listening on 127.0.0.1:{port} (serving as of {now:%Y-%m-%d %H:%M} UTC)")
    tracks = pd.read_parquet(world_dir / "catalog" / "tracks.parquet", columns=["track_id", "artist_id", "genre"])
    try:
        with RecommenderClient(f"127.0.0.1:{port}", timeout_s=30) as client:
            client.wait_ready()
            console.print(Rule(f"8. DailyRecommend for listener {listener} and private radio for an anonymous session"))
            daily = client.daily_recommend(user_id=listener, count=count)
            console.print(_items_table(
                f"daily recommend, user {listener} ({daily.model_version}; degraded: "
                f"{', '.join(daily.degraded_channels) or 'none'})", daily.items, tracks))
            seed = _anonymous_session(world_dir, day)
            radio = client.next_track(seed, anonymous_id="demo-device", session_id="demo-session", count=8)
            console.print(_items_table(f"private radio after {seed} (anonymous; degraded: "
                                       f"{', '.join(radio.degraded_channels) or 'none'})", radio.items, tracks))
    finally:
        server.stop(1).wait()
        pipeline.close()
    return ServeDemoResult(listener, daily.items, seed, radio.items, versions, fit_seconds,
                           ranker_version=ranker_version, model_version=daily.model_version)

"""The demo's serving end (``encore demo`` runs it after :func:`encore.platform.demo.run_demo`):

6. fit the baseline recall channels (popularity, trending, popularity at the hour,
   item-CF, session-kNN, profile) on every day of the world but the last, publish each to
   the demo's model registry as ``recall.<name>`` and promote it;
7. start the Recommender on a free port of 127.0.0.1 (the Pipeline reads the listener's
   real-time features from the Feast store the stream processor filled in step 4);
8. through the Python client: one listener's daily-recommend list (track, artist, genre,
   channels, repeat flag, reason) and a private-radio continuation of an anonymous
   session from the last day's log.

No ranker is trained here: it learns from the ``ranking_samples`` Spark table, which the
demo does not build, so the lists are in merged-score order (``encore train rank``
publishes a ranker and a running server swaps it in). The item-CF graph is computed by
the ``item_graph`` rule in pandas (user-day co-listening, at most
``ITEM_GRAPH_MAX_ITEMS`` tracks per user-day) instead of the Spark job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry

ITEM_GRAPH_MAX_ITEMS = 50


@dataclass(frozen=True)
class ServeDemoResult:
    listener: int
    daily: list  # client Recommended items
    radio_seed: list[int]
    radio: list
    channel_versions: dict[str, str]
    fit_seconds: float


def fit_and_publish_channels(config: EncoreConfig, world_dir: Path, until: date, registry: Registry,
                             window_days: int = 30) -> tuple[dict[str, str], float]:
    """Fit every enabled channel of ``config.recall`` on the days before ``until``,
    publish and promote each as ``<prefix><name>``; returns (name -> version, seconds)."""
    import tempfile

    from encore.recall.registry import fit_channels
    from encore.recall.tables import item_graph_frame, load_recall_tables

    t0 = time.perf_counter()
    first = min(p.name.split("=", 1)[1] for p in (Path(world_dir) / "events").glob("date=*"))
    window = min(window_days, (until - date.fromisoformat(first)).days)
    tables = load_recall_tables(world_dir, None, until=until, window_days=max(window, 1))
    tables = replace(tables, item_graph=item_graph_frame(tables.events, max_items=ITEM_GRAPH_MAX_ITEMS))
    channels = fit_channels(config.recall, tables)
    versions = {}
    with tempfile.TemporaryDirectory(prefix="encore-channels-") as tmp:
        for channel in channels:
            name = config.pipeline.channel_registry_prefix + channel.name
            version = registry.publish(name, channel.save(Path(tmp) / channel.name), kind=f"recall/{channel.kind}",
                                       data_window={"train": [(until - timedelta(days=window)).isoformat(),
                                                              (until - timedelta(days=1)).isoformat()]})
            registry.promote(name, version)
            versions[channel.name] = version
    return versions, time.perf_counter() - t0


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
    console.print("no ranker: it trains on the ranking_samples Spark table, which the demo does not build, so "
                  "lists are in merged-score order (`encore train rank` publishes one; a server swaps it in)")

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
    return ServeDemoResult(listener, daily.items, seed, radio.items, versions, fit_seconds)

"""``train_all``: fit and publish every model the serving Pipeline loads (``encore train all``).

For a world and its batch tables, with the last ``evaluation.test_days`` days held out
(the first held-out day is ``test_day``):

1. every enabled recall channel (``recall.channels``) is fitted on the
   ``evaluation.fit_window_days`` days before ``test_day`` (and the item graph of the day
   before it) through :func:`encore.recall.registry.build_channel`, saved, and published
   to the model registry as ``recall.<channel name>`` (``pipeline.channel_registry_prefix``;
   kind ``recall/<channel kind>``, data window, fingerprint of the event and item-graph files it read). The artifact is
   fitted with ``k = max(channel k, max(evaluation.recall_ks))`` so offline evaluation
   can measure recall@K at every cut-off; the serving Pipeline asks it for the
   configured ``k``.
2. the ranker (``ranking.model``) is trained on ranking_samples of the days before the
   held-out ones and evaluated on them (:func:`encore.ranking.train.train_rank`, with
   ``eval_days = evaluation.test_days``), published as ``pipeline.ranker_registry_name``
   (``ranker``): the names ``Pipeline.from_config`` loads.

With ``promote`` every published version is promoted, so a server started afterwards
loads exactly these. Returns a JSON-able summary (versions, fit seconds, data windows,
the ranker's evaluation).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry, data_fingerprint

def channel_registry_name(config: EncoreConfig, channel_name: str) -> str:
    """``<pipeline.channel_registry_prefix><channel name>`` (``recall.<name>``): what
    ``Pipeline.from_config`` loads."""
    return f"{config.pipeline.channel_registry_prefix}{channel_name}"


def publish_channel(channel: Any, config: EncoreConfig, registry: Registry, *,
                    data_window: dict[str, Any], data_fingerprint: str = "", promote: bool = True,
                    extra: dict[str, Any] | None = None) -> str:
    """Save a fitted channel, publish it as ``channel_registry_name`` (and promote it);
    returns the version. The one way every trainer hands a channel to the server."""
    name = channel_registry_name(config, channel.name)
    with tempfile.TemporaryDirectory(prefix="encore-channel-") as tmp:
        folder = channel.save(Path(tmp) / "artifact")
        version = registry.publish(name, folder, kind=f"recall/{channel.kind}", data_window=data_window,
                                   data_fingerprint=data_fingerprint, metrics={}, extra=extra or {})
    if promote:
        registry.promote(name, version)
    return version


def held_out_days(world_dir: Path | str, test_days: int) -> list[date]:
    """The last ``test_days`` days of the world's event log."""
    from encore.recall.evaluate import last_day

    last = last_day(world_dir)
    return [last - timedelta(days=i) for i in range(test_days - 1, -1, -1)]


def _fit_files(world_dir: Path, batch_dir: Path, until: date, window_days: int) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for i in range(window_days, 0, -1):
        folder = world_dir / "events" / f"date={(until - timedelta(days=i)).isoformat()}"
        files.update({f"events/{folder.name}/{p.name}": p for p in sorted(folder.glob("*.parquet"))})
    graph = batch_dir / "item_graph" / f"date={(until - timedelta(days=1)).isoformat()}"
    files.update({f"item_graph/{graph.name}/{p.name}": p for p in sorted(graph.glob("*.parquet"))})
    return files


def train_all(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, registry: Registry, *,
              promote: bool = True, say: Callable[[str], None] | None = None,
              step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit, publish (and promote) every recall channel and the ranker; see the module
    docstring. ``say`` gets log lines, ``step`` the name of each finished step (for a
    progress bar over ``len(config.recall.enabled) + 1`` steps)."""
    from encore.ranking.train import train_rank
    from encore.recall.registry import build_channel
    from encore.recall.tables import load_recall_tables

    say = say or (lambda msg: None)
    step = step or (lambda name: None)
    world_dir, batch_dir = Path(world_dir), Path(batch_dir)
    ev = config.evaluation
    days = held_out_days(world_dir, ev.test_days)
    test_day = days[0]
    t0 = time.perf_counter()
    tables = load_recall_tables(world_dir, batch_dir, until=test_day, window_days=ev.fit_window_days)
    window = {"fit": [(test_day - timedelta(days=ev.fit_window_days)).isoformat(),
                      (test_day - timedelta(days=1)).isoformat()],
              "held_out": [d.isoformat() for d in days]}
    fingerprint = data_fingerprint(_fit_files(world_dir, batch_dir, test_day, ev.fit_window_days))
    say(f"read {len(tables.events):,} events before {test_day} in {time.perf_counter() - t0:.1f}s")
    k_eval = max(ev.recall_ks)
    channels: dict[str, Any] = {}
    for channel_config in config.recall.enabled:
        fit_config = channel_config.model_copy(update={"k": max(channel_config.k, k_eval)})
        started = time.perf_counter()
        channel = build_channel(fit_config).fit(tables)
        fit_s = time.perf_counter() - started
        name = channel_registry_name(config, channel_config.name)
        version = publish_channel(channel, config, registry, data_window=window, data_fingerprint=fingerprint,
                                  promote=promote, extra={"fit_seconds": round(fit_s, 2), "k": fit_config.k})
        channels[channel_config.name] = {"registry_name": name, "version": version, "kind": channel_config.kind,
                                         "k": fit_config.k, "fit_seconds": round(fit_s, 2), "promoted": promote}
        say(f"{name} {version}: fitted in {fit_s:.1f}s{' and promoted' if promote else ''}")
        step(name)
    rcfg = config.ranking.model_copy(update={"eval_days": ev.test_days,
                                             "registry_name": config.pipeline.ranker_registry_name})
    from encore.recall.queries import QueryParams
    from encore.serving.behaviours import log_behaviours

    ranker = train_rank(batch_dir, world_dir, rcfg, registry, model_name=rcfg.model, promote=promote,
                        progress=say, behaviours=log_behaviours(world_dir, QueryParams.from_config(config)),
                        session_rule=(config.sessions.max_session_ms, config.sessions.inactivity_gap_ms))
    step(rcfg.registry_name)
    return {
        "world": str(world_dir), "batch": str(batch_dir), "registry": str(registry.root),
        "data_window": window, "channels": channels,
        "ranker": {"registry_name": rcfg.registry_name, "version": ranker["version"],
                   "promoted": ranker["promoted"], "data_window": ranker["data_window"],
                   "train_rows": ranker["train_rows"], "eval_rows": ranker["eval_rows"],
                   "training_seconds": ranker["training"]["seconds"],
                   "evaluation": ranker["evaluation"]},
        "seconds": round(time.perf_counter() - t0, 1),
    }

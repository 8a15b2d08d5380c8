"""Train recall channels into the model registry: ``train_channel`` (``encore train
recall --channel``, and every channel of ``encore train all``) and ``publish_channel``,
the one way a fitted channel reaches the server.

A channel fitted for the held-out protocol (:mod:`encore.recall.evaluate`) sees the
``window_days`` days before ``test_day`` and the item graph of the day before it; it is
fitted with ``k = max(channel k, k_eval)`` so offline evaluation can measure recall at
every cut-off (the serving Pipeline asks it for its configured ``k``), saved, published
as ``<pipeline.channel_registry_prefix><name>`` (kind ``recall/<kind>``, the data window,
a fingerprint of the files read) and optionally promoted.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from encore.platform.config import ChannelConfig, EncoreConfig
from encore.platform.registry import Registry


def channel_registry_name(config: EncoreConfig, channel_name: str) -> str:
    """``<pipeline.channel_registry_prefix><channel name>`` (``recall.<name>``): what
    ``Pipeline.from_config`` loads."""
    return f"{config.pipeline.channel_registry_prefix}{channel_name}"


def publish_channel(channel: Any, config: EncoreConfig, registry: Registry, *,
                    data_window: dict[str, Any], data_fingerprint: str = "", promote: bool = True,
                    extra: dict[str, Any] | None = None) -> str:
    """Save a fitted channel, publish it as ``channel_registry_name`` (and promote it);
    returns the version."""
    name = channel_registry_name(config, channel.name)
    with tempfile.TemporaryDirectory(prefix="encore-channel-") as tmp:
        folder = channel.save(Path(tmp) / "artifact")
        version = registry.publish(name, folder, kind=f"recall/{channel.kind}", data_window=data_window,
                                   data_fingerprint=data_fingerprint, metrics={}, extra=extra or {})
    if promote:
        registry.promote(name, version)
    return version


def fit_files(world_dir: Path, batch_dir: Path | None, until: date, window_days: int) -> dict[str, Path]:
    """The event partitions of the window and the item graph read by a fit: what the
    registry's data fingerprint covers."""
    files: dict[str, Path] = {}
    for i in range(window_days, 0, -1):
        folder = world_dir / "events" / f"date={(until - timedelta(days=i)).isoformat()}"
        files.update({f"events/{folder.name}/{p.name}": p for p in sorted(folder.glob("*.parquet"))})
    if batch_dir is not None:
        graph = batch_dir / "item_graph" / f"date={(until - timedelta(days=1)).isoformat()}"
        files.update({f"item_graph/{graph.name}/{p.name}": p for p in sorted(graph.glob("*.parquet"))})
    return files


def train_channel(channel_config: ChannelConfig, tables: Any, config: EncoreConfig, registry: Registry, *,
                  data_window: dict[str, Any], data_fingerprint: str, k_eval: int,
                  promote: bool = True) -> dict[str, Any]:
    """Fit ``channel_config`` on ``tables``, publish (and promote) it; returns its
    summary (registry name, version, k, fit seconds, what the fit reported)."""
    from encore.recall.registry import build_channel

    fit_config = channel_config.model_copy(update={"k": max(channel_config.k, k_eval)})
    started = time.perf_counter()
    channel = build_channel(fit_config).fit(tables)
    fit_s = round(time.perf_counter() - started, 2)
    training = getattr(channel, "training", None) or {}
    version = publish_channel(channel, config, registry, data_window=data_window, data_fingerprint=data_fingerprint,
                              promote=promote, extra={"fit_seconds": fit_s, "k": fit_config.k, "training": training})
    return {"registry_name": channel_registry_name(config, channel_config.name), "version": version,
            "kind": channel_config.kind, "k": fit_config.k, "fit_seconds": fit_s, "promoted": promote,
            **({"training": training} if training else {})}

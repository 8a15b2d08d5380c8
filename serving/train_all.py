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

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from encore.platform.config import EncoreConfig
from encore.platform.registry import Registry, data_fingerprint


def held_out_days(world_dir: Path | str, test_days: int) -> list[date]:
    """The last ``test_days`` days of the world's event log."""
    from encore.recall.evaluate import last_day

    last = last_day(world_dir)
    return [last - timedelta(days=i) for i in range(test_days - 1, -1, -1)]


def train_all(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, registry: Registry, *,
              promote: bool = True, say: Callable[[str], None] | None = None,
              step: Callable[[str], None] | None = None, train_ranker: bool = True) -> dict[str, Any]:
    """Fit, publish (and promote) every recall channel and (unless ``train_ranker`` is
    False) the ranker; see the module docstring. ``say`` gets log lines, ``step`` the name of each finished step (for a
    progress bar over ``len(config.recall.enabled) + 1`` steps)."""
    from encore.ranking.train import train_rank
    from encore.recall.queries import QueryParams
    from encore.recall.tables import load_recall_tables
    from encore.recall.train import fit_files, train_channel
    from encore.serving.behaviours import log_behaviours

    say = say or (lambda msg: None)
    step = step or (lambda name: None)
    world_dir, batch_dir = Path(world_dir), Path(batch_dir)
    ev = config.evaluation
    days = held_out_days(world_dir, ev.test_days)
    test_day = days[0]
    t0 = time.perf_counter()
    tables = load_recall_tables(world_dir, batch_dir, until=test_day, window_days=ev.fit_window_days,
                                query_params=QueryParams.from_config(config), sampling=config.sampling)
    window = {"fit": [(test_day - timedelta(days=ev.fit_window_days)).isoformat(),
                      (test_day - timedelta(days=1)).isoformat()],
              "held_out": [d.isoformat() for d in days]}
    fingerprint = data_fingerprint(fit_files(world_dir, batch_dir, test_day, ev.fit_window_days))
    say(f"read {len(tables.events):,} events before {test_day} in {time.perf_counter() - t0:.1f}s")
    k_eval = max(ev.recall_ks)
    channels: dict[str, Any] = {}
    for channel_config in config.recall.enabled:
        summary = train_channel(channel_config, tables, config, registry, data_window=window,
                                data_fingerprint=fingerprint, k_eval=k_eval, promote=promote)
        channels[channel_config.name] = summary
        say(f"{summary['registry_name']} {summary['version']}: fitted in {summary['fit_seconds']:.1f}s"
            f"{' and promoted' if promote else ''}")
        step(summary["registry_name"])
    out: dict[str, Any] = {"world": str(world_dir), "batch": str(batch_dir), "registry": str(registry.root),
               "data_window": window, "channels": channels}
    if not train_ranker:
        return out | {"ranker": None, "seconds": round(time.perf_counter() - t0, 1)}
    rcfg = config.ranking.model_copy(update={"eval_days": ev.test_days,
                                             "registry_name": config.pipeline.ranker_registry_name})
    ranker = train_rank(batch_dir, world_dir, rcfg, registry, model_name=rcfg.model, promote=promote,
                        progress=say, behaviours=log_behaviours(world_dir, QueryParams.from_config(config)),
                        session_rule=(config.sessions.max_session_ms, config.sessions.inactivity_gap_ms))
    step(rcfg.registry_name)
    return out | {
        "ranker": {"registry_name": rcfg.registry_name, "version": ranker["version"],
                   "promoted": ranker["promoted"], "data_window": ranker["data_window"],
                   "train_rows": ranker["train_rows"], "eval_rows": ranker["eval_rows"],
                   "training_seconds": ranker["training"]["seconds"],
                   "evaluation": ranker["evaluation"]},
        "seconds": round(time.perf_counter() - t0, 1),
    }

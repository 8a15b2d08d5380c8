"""`encore eval recall` and `encore train recall`.

``eval recall``: fit the configured recall channels (or load their promoted versions
from the registry) on the days before a held-out day and print (rich) and write (JSON)
their recall@K on it (encore.recall.evaluate). ``train recall --channel NAME``: fit the
named channels on the days before the held-out day and publish them to the registry
(encore.recall.train), printing the training summary (samples, epochs, wall time)."""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)
log = logging.getLogger("encore.recall")


def _log_to_stderr() -> None:
    """Show the trainers' progress lines (epochs, rate, ETA)."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")


def _channel_configs(config, names: Optional[list[str]]):
    """The configured channels called ``names`` (disabled ones too), or every enabled one."""
    if not names:
        return list(config.recall.enabled)
    by_name = {c.name: c for c in config.recall.channels}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        typer.echo(f"error: --channel: unknown channel(s) {', '.join(unknown)}; configured: "
                   f"{', '.join(sorted(by_name))}", err=True)
        raise typer.Exit(code=2)
    return [by_name[n] for n in names]


@app.command("recall")
def eval_recall(
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Optional[Path] = typer.Option(None, "--batch", help="Batch output root (item_graph, sessions)."),
    test_day: Optional[str] = typer.Option(None, "--test-day", help="Held-out YYYY-MM-DD (default: the last day)."),
    window_days: int = typer.Option(30, help="Days before the test day to fit on."),
    ks: str = typer.Option("50,200,500", help="Comma-separated cut-offs K."),
    max_queries: Optional[int] = typer.Option(None, help="Evaluate a seeded sample of this many listeners."),
    channel: Optional[list[str]] = typer.Option(None, "--channel", help="Channel name (repeatable; default: "
                                                "every enabled channel)."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Load the promoted recall.<channel> "
                                            "versions from this registry instead of fitting them."),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON file (default BATCH/eval/recall-<day>.json, "
                                       "or ./recall-<day>.json without --batch)."),
) -> None:
    """Recall@K of recall channels on the held-out day's completed plays."""
    from rich.console import Console
    from rich.table import Table

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.registry import RegistryError
    from encore.recall.channel import ChannelArtifactError
    from encore.recall.evaluate import evaluate_channels, holdout_day, last_day
    from encore.recall.queries import QueryParams
    from encore.recall.registry import build_channel

    _log_to_stderr()
    config = default_config()
    configs = _channel_configs(config, channel)
    day = date.fromisoformat(test_day) if test_day else last_day(world)
    cutoffs = tuple(int(k) for k in ks.split(","))
    started = time.perf_counter()
    holdout = holdout_day(world, batch, day, params=QueryParams.from_config(config), sampling=config.sampling,
                          window_days=window_days, max_queries=max_queries)
    prepared_s = time.perf_counter() - started
    channels, fit_s, skipped, versions = [], {}, {}, {}
    for channel_config in configs:
        t0 = time.perf_counter()
        try:
            if registry is not None:
                loaded = _load_promoted(registry, config, channel_config.name, day)
                channels.append(loaded.model)
                versions[channel_config.name] = loaded.version
            else:
                # ask every channel for the largest cut-off, whatever its serving k
                fit_config = channel_config.model_copy(update={"k": max(channel_config.k, max(cutoffs))})
                channels.append(build_channel(fit_config).fit(holdout.tables))
        except (ChannelArtifactError, RegistryError) as err:
            skipped[channel_config.name] = str(err)
            typer.echo(f"skipping {channel_config.name}: {err}", err=True)
            continue
        fit_s[channel_config.name] = time.perf_counter() - t0
    if not channels:
        typer.echo("error: eval recall: no channel to evaluate (every one was skipped, see above)", err=True)
        raise typer.Exit(code=1)
    results = evaluate_channels(channels, holdout.queries, holdout.truth, cutoffs, new_truth=holdout.new_truth)
    table = Table(title=f"recall on {day} ({len(holdout.queries)} listeners)")
    table.add_column("channel")
    for k in cutoffs:
        table.add_column(f"recall@{k}", justify="right")
    for k in cutoffs:
        table.add_column(f"new@{k}", justify="right")
    table.add_column("load s" if registry else "fit s", justify="right")
    table.add_column("ms/query", justify="right")
    for name, row in results.items():
        table.add_row(name, *[f"{row[f'recall@{k}']:.3f}" for k in cutoffs],
                      *[f"{row[f'new_recall@{k}']:.3f}" for k in cutoffs],
                      f"{fit_s[name]:.1f}", f"{row['ms_per_query']:.2f}")
    Console(width=160).print(table)
    report = {
        "test_day": day.isoformat(), "world": str(world), "batch": str(batch) if batch else None,
        "window_days": window_days, "listeners": len(holdout.queries),
        "fit_events": int(len(holdout.tables.events)), "prepare_seconds": prepared_s,
        ("load_seconds" if registry else "fit_seconds"): fit_s, "skipped": skipped, "channels": results,
        "registry": str(registry) if registry else None, "versions": versions,
        "training": {c.name: c.training for c in channels if getattr(c, "training", None)},
        "config": [c.model_dump(mode="json") for c in configs], "machine": machine_info(),
    }
    target = out or ((batch / "eval" if batch else Path(".")) / f"recall-{day.isoformat()}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {target}")


def _load_promoted(root: Path, config, name: str, day: date):
    """The promoted ``recall.<name>``; refuses one fitted on data that reaches ``day``."""
    from encore.platform.registry import Registry, RegistryError
    from encore.recall.registry import load_channel
    from encore.recall.train import channel_registry_name

    registry = Registry(root)
    loaded = registry.load_promoted(channel_registry_name(config, name), load_channel)
    fit = (loaded.manifest.data_window or {}).get("fit")
    if fit and date.fromisoformat(fit[-1]) >= day:
        raise RegistryError(f"{loaded.name} {loaded.version} was fitted on data up to {fit[-1]}, "
                            f"not before the held-out day {day}")
    return loaded


def train_recall_command(
    channel: list[str] = typer.Option(..., "--channel", help="Configured channel name (repeatable)."),
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Optional[Path] = typer.Option(None, "--batch", help="Batch output root (item_graph, sessions, "
                                         "recall_samples)."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default registry.root)."),
    test_day: Optional[str] = typer.Option(None, "--test-day", help="First held-out YYYY-MM-DD (default: the "
                                           "first of the last evaluation.test_days days)."),
    window_days: Optional[int] = typer.Option(None, help="Days before the test day to fit on (default "
                                              "evaluation.fit_window_days)."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Promote the published versions."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the JSON summary to this file."),
) -> None:
    """Fit the named recall channels on the days before the held-out day and publish
    them as recall.<channel> (progress: one line per training epoch with rate and ETA)."""
    from datetime import timedelta

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.registry import Registry, data_fingerprint
    from encore.recall.channel import ChannelArtifactError
    from encore.recall.evaluate import last_day
    from encore.recall.queries import QueryParams
    from encore.recall.tables import load_recall_tables
    from encore.recall.train import fit_files, train_channel

    _log_to_stderr()
    config = default_config()
    configs = _channel_configs(config, channel)
    ev = config.evaluation
    day = (date.fromisoformat(test_day) if test_day
           else last_day(world) - timedelta(days=ev.test_days - 1))
    window = window_days or ev.fit_window_days
    reg = Registry(registry if registry is not None else config.registry.root)
    started = time.perf_counter()
    tables = load_recall_tables(world, batch, until=day, window_days=window,
                                query_params=QueryParams.from_config(config), sampling=config.sampling)
    log.info("read %d events before %s (%.1fs)", len(tables.events), day, time.perf_counter() - started)
    data_window = {"fit": [(day - timedelta(days=window)).isoformat(), (day - timedelta(days=1)).isoformat()],
                   "held_out": [day.isoformat()]}
    fingerprint = data_fingerprint(fit_files(Path(world), batch, day, window))
    out: dict = {"world": str(world), "batch": str(batch) if batch else None, "registry": str(reg.root),
                 "data_window": data_window, "channels": {}}
    for channel_config in configs:
        try:
            summary = train_channel(channel_config, tables, config, reg, data_window=data_window,
                                    data_fingerprint=fingerprint, k_eval=max(ev.recall_ks), promote=promote)
        except (ChannelArtifactError, ValueError) as err:
            typer.echo(f"error: train recall --channel {channel_config.name}: {err}", err=True)
            raise typer.Exit(code=1) from err
        out["channels"][channel_config.name] = summary
        training = summary.get("training", {})
        typer.echo(f"{summary['registry_name']} {summary['version']}: fitted in {summary['fit_seconds']:.1f}s"
                   + (f" ({training['samples']:,} samples, {training['epochs']} epochs, training "
                      f"{training['seconds']:.1f}s on CPU)" if "epochs" in training else "")
                   + (" and promoted" if promote else ""))
    out["machine"] = machine_info()
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n")
        typer.echo(f"wrote {report}")

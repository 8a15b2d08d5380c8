"""`encore eval recall`: fit the configured recall channels on the days before a held-out
day and print (rich) and write (JSON) their recall@K on it (encore.recall.evaluate)."""

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


@app.command("recall")
def eval_recall(
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Optional[Path] = typer.Option(None, "--batch", help="Batch output root (item_graph, sessions)."),
    test_day: Optional[str] = typer.Option(None, "--test-day", help="Held-out YYYY-MM-DD (default: the last day)."),
    window_days: int = typer.Option(30, help="Days before the test day to fit on."),
    ks: str = typer.Option("50,200,500", help="Comma-separated cut-offs K."),
    max_queries: Optional[int] = typer.Option(None, help="Evaluate a seeded sample of this many listeners."),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON file (default BATCH/eval/recall-<day>.json, "
                                       "or ./recall-<day>.json without --batch)."),
) -> None:
    """Recall@K of every enabled recall channel on the held-out day's completed plays."""
    from rich.console import Console
    from rich.table import Table

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.recall.channel import ChannelArtifactError
    from encore.recall.evaluate import evaluate_channels, holdout_day, last_day
    from encore.recall.queries import QueryParams
    from encore.recall.registry import build_channel

    config = default_config()
    day = date.fromisoformat(test_day) if test_day else last_day(world)
    cutoffs = tuple(int(k) for k in ks.split(","))
    started = time.perf_counter()
    holdout = holdout_day(world, batch, day, params=QueryParams.from_config(config), sampling=config.sampling,
                          window_days=window_days, max_queries=max_queries)
    prepared_s = time.perf_counter() - started
    channels, fit_s, skipped = [], {}, {}
    for channel_config in config.recall.enabled:
        # ask every channel for the largest cut-off, whatever its serving k
        channel_config = channel_config.model_copy(update={"k": max(channel_config.k, max(cutoffs))})
        t0 = time.perf_counter()
        try:
            channels.append(build_channel(channel_config).fit(holdout.tables))
        except ChannelArtifactError as err:
            skipped[channel_config.name] = str(err)
            typer.echo(f"skipping {channel_config.name}: {err}", err=True)
            continue
        fit_s[channel_config.name] = time.perf_counter() - t0
    results = evaluate_channels(channels, holdout.queries, holdout.truth, cutoffs, new_truth=holdout.new_truth)
    table = Table(title=f"recall on {day} ({len(holdout.queries)} listeners)")
    table.add_column("channel")
    for k in cutoffs:
        table.add_column(f"recall@{k}", justify="right")
    for k in cutoffs:
        table.add_column(f"new@{k}", justify="right")
    table.add_column("fit s", justify="right")
    table.add_column("ms/query", justify="right")
    for name, row in results.items():
        table.add_row(name, *[f"{row[f'recall@{k}']:.3f}" for k in cutoffs],
                      *[f"{row[f'new_recall@{k}']:.3f}" for k in cutoffs],
                      f"{fit_s[name]:.1f}", f"{row['ms_per_query']:.2f}")
    Console().print(table)
    report = {
        "test_day": day.isoformat(), "world": str(world), "batch": str(batch) if batch else None,
        "window_days": window_days, "listeners": len(holdout.queries),
        "fit_events": int(len(holdout.tables.events)), "prepare_seconds": prepared_s,
        "fit_seconds": fit_s, "skipped": skipped, "channels": results,
        "config": [c.model_dump(mode="json") for c in config.recall.enabled], "machine": machine_info(),
    }
    target = out or ((batch / "eval" if batch else Path(".")) / f"recall-{day.isoformat()}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {target}")

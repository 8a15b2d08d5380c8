"""`encore train all` and `encore eval pipeline`: fit and publish every model the serving
Pipeline loads (encore.serving.train_all), then evaluate the Pipeline end to end on the
held-out days against popularity alone (encore.serving.evaluate).

Both show rich progress, print a summary table and write JSON (``--report``; for
``eval pipeline`` by default docs/benchmarks/pipeline_eval.json, with the machine, the
data size and the library versions). TensorFlow is imported inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

WorldOpt = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder.")
BatchOpt = typer.Option(..., "--batch", exists=True, file_okay=False,
                        help="Batch output root (item_graph, sessions, ranking_samples).")
RootOpt = typer.Option(None, "--registry", help="Registry root (default registry.root).")


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _config(test_days: Optional[int], max_listeners: Optional[int], epochs: Optional[int] = None):
    from encore.platform.config import default_config

    cfg = default_config()
    ev = cfg.evaluation.model_copy(update={k: v for k, v in
                                           {"test_days": test_days, "max_listeners": max_listeners}.items()
                                           if v is not None})
    ranking = cfg.ranking.model_copy(update={"epochs": epochs}) if epochs else cfg.ranking
    return cfg.model_copy(update={"evaluation": ev, "ranking": ranking})


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))


def _write(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    _say(f"wrote {path}")


def train_all_command(
    world: Path = WorldOpt,
    batch: Path = BatchOpt,
    registry: Optional[Path] = RootOpt,
    test_days: Optional[int] = typer.Option(None, "--test-days", help="Override evaluation.test_days."),
    epochs: Optional[int] = typer.Option(None, help="Override ranking.epochs."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Promote every published version."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the JSON summary to this file."),
) -> None:
    """Fit every enabled recall channel and the ranker on the days before the held-out
    ones, publish them as recall.<channel> and ranker, promote them."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.registry import Registry
    from encore.ranking.inputs import RankingInputError
    from encore.serving.train_all import train_all

    cfg = _config(test_days, None, epochs)
    reg = Registry(registry if registry is not None else cfg.registry.root)
    with _progress() as bar:
        task = bar.add_task("training", total=len(cfg.recall.enabled) + 1)
        try:
            out = train_all(world, batch, cfg, reg, promote=promote, say=_say,
                            step=lambda name: bar.update(task, advance=1, description=f"trained {name}"))
        except (RankingInputError, FileNotFoundError, ValueError) as err:
            typer.echo(f"error: train all: {err}", err=True)
            raise typer.Exit(code=1) from err
    out["machine"] = machine_info()
    text = json.dumps(out, indent=2, sort_keys=True, default=str)
    if report is not None:
        _write(out, report)
    typer.echo(text)


def _table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, width=140)
    ev = report["config"]
    recall = Table(title=f"recall on {', '.join(report['held_out_days'])} ({report['data']['listeners']} listeners)")
    recall.add_column("channel")
    for k in ev["recall_ks"]:
        recall.add_column(f"recall@{k}", justify="right")
    for name, row in report["channels"].items():
        recall.add_row(name, *[f"{row[f'recall@{k}']:.3f}" for k in ev["recall_ks"]])
    console.print(recall)
    lists = Table(title="final lists: pipeline vs popularity alone (reward = world's expected complete plays)")
    cols = [f"{m}@{k}" for k in ev["list_ks"] for m in ("hr", "ndcg", "coverage")] + ["repeat_share"]
    lists.add_column("list")
    for col in cols + ["reward", f"{int(ev['confidence'] * 100)}% CI"]:
        lists.add_column(col, justify="right")
    for name, row in report["lists"].items():
        r = row["reward"]
        lists.add_row(name, *[f"{row[c]:.3f}" for c in cols], f"{r['mean']:.3f}",
                      f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
    console.print(lists)
    d = report["comparison"]["reward_pipeline_minus_popularity"]
    console.print(f"reward pipeline - popularity: {d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
                  f" -> beats baseline: {report['comparison']['beats_baseline']}")
    o = report["comparison"]["oracle"]
    if o.get("listeners"):
        console.print(f"oracle list on {o['listeners']} listeners: {o['oracle']:.3f} "
                      f"(pipeline {o['pipeline']:.3f}, popularity {o['popularity']:.3f})")
    heads = Table(title="ranker vs popularity order (held-out ranking_samples)")
    for col in ("head", "AUC", "ref AUC", "GAUC", "ref GAUC"):
        heads.add_column(col, justify="right")
    for h, r in report["ranker"].get("heads", {}).items():
        heads.add_row(h, *[f"{r[c]:.3f}" if r[c] is not None else "-"
                           for c in ("auc", "reference_auc", "gauc", "reference_gauc")])
    console.print(heads)


def eval_pipeline_command(
    world: Path = WorldOpt,
    batch: Path = BatchOpt,
    registry: Optional[Path] = RootOpt,
    test_days: Optional[int] = typer.Option(None, "--test-days", help="Override evaluation.test_days."),
    max_listeners: Optional[int] = typer.Option(None, "--max-listeners",
                                                help="Override evaluation.max_listeners (a seeded sample)."),
    report: Path = typer.Option(Path("docs/benchmarks/pipeline_eval.json"), "--report",
                                help="JSON report file."),
) -> None:
    """Evaluate the Pipeline (and popularity alone) on the held-out days: recall@K per
    channel, HR/NDCG/coverage/repeat share and the world's ground-truth reward of the
    final lists, the ranker's AUC per head."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.registry import Registry
    from encore.serving.evaluate import build_pipeline, evaluate_pipeline

    cfg = _config(test_days, max_listeners)
    reg = Registry(registry if registry is not None else cfg.registry.root)
    t0 = time.perf_counter()
    pipeline = build_pipeline(world, batch, cfg, reg)
    try:
        with _progress() as bar:
            out = evaluate_pipeline(world, batch, cfg, pipeline, progress=bar, say=_say)
    except ValueError as err:
        typer.echo(f"error: eval pipeline: {err} (run `encore train all` first)", err=True)
        raise typer.Exit(code=1) from err
    finally:
        pipeline.close()
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    out["machine"] = machine_info()
    _table(out)
    _write(out, report)

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
from typing import Any, Optional

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
    comp = report.get("ranker_comparison")
    if comp:
        t = Table(title=f"rankers on the same requests (paired difference vs {comp['reference']})")
        for col in ("ranker", "model", "reward", "CI", "vs ref", "paired CI", "hr@10", "degraded"):
            t.add_column(col, justify="right")
        for label, row in comp["rankers"].items():
            r, d = row["reward"], row["reward_minus_reference"]
            t.add_row(label, str(row.get("model")), f"{r['mean']:.3f}", f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                      f"{d['mean']:+.3f}", f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]",
                      f"{row.get('hr@10', float('nan')):.3f}", str(sum(row["degraded_channels"].values())))
        console.print(t)


def load_rankers(items: list[str], registry: Any, name: str) -> dict[str, Any]:
    """``LABEL=SPEC`` items -> label -> a loaded, smoke-tested ``Ranker``. SPEC is an
    exported ranker folder, or a version (``v0003``) or ``NAME:VERSION`` in the registry
    (NAME defaults to ``name``, the Pipeline's ranker)."""
    from encore.ranking.ranker import Ranker

    out: dict[str, Any] = {}
    for item in items:
        label, sep, spec = item.partition("=")
        label, spec = label.strip(), spec.strip()
        if not sep or not label or not spec:
            raise typer.BadParameter(f"expected LABEL=SPEC, got {item!r}", param_hint="--ranker")
        if label in out:
            raise typer.BadParameter(f"ranker label {label!r} given twice", param_hint="--ranker")
        if Path(spec).is_dir():
            ranker = Ranker.load(Path(spec))
            ranker.smoke_test()
        else:
            reg_name, _, version = spec.rpartition(":")
            ranker = registry.load_promoted(reg_name or name, Ranker.load,
                                            Ranker.smoke_test, version=version).model
        out[label] = ranker
    return out


def eval_pipeline_command(
    world: Path = WorldOpt,
    batch: Path = BatchOpt,
    registry: Optional[Path] = RootOpt,
    test_days: Optional[int] = typer.Option(None, "--test-days", help="Override evaluation.test_days."),
    max_listeners: Optional[int] = typer.Option(None, "--max-listeners",
                                                help="Override evaluation.max_listeners (a seeded sample)."),
    report: Path = typer.Option(Path("docs/benchmarks/pipeline_eval.json"), "--report",
                                help="JSON report file."),
    rankers: Optional[list[str]] = typer.Option(
        None, "--ranker", help="LABEL=SPEC (repeatable): also serve the same requests with this ranker; SPEC is "
        "an exported ranker folder, a version (v0003) or NAME:VERSION in the registry. Each gets its reward and "
        "the paired difference vs the reference."),
    reference_ranker: Optional[str] = typer.Option(None, "--reference-ranker",
                                                   help="LABEL of the reference (default: baseline, else the first)."),
) -> None:
    """Evaluate the Pipeline (and popularity alone) on the held-out days: recall@K per
    channel, HR/NDCG/coverage/repeat share and the world's ground-truth reward of the
    final lists, the ranker's AUC per head; with ``--ranker``, every given ranker on the
    same requests with paired reward differences."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.registry import ArtifactRefused, Registry, RegistryError
    from encore.serving.evaluate import build_pipeline, evaluate_pipeline

    cfg = _config(test_days, max_listeners)
    reg = Registry(registry if registry is not None else cfg.registry.root)
    try:
        loaded = load_rankers(rankers or [], reg, cfg.pipeline.ranker_registry_name)
    except (RegistryError, ArtifactRefused, FileNotFoundError, ValueError) as err:
        typer.echo(f"error: eval pipeline: --ranker: {err}", err=True)
        raise typer.Exit(code=1) from err
    if reference_ranker is not None and reference_ranker not in loaded:
        raise typer.BadParameter(f"{reference_ranker!r} is not a --ranker label ({sorted(loaded)})",
                                 param_hint="--reference-ranker")
    t0 = time.perf_counter()
    pipeline = build_pipeline(world, batch, cfg, reg)
    try:
        with _progress() as bar:
            out = evaluate_pipeline(world, batch, cfg, pipeline, progress=bar, say=_say,
                                    rankers=loaded or None, reference_ranker=reference_ranker)
    except ValueError as err:
        typer.echo(f"error: eval pipeline: {err} (run `encore train all` first)", err=True)
        raise typer.Exit(code=1) from err
    finally:
        pipeline.close()
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    out["machine"] = machine_info()
    _table(out)
    _write(out, report)

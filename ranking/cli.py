"""`encore train rank` and `encore eval rank`: train a ranker on ``ranking_samples``
(first days), evaluate it on the last day(s) against the popularity order, publish it
to the model registry; evaluate a registered or exported ranker.

Both print progress and a per-head table, and write the full report as JSON with
``--report FILE``. TensorFlow is imported inside the commands.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any, Optional

import typer

BatchOpt = typer.Option(..., "--batch", exists=True, file_okay=False,
                        help="Batch output root holding ranking_samples/ (encore batch ranking-samples).")
WorldOpt = typer.Option(..., "--world", help="World folder (its catalog/tracks.parquet).", exists=True, file_okay=False)
RootOpt = typer.Option(None, "--registry", help="Registry root (default registry.root).")
ReportOpt = typer.Option(None, "--report", help="Write the JSON report to this file.")


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _table(title: str, heads: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def f(v):
        return "-" if v is None else f"{v:.3f}"

    table = Table(title=title, caption="ref: popularity order; base: logloss of the training base rate")
    for col in ("head", "rows", "pos", "AUC", "ref AUC", "lift", "GAUC", "ref GAUC", "logloss", "base"):
        table.add_column(col, justify="right", no_wrap=True)
    for h, r in heads.items():
        table.add_row(h, str(r["rows"]), f(r["positive_rate"]), f(r["model"]["auc"]), f(r["reference"]["auc"]),
                      f(r["auc_lift"]), f(r["model"]["gauc"]), f(r["reference"]["gauc"]),
                      f(r["model"]["logloss"]), f(r["base_rate_logloss"]))
    Console(stderr=True, width=120).print(table)


def _write(report: dict, path: Optional[Path]) -> None:
    text = json.dumps(report, indent=2, default=str)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        _say(f"wrote {path}")
    else:
        typer.echo(text)


def train_rank_command(
    model: str = typer.Option("baseline", "--model", help="Ranker to train (ranking.model)."),
    batch: Path = BatchOpt,
    world: Path = WorldOpt,
    epochs: Optional[int] = typer.Option(None, help="Override ranking.epochs."),
    eval_days: Optional[int] = typer.Option(None, "--eval-days", help="Override ranking.eval_days."),
    registry: Optional[Path] = RootOpt,
    publish: bool = typer.Option(True, "--publish/--no-publish", help="Publish to the registry."),
    promote: bool = typer.Option(False, "--promote", help="Promote the published version."),
    report: Optional[Path] = ReportOpt,
) -> None:
    """Train a ranker on the first days of ranking_samples, evaluate on the last, publish."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.registry import Registry
    from encore.ranking.inputs import RankingInputError
    from encore.ranking.train import MODELS, train_rank

    if model not in MODELS:
        raise typer.BadParameter(f"unknown ranker {model!r}; known: {', '.join(MODELS)}", param_hint="--model")
    cfg = default_config()
    rcfg = cfg.ranking.model_copy(update={k: v for k, v in
                                          {"epochs": epochs, "eval_days": eval_days, "model": model}.items()
                                          if v is not None})
    reg = Registry(registry if registry is not None else cfg.registry.root) if publish else None
    t0 = time.perf_counter()
    try:
        out = train_rank(batch, world, rcfg, reg, model_name=model, promote=promote, progress=_say)
    except RankingInputError as err:
        typer.echo(f"error: train rank: {err}", err=True)
        raise typer.Exit(code=1) from err
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    out["machine"] = machine_info()
    _table(f"{model}: eval {out['data_window']['eval']} vs popularity order", out["evaluation"]["heads"])
    _write(out, report)


def eval_rank_command(
    batch: Path = BatchOpt,
    world: Path = WorldOpt,
    name: Optional[str] = typer.Option(None, "--name", help="Registered model (default ranking.registry_name)."),
    version: Optional[str] = typer.Option(None, "--version", help="Version (default: the promoted one)."),
    artifact: Optional[Path] = typer.Option(None, "--artifact", exists=True, file_okay=False,
                                            help="An exported ranker folder instead of the registry."),
    dates: Optional[str] = typer.Option(None, "--dates", help="Comma-separated days (default: the last eval_days)."),
    registry: Optional[Path] = RootOpt,
    report: Optional[Path] = ReportOpt,
) -> None:
    """Evaluate a ranker (AUC, GAUC, logloss per head) against the popularity order."""
    from encore.platform.config import default_config
    from encore.platform.registry import Registry, RegistryError
    from encore.ranking.inputs import RankingInputError
    from encore.ranking.ranker import Ranker
    from encore.ranking.train import eval_rank

    cfg = default_config()
    try:
        if artifact is not None:
            ranker, source = Ranker.load(artifact), str(artifact)
        else:
            reg = Registry(registry if registry is not None else cfg.registry.root)
            loaded = reg.load_promoted(name or cfg.ranking.registry_name, Ranker.load, Ranker.smoke_test,
                                       version=version)
            ranker, source = loaded.model, f"{loaded.name} {loaded.version}"
        days = [date.fromisoformat(d.strip()) for d in dates.split(",")] if dates else None
        _say(f"evaluating {source}")
        out = eval_rank(ranker, batch, world, days, cfg.ranking.eval_days)
    except (RegistryError, RankingInputError, ValueError) as err:
        typer.echo(f"error: eval rank: {err}", err=True)
        raise typer.Exit(code=1) from err
    out["source"] = source
    _table(f"{source}: {', '.join(out['dates'])} vs popularity order", out["heads"])
    _write(out, report)

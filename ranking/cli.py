"""`encore train rank`, `encore eval rank` and `encore bench rank`: train a ranker
(baseline, DIN, DIEN) on ``ranking_samples`` (first days), evaluate it on the last
day(s) against the popularity order, publish it to the model registry; evaluate a
registered or exported ranker; time every ranker's serving call.

Train and eval print progress and a per-head table, and write the full report as JSON
with ``--report FILE``. TensorFlow is imported inside the commands.

Sequence rankers need the listeners' behaviour sequences, which the Query builder
(``encore.recall``, a part this one may not import) provides: the composition root
(``encore.cli.main``) registers a factory with :func:`set_behaviour_factory`
(``encore.serving.behaviours.behaviours_for_config``).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable, Optional

import typer

BehaviourFactory = Callable[[Path, Any, Any], Any]
"""(world dir, EncoreConfig, behaviours) -> a ``BehaviourSource`` (``encore.ranking.train``)."""
_behaviour_factory: list[BehaviourFactory] = []


def set_behaviour_factory(factory: BehaviourFactory) -> None:
    """Register how the commands build behaviour sequences (the composition root does)."""
    _behaviour_factory[:] = [factory]


def _behaviours(world: Path, cfg: Any, behaviours: Any) -> Any:
    return _behaviour_factory[0](world, cfg, behaviours) if _behaviour_factory else None


def _overrides(items: Optional[list[str]]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (VALUE parsed as YAML) -> ranking config overrides."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value)
    return out

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
    model: Optional[str] = typer.Option(None, "--model", help="Ranker to train: baseline, din, dien "
                                                              "(default ranking.model)."),
    batch: Path = BatchOpt,
    world: Path = WorldOpt,
    epochs: Optional[int] = typer.Option(None, help="Override ranking.epochs."),
    eval_days: Optional[int] = typer.Option(None, "--eval-days", help="Override ranking.eval_days."),
    registry: Optional[Path] = RootOpt,
    publish: bool = typer.Option(True, "--publish/--no-publish", help="Publish to the registry."),
    promote: bool = typer.Option(False, "--promote", help="Promote the published version."),
    report: Optional[Path] = ReportOpt,
    settings: Optional[list[str]] = typer.Option(None, "--set", help="Override a ranking setting, KEY=VALUE "
                                                 "(e.g. pooling=sum, evolution=gru, aux_loss_weight=0)."),
) -> None:
    """Train a ranker on the first days of ranking_samples, evaluate on the last, publish."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.registry import Registry
    from encore.ranking.inputs import RankingInputError
    from encore.ranking.train import MODELS, train_rank

    cfg = default_config()
    model = model or cfg.ranking.model
    if model not in MODELS:
        raise typer.BadParameter(f"unknown ranker {model!r}; known: {', '.join(MODELS)}", param_hint="--model")
    update = {**_overrides(settings), **{k: v for k, v in
                                        {"epochs": epochs, "eval_days": eval_days, "model": model}.items()
                                        if v is not None}}
    try:
        rcfg = type(cfg.ranking).model_validate({**cfg.ranking.model_dump(), **update})
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--set") from err
    reg = Registry(registry if registry is not None else cfg.registry.root) if publish else None
    t0 = time.perf_counter()
    try:
        out = train_rank(batch, world, rcfg, reg, model_name=model, promote=promote, progress=_say,
                         behaviours=_behaviours(world, cfg, rcfg.session_behaviours if model == "session"
                                                else rcfg.behaviours),
                         session_rule=(cfg.sessions.max_session_ms, cfg.sessions.inactivity_gap_ms))
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
        out = eval_rank(ranker, batch, world, days, cfg.ranking.eval_days,
                        behaviours=_behaviours(world, cfg, ranker.spec.behaviours))
    except (RegistryError, RankingInputError, ValueError) as err:
        typer.echo(f"error: eval rank: {err}", err=True)
        raise typer.Exit(code=1) from err
    out["source"] = source
    _table(f"{source}: {', '.join(out['dates'])} vs popularity order", out["heads"])
    _write(out, report)


def bench_rank_command(
    models: str = typer.Option("baseline,din,dien,session", "--models", help="Comma-separated rankers."),
    sizes: str = typer.Option("100,500,1000", "--sizes", help="Candidates per request, comma-separated."),
    item_dim: Optional[int] = typer.Option(None, "--item-dim", help="Override ranking.item_dim (D)."),
    sequence_length: Optional[int] = typer.Option(None, "--sequence-length", help="Override ranking.sequence_length."),
    repeats: int = typer.Option(50, help="Timed calls per size."),
    warmup: int = typer.Option(5, help="Untimed calls before timing."),
    naive: bool = typer.Option(True, "--naive/--no-naive", help="Also time the per-row signature (listener "
                                                                  "work repeated per candidate)."),
    variants: Optional[list[str]] = typer.Option(None, "--variant", help="LABEL:MODEL:KEY=VALUE,KEY=VALUE "
                                                 "(e.g. dien-gru:dien:evolution=gru)."),
    out: Path = typer.Option(Path("docs/benchmarks/rank.json"), "--out", help="Report file."),
    train_reports: Optional[list[str]] = typer.Option(None, "--train-report", help="LABEL=FILE: a `train rank "
                                                      "--report` to summarise (AUC / GAUC / logloss per head)."),
    pipeline_reports: Optional[list[str]] = typer.Option(None, "--pipeline-report", help="LABEL=FILE: an `eval "
                                                         "pipeline --report` to summarise (ground-truth reward)."),
) -> None:
    """Candidates scored per second and latency per request size for every ranker."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.ranking.bench import accuracy_table, bench_rank, pipeline_table, write_report
    from encore.ranking.train import MODELS

    cfg = default_config().ranking
    cfg = cfg.model_copy(update={k: v for k, v in {"item_dim": item_dim, "sequence_length": sequence_length}.items()
                                 if v is not None})
    names = [m.strip() for m in models.split(",") if m.strip()]
    parsed = []
    for v in variants or []:
        label, _, rest = v.partition(":")
        model, _, sets = rest.partition(":")
        parsed.append((label, model, _overrides([s for s in sets.split(",") if s])))
    bad = [m for m in names + [p[1] for p in parsed] if m not in MODELS]
    if bad:
        raise typer.BadParameter(f"unknown rankers {bad}; known: {', '.join(MODELS)}", param_hint="--models")
    report = bench_rank(cfg, names, variants=parsed, sizes=[int(s) for s in sizes.split(",")],
                        warmup=warmup, repeats=repeats, naive=naive, progress=_say)
    report["machine"] = machine_info()
    if train_reports:
        report["accuracy"] = accuracy_table(train_reports)
    if pipeline_reports:
        report["pipeline"] = pipeline_table(pipeline_reports)
    _say(f"wrote {write_report(report, out)}")
    for r in report["results"]:
        typer.echo(f"{r['label']:>16}: " + "  ".join(
            f"N={n} p50 {row['p50_ms']:.2f} ms ({row['candidates_per_s']:,} cand/s"
            + (f", per-row x{row['speedup_p50']}" if "speedup_p50" in row else "") + ")"
            for n, row in r["sizes"].items()))

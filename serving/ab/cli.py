"""``encore ab``: two pipeline configurations compared offline on the held-out days
(encore.serving.ab.run) -> report.json + report.html under ``--out`` and a short table
in the terminal, with progress while it runs.

``--a`` / ``--b`` are configuration files read like ``encore --config`` (defaults, then
the file): each contributes its ``recall`` channels (enabled, k, quota), ``pipeline``
(channel lists, merge, ranker name, head weights, re-rank) and ``ranking``; both load
their models from the same registry (``--registry``, default ``registry.root``). The
comparison's own settings (``evaluation``: held-out days, list lengths; ``ab``:
listeners, bootstrap, clipping) come from the global configuration.
"""

from __future__ import annotations

import shlex
import sys
import time
from datetime import date
from pathlib import Path
from typing import Optional

import typer


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _days(values: Optional[list[str]], world: Path, test_days: int) -> list[date]:
    from encore.serving.train_all import held_out_days

    if not values:
        return held_out_days(world, test_days)
    out = []
    for value in values:
        for part in value.split(","):
            try:
                out.append(date.fromisoformat(part.strip()))
            except ValueError as err:
                raise typer.BadParameter(f"{part!r} is not a date (YYYY-MM-DD)", param_hint="--days") from err
    missing = [d for d in out if not (world / "events" / f"date={d.isoformat()}").is_dir()]
    if missing:
        raise typer.BadParameter(f"no events of {', '.join(d.isoformat() for d in missing)} in {world}",
                                 param_hint="--days")
    return sorted(set(out))


def ab_command(
    a: Path = typer.Option(..., "--a", exists=True, dir_okay=False, help="Configuration file of A (the control)."),
    b: Path = typer.Option(..., "--b", exists=True, dir_okay=False, help="Configuration file of B (the change)."),
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Path = typer.Option(..., "--batch", exists=True, file_okay=False, help="Batch output root."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default registry.root)."),
    days: Optional[list[str]] = typer.Option(None, "--days", help="Held-out dates YYYY-MM-DD (repeat or "
                                             "comma-separate; default the last evaluation.test_days). The "
                                             "models must have been fitted on days before them."),
    out: Path = typer.Option(Path("ab-report"), "--out", help="Folder for report.json and report.html."),
    max_listeners: Optional[int] = typer.Option(None, "--max-listeners", min=2, help="Override ab.max_listeners."),
    name_a: str = typer.Option("A", "--name-a", help="A's name in the report."),
    name_b: str = typer.Option("B", "--name-b", help="B's name in the report."),
) -> None:
    """Offline A/B of two pipeline configurations: replay metrics, counterfactual
    (IPS / SNIPS / DR) and simulated-online reward, team-draft interleaving, each B - A
    with a paired bootstrap interval and a verdict -> report.json + report.html."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from encore.platform.config import ConfigError, default_config, load_config
    from encore.platform.registry import Registry
    from encore.serving.ab.report import terminal_table, write
    from encore.serving.ab.run import Arm, run_ab
    from encore.serving.evaluate import build_pipeline

    base = default_config()
    if max_listeners is not None:
        base = base.model_copy(update={"ab": base.ab.model_copy(update={"max_listeners": max_listeners})})
    configs = {}
    for flag, path in (("--a", a), ("--b", b)):
        try:
            configs[flag] = load_config(path)
        except ConfigError as err:
            raise typer.BadParameter(str(err), param_hint=flag) from err
    held_out = _days(days, world, base.evaluation.test_days)
    reg = Registry(registry if registry is not None else base.registry.root)
    t0 = time.perf_counter()
    arms = []
    try:
        for flag, name, path in (("--a", name_a, a), ("--b", name_b, b)):
            _say(f"{name}: loading the pipeline of {path}")
            arms.append(Arm(name, configs[flag], build_pipeline(world, batch, configs[flag], reg), str(path)))
        console = Console(stderr=True, width=150)
        with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed} steps"),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("held-out requests", total=None)
            report = run_ab(world, batch, base, arms[0], arms[1], held_out, say=_say,
                            tick=lambda msg: bar.update(task, advance=1, description=msg))
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"error: ab: {err}", err=True)
        raise typer.Exit(code=1) from err
    finally:
        for arm in arms:
            arm.pipeline.close()
    from encore.platform.bench.machine import machine_info

    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    report["machine"] = machine_info()
    report["command"] = "encore " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    terminal_table(report, console)
    json_path, html_path = write(report, out)
    _say(f"wrote {json_path} and {html_path} ({report['wall_seconds']} s)")

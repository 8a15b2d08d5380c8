"""`encore world ...` commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from encore.platform.config import ConfigError, WorldConfig, default_config

app = typer.Typer(help="Generate and inspect the simulated music world.", no_args_is_help=True)


def world_config(**overrides: Any) -> WorldConfig:
    """The configured world with the given non-None overrides, validated."""
    base = default_config().world
    updates = {key: value for key, value in overrides.items() if value is not None}
    try:
        return WorldConfig.model_validate(base.model_dump() | updates)
    except ValueError as err:
        raise ConfigError(f"invalid world option: {err}") from err


def summary_table(summary: dict[str, Any], title: str) -> Table:
    table = Table(title=title, show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v:,}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.3f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        table.add_row(key, str(value))
    return table


@app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the world into."),
    users: Optional[int] = typer.Option(None, help="Override world.users."),
    days: Optional[int] = typer.Option(None, help="Override world.days."),
    seed: Optional[int] = typer.Option(None, help="Override world.seed."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Generate a world (deterministic for the seed) and print its summary."""
    from encore.platform.world import generate_world, load_world, summarize

    try:
        cfg = world_config(users=users, days=days, seed=seed)
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err
    started = time.perf_counter()
    try:
        manifest = generate_world(cfg, out, progress=progress)
    except OSError as err:  # e.g. --out under a plain file, or no permission
        where = err.filename or out
        typer.echo(f"error: cannot write the world to {out}: {where}: {err.strerror or err}", err=True)
        raise typer.Exit(code=1) from err
    elapsed = time.perf_counter() - started
    summary = summarize(load_world(out))
    summary["generate_seconds"] = round(elapsed, 2)
    summary["events_per_second"] = round(manifest.counts["events"] / elapsed)
    Console().print(summary_table(summary, f"world written to {out}"))


@app.command("summary")
def summary(path: Path = typer.Argument(..., help="A generated world folder.")) -> None:
    """Print the summary of a generated world."""
    from encore.platform.world import WorldSchemaError, load_world, summarize

    try:
        world = load_world(path)
    except WorldSchemaError as err:
        raise typer.BadParameter(str(err), param_hint="PATH") from err
    Console().print(summary_table(summarize(world), f"world {path}"))

"""`encore bench ...` commands."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="bench commands.", no_args_is_help=True)


@app.command("world")
def world(
    out: Path = typer.Option(Path("docs/benchmarks/world.json"), help="Where to write the result JSON."),
    days: int = typer.Option(14, help="Days simulated at each size."),
    progress: bool = typer.Option(False, help="Show the generator's progress bars."),
) -> None:
    """Time the world generator at 500 and 2000 users and record events/s."""
    from encore.platform.bench.world import run

    result = run(out, days=days, progress=progress)
    for size in result["sizes"]:
        typer.echo(f"{size['users']:>6} users x {size['days']} days: {size['events']:,} events "
                   f"in {size['seconds']:.2f} s = {size['events_per_second']:,} events/s")
    typer.echo(f"wrote {out}")

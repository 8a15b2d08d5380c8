"""`encore bench ...` commands."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Benchmarks; each writes docs/benchmarks/<name>.json.", no_args_is_help=True)


def _out(name: str):
    return typer.Option(Path(f"docs/benchmarks/{name}.json"), help="Where to write the result JSON.")


@app.command("world")
def world(
    out: Path = _out("world"),
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


@app.command("stream")
def stream(
    out: Path = _out("stream"),
    rates: str = typer.Option("500,2000,5000", help="Sustained produce rates (events/s), "
                              "comma-separated, each measured in turn."),
    seconds: float = typer.Option(60.0, help="How long each rate is sustained."),
    users: int = typer.Option(300, help="Users in the generated world the events come from."),
) -> None:
    """Event-to-online-feature latency (p50/p99) and consumer lag at each rate, in one
    run against a local broker and a SQLite online store (producer in its own process)."""
    from encore.platform.bench.stream import run

    result = run(out, tuple(float(r) for r in rates.split(",")), seconds, users=users)
    for phase in result["rates"]:
        latency = phase["latency_ms"] or {}
        typer.echo(f"{phase['target_rate_events_per_s']:>7g} events/s for {phase['seconds']:g} s: "
                   f"p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms, "
                   f"max {latency.get('max')} ms, max lag {phase['max_lag_events']:,} events")
    typer.echo(f"wrote {out}")


@app.command("batch")
def batch(
    out: Path = _out("batch"),
    users: int = typer.Option(500, help="Users at 1x; the 4x world has scale times as many."),
    days: int = typer.Option(7, help="Days simulated at each size."),
    scale: int = typer.Option(4, help="Size of the large world relative to the small one."),
) -> None:
    """Each Spark batch job at 1x and 4x data in one run, with the time ratio."""
    from encore.platform.bench.batch import run

    result = run(out, users=users, days=days, scale=scale)
    for name, job in result["jobs"].items():
        typer.echo(f"{name:<22} 1x {job['seconds_1x']:.1f} s  {scale}x {job[f'seconds_{scale}x']:.1f} s  "
                   f"ratio {job['ratio']}")
    typer.echo(f"wrote {out}")

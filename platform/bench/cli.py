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
    rate: float = typer.Option(500.0, help="Produce rate (events/s) of the latency phase."),
    events: int = typer.Option(20_000, help="Events sent in the throughput phase."),
    users: int = typer.Option(300, help="Users in the generated world the events come from."),
) -> None:
    """Event-to-online-feature latency (p50/p99) at a fixed rate and consumer throughput,
    in one run against a local broker and a SQLite online store."""
    from encore.platform.bench.stream import run

    result = run(out, rate=rate, n_events=events, users=users)
    latency = result["latency"]["latency_ms"]
    typer.echo(f"latency at {rate:g} events/s: p50 {latency['p50']} ms, p99 {latency['p99']} ms")
    typer.echo(f"consumer throughput: {result['throughput']['consumer_events_per_s']:,} events/s")
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

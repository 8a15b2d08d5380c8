"""`encore batch <job>`: the Spark batch jobs (see :mod:`encore.platform.batch`).

Every command takes ``--events DIR`` (the world's event log), ``--out DIR`` (batch
output root, default ``batch.output_dir``), ``--world DIR`` (catalog + users; default
the parent of ``--events``) and ``--dates a,b`` or ``--since/--until`` (default: every
date of the log). ``encore batch all`` runs every job in dependency order.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Spark batch jobs over the event log.", no_args_is_help=True)

#: Jobs in dependency order (module name under encore.platform.batch).
JOBS = (
    "sessionize", "item_stats", "artist_stats", "item_graph", "recall_samples",
    "ranking_samples", "materialize_features",
)

EventsOpt = typer.Option(..., "--events", help="Event log folder (date=YYYY-MM-DD partitions).",
                         exists=True, file_okay=False)
OutOpt = typer.Option(None, "--out", help="Batch output root (default batch.output_dir).")
WorldOpt = typer.Option(None, "--world", help="World folder (default: parent of --events).")
DatesOpt = typer.Option(None, "--dates", help="Comma-separated YYYY-MM-DD dates.")
SinceOpt = typer.Option(None, "--since", help="First date (inclusive).")
UntilOpt = typer.Option(None, "--until", help="Last date (inclusive).")


def run_job(job: str, events: Path, out: Optional[Path], world: Optional[Path], dates: Optional[str],
            since: Optional[str], until: Optional[str], **options):
    """Run one job in this process's Spark session; returns its JobReport."""
    from encore.platform.batch.job import make_context
    from encore.platform.config import default_config
    from encore.platform.spark import spark_session

    config = default_config()
    spark = spark_session(config.spark, app_name=f"encore-batch-{job}")
    ctx = make_context(spark, events, out, dates=dates, since=since, until=until, world_dir=world,
                       config=config, **options)
    module = importlib.import_module(f"encore.platform.batch.{job}")
    return module.run(ctx)


def _run_and_report(job: str, *args, **kwargs) -> None:
    """Run a job and print its report; a bad input or a missing Java is a one-line error
    (exit 1), not a traceback."""
    from encore.platform.batch.batch_io import BatchInputError
    from encore.platform.spark import SparkEnvironmentError

    try:
        report = run_job(job, *args, **kwargs)
    except (BatchInputError, SparkEnvironmentError) as err:
        typer.echo(f"error: batch {job}: {err}", err=True)
        raise typer.Exit(code=1) from err
    _report(report)


def _report(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"batch {report.job}")
    for col in ("dates", "rows in", "rows out", "seconds", "rows in/s"):
        table.add_column(col)
    d = report.as_dict()
    table.add_row(f"{d['dates'][0]}..{d['dates'][-1]}", str(d["rows_in"]), str(d["rows_out"]),
                  f"{d['seconds']:.1f}", f"{d['rows_in_per_s']:.0f}")
    Console().print(table)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def _command(job: str, doc: str, extra: dict[str, tuple[type, str]]):
    """Build a typer command for ``job`` with the common options + ``extra`` ones."""
    import inspect

    def command(**kwargs) -> None:
        _logging()
        _run_and_report(job, **kwargs)

    params = [
        inspect.Parameter("events", inspect.Parameter.KEYWORD_ONLY, default=EventsOpt, annotation=Path),
        inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=OutOpt, annotation=Optional[Path]),
        inspect.Parameter("world", inspect.Parameter.KEYWORD_ONLY, default=WorldOpt, annotation=Optional[Path]),
        inspect.Parameter("dates", inspect.Parameter.KEYWORD_ONLY, default=DatesOpt, annotation=Optional[str]),
        inspect.Parameter("since", inspect.Parameter.KEYWORD_ONLY, default=SinceOpt, annotation=Optional[str]),
        inspect.Parameter("until", inspect.Parameter.KEYWORD_ONLY, default=UntilOpt, annotation=Optional[str]),
    ]
    for name, (kind, help_text) in extra.items():
        flag = "--" + name.replace("_", "-")
        params.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=typer.Option(None, flag, help=help_text),
            annotation=Optional[kind],
        ))
    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    app.command(job.replace("_", "-"))(command)
    if "_" in job:  # also accept the underscore spelling
        app.command(job, hidden=True)(command)


_command("sessionize", "Events -> sessions (the encore.platform.sessions rule).",
         {"lookback_days": (int, "Days read before the first date when sessions(d-1) is absent (default 1).")})
_command("item_stats", "Daily and cumulative per-track statistics.", {})
_command("artist_stats", "Daily and cumulative per-artist statistics.", {})
_command("item_graph", "Directed item-item co-listening graph (user-day co-listening).", {
    "window_days": (int, "Window of days ending on each date (default 30)."),
    "min_support": (int, "Minimum co-listening count (default 2)."),
    "top_n": (int, "Neighbours kept per item (default 50)."),
    "max_items_per_context": (int, "Distinct tracks per user-day (default world.max_sample_per_user_per_day)."),
})
_command("recall_samples", "Next-item recall samples with point-in-time history, capped per user-day.", {
    "history_days": (int, "Days of history read before each date (default 30)."),
    "cap": (int, "Samples per user per day (default world.max_sample_per_user_per_day)."),
    "seed": (int, "Seed of the cap and negative sampling (default world.seed)."),
})
_command("ranking_samples", "One row per exposure with labels and point-in-time features.", {
    "history_days": (int, "Days of user history for the features (default 30)."),
})
_command("materialize_features", "Write the Feast offline sources (daily snapshots).", {
    "offline_dir": (Path, "Feast offline folder (default feature_store.offline_dir)."),
    "window_days": (int, "User activity window (default 30)."),
})


@app.command("all")
def run_all(
    events: Path = EventsOpt, out: Optional[Path] = OutOpt, world: Optional[Path] = WorldOpt,
    dates: Optional[str] = DatesOpt, since: Optional[str] = SinceOpt, until: Optional[str] = UntilOpt,
    offline_dir: Optional[Path] = typer.Option(None, "--offline-dir", help="Feast offline folder."),
) -> None:
    """Run every job in dependency order for the same dates."""
    _logging()
    for job in JOBS:
        extra = {"offline_dir": offline_dir} if job == "materialize_features" else {}
        _run_and_report(job, events, out, world, dates, since, until, **extra)

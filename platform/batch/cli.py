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

from encore.platform.batch.job import JOBS

app = typer.Typer(help="Spark batch jobs over the event log.", no_args_is_help=True)

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
    from encore.platform.batch.job import run_job as run_in_spark

    module = importlib.import_module(f"encore.platform.batch.{job}")
    return run_in_spark(job, module.run, events, out, dates=dates, since=since, until=until,
                        world_dir=world, **options)


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


for _job, (_doc, _extra) in JOBS.items():
    _command(_job, _doc, _extra)


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

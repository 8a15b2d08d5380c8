"""`encore batch <job>`: the Spark batch jobs (see :mod:`encore.platform.batch`).

The one command line of the batch jobs: ``spark-submit platform/batch/submit.py <job>
...`` runs this very app (:mod:`encore.platform.batch.submit`), so every option is
declared once, here, and a job's options once, in its config section ``batch.<job>``
(:class:`encore.platform.config.BatchConfig`, whose field descriptions are the flags'
help). A flag overrides its config value for one run.

Every command takes ``--events DIR`` (the event log), ``--out DIR`` (batch output root,
default ``batch.output_dir``), ``--catalog DIR`` (the catalog folder, default
``<world>/catalog``), ``--users DIR`` (the users folder, default ``<world>/users``),
``--world DIR`` (only a source of those defaults and of the seed; default the parent of
``--events``) and ``--dates a,b`` or ``--since/--until`` (default: every date of the
log). ``encore batch all`` runs every job in dependency order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from encore.platform import config as config_mod
from encore.platform.batch.activity_stats import Entity
from encore.platform.batch.job import JOBS, STEPS, Step
from encore.platform.config import BatchConfig

app = typer.Typer(help="Spark batch jobs over the event log.", no_args_is_help=True)


@app.callback()
def _batch(
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="YAML file overriding encore/platform/encore.yaml (also $ENCORE_CONFIG; "
        "`encore --config` sets it too).", exists=True, dir_okay=False)] = None,
) -> None:
    if config is not None:
        import os

        os.environ[config_mod.CONFIG_ENV] = str(config)
        config_mod.default_config.cache_clear()


# ----------------------------------------------------------------------------- common options
Events = Annotated[Path, typer.Option(
    "--events", help="Event log folder (date=YYYY-MM-DD partitions).", exists=True, file_okay=False)]
Out = Annotated[Optional[Path], typer.Option("--out", help="Batch output root (default batch.output_dir).")]
World = Annotated[Optional[Path], typer.Option(
    "--world", help="World folder: the default of --catalog and --users, and the seed of its manifest "
    "(default: the parent of --events).")]
Catalog = Annotated[Optional[Path], typer.Option(
    "--catalog", help="Catalog folder: artists/albums/tracks/shows.parquet (default <world>/catalog).")]
Users = Annotated[Optional[Path], typer.Option(
    "--users", help="Users folder holding users.parquet (default <world>/users).")]
Dates = Annotated[Optional[str], typer.Option("--dates", help="Comma-separated YYYY-MM-DD dates.")]
Since = Annotated[Optional[str], typer.Option("--since", help="First date (inclusive).")]
Until = Annotated[Optional[str], typer.Option("--until", help="Last date (inclusive).")]


def _flag(job: str, name: str) -> Any:
    """The option overriding ``batch.<job>.<name>`` for one run; its help is the config
    field's description."""
    field = type(getattr(BatchConfig(), job)).model_fields[name]
    return typer.Option("--" + name.replace("_", "-"), help=f"{field.description} (config: batch.{job}.{name})",
                        show_default=False)


def _command(job: str):
    """Register a job's command as ``job-name`` (and, hidden, ``job_name``)."""
    def register(function):
        app.command(job.replace("_", "-"), help=JOBS[job])(function)
        if "_" in job:
            app.command(job, hidden=True, help=JOBS[job])(function)
        return function

    return register


# ----------------------------------------------------------------------------- running
def _inputs(events: Path, out: Optional[Path], world: Optional[Path], catalog: Optional[Path],
            users: Optional[Path], dates: Optional[str], since: Optional[str], until: Optional[str]) -> dict:
    return {"events_dir": events, "out_dir": out, "world_dir": world, "catalog_dir": catalog,
            "users_dir": users, "dates": dates, "since": since, "until": until}


def _run(steps: tuple[Step, ...], inputs: dict, options: dict[str, dict[str, Any]] | None = None) -> None:
    """Run ``steps`` with the config (``options``: per job, flags overriding
    ``batch.<job>``) and print each report; a bad input or option, or a missing Java,
    is a one-line error (exit 1), not a traceback."""
    from encore.platform.batch.batch_io import BatchInputError
    from encore.platform.batch.job import run_step, with_options
    from encore.platform.spark import SparkEnvironmentError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for step in steps:
        try:
            config = config_mod.default_config()
            for job, overrides in (options or {}).items():
                config = with_options(config, job, **overrides)
            report = run_step(step, config=config, **inputs)
        except (BatchInputError, SparkEnvironmentError, config_mod.ConfigError) as err:
            typer.echo(f"error: batch {step.name}: {err}", err=True)
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


# ----------------------------------------------------------------------------- the jobs
@_command("sessionize")
def sessionize(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    lookback_days: Annotated[Optional[int], _flag("sessionize", "lookback_days")] = None,
) -> None:
    _run((Step("sessionize"),), _inputs(events, out, world, catalog, users, dates, since, until),
         {"sessionize": {"lookback_days": lookback_days}})


@_command("activity_stats")
def activity_stats(
    entity: Annotated[Entity, typer.Option(
        "--entity", help="track -> table item_stats, artist -> table artist_stats.", case_sensitive=False)],
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
) -> None:
    _run((Step("activity_stats", entity),), _inputs(events, out, world, catalog, users, dates, since, until))


@_command("item_graph")
def item_graph(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    window_days: Annotated[Optional[int], _flag("item_graph", "window_days")] = None,
    min_support: Annotated[Optional[int], _flag("item_graph", "min_support")] = None,
    top_n: Annotated[Optional[int], _flag("item_graph", "top_n")] = None,
    max_items_per_context: Annotated[Optional[int], _flag("item_graph", "max_items_per_context")] = None,
) -> None:
    _run((Step("item_graph"),), _inputs(events, out, world, catalog, users, dates, since, until),
         {"item_graph": {"window_days": window_days, "min_support": min_support, "top_n": top_n,
                         "max_items_per_context": max_items_per_context}})


@_command("recall_samples")
def recall_samples(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    history_days: Annotated[Optional[int], _flag("recall_samples", "history_days")] = None,
    history_length: Annotated[Optional[int], _flag("recall_samples", "history_length")] = None,
    negatives_per_positive: Annotated[Optional[int], _flag("recall_samples", "negatives_per_positive")] = None,
    cap: Annotated[Optional[int], _flag("recall_samples", "cap")] = None,
    seed: Annotated[Optional[int], _flag("recall_samples", "seed")] = None,
) -> None:
    _run((Step("recall_samples"),), _inputs(events, out, world, catalog, users, dates, since, until),
         {"recall_samples": {"history_days": history_days, "history_length": history_length,
                             "negatives_per_positive": negatives_per_positive, "cap": cap, "seed": seed}})


@_command("ranking_samples")
def ranking_samples(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    history_days: Annotated[Optional[int], _flag("ranking_samples", "history_days")] = None,
) -> None:
    _run((Step("ranking_samples"),), _inputs(events, out, world, catalog, users, dates, since, until),
         {"ranking_samples": {"history_days": history_days}})


@_command("materialize_features")
def materialize_features(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    offline_dir: Annotated[Optional[Path], _flag("materialize_features", "offline_dir")] = None,
    window_days: Annotated[Optional[int], _flag("materialize_features", "window_days")] = None,
) -> None:
    _run((Step("materialize_features"),), _inputs(events, out, world, catalog, users, dates, since, until),
         {"materialize_features": {"offline_dir": offline_dir, "window_days": window_days}})


@app.command("all")
def run_all(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    dates: Dates = None, since: Since = None, until: Until = None,
    offline_dir: Annotated[Optional[Path], _flag("materialize_features", "offline_dir")] = None,
) -> None:
    """Every job in dependency order (activity-stats once per entity), options from the config."""
    _run(STEPS, _inputs(events, out, world, catalog, users, dates, since, until),
         {"materialize_features": {"offline_dir": offline_dir}})

"""``encore batch recall``: top-K recall of every listener per channel on Spark
(:mod:`encore.recall.batch`). Mounted on the ``encore batch`` group by the composition
root (encore.cli.main; platform does not import recall); ``spark-submit
cli/batch_submit.py recall ...`` runs the same command. Every flag overrides its
``batch.recall`` config value for one run; a bad value is a one-line error naming it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from encore.platform.batch.cli import Catalog, Events, Out, Users, World, _flag


def batch_recall_command(
    events: Events, out: Out = None, world: World = None, catalog: Catalog = None, users: Users = None,
    date: Annotated[Optional[str], typer.Option(
        "--date", help="Serving day(s) to compute, comma-separated YYYY-MM-DD (default: the day after "
        "the log's last partition). Each day's Queries are built at its first millisecond.")] = None,
    channels: Annotated[Optional[str], typer.Option(
        "--channels", help="Comma-separated recall channel names (config: batch.recall.channels).",
        show_default=False)] = None,
    k: Annotated[Optional[int], _flag("recall", "k")] = None,
    history_days: Annotated[Optional[int], _flag("recall", "history_days")] = None,
    partitions: Annotated[Optional[int], _flag("recall", "partitions")] = None,
    push: Annotated[Optional[bool], typer.Option(
        "--push/--no-push", help="Push the lists to the online recall table (config: batch.recall.push).",
        show_default=False)] = None,
    online_path: Annotated[Optional[Path], _flag("recall", "online_path")] = None,
    registry: Annotated[Optional[Path], typer.Option(
        "--registry", help="Model registry root holding the promoted recall.<channel> models "
        "(default registry.root).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute (date, channel) partitions already written.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Top-K recall for every listener per channel, through the serving Channel code,
    written to OUT/recall/date=D/channel=C/ (incremental by date; --push: online)."""
    from encore.platform import config as config_mod
    from encore.platform.batch.batch_io import BatchInputError, world_dir_for
    from encore.platform.batch.job import with_options
    from encore.platform.spark import SparkEnvironmentError, spark_session
    from encore.platform.registry import RegistryError
    from encore.recall.batch import BatchRecallError, parse_dates, resolve_channels, run_batch_recall

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        names = None
        if channels is not None:
            names = [c.strip() for c in channels.split(",") if c.strip()]
            if not names:
                raise BatchRecallError("--channels: give at least one channel name")
        config = with_options(config_mod.default_config(), "recall", channels=names, k=k,
                              history_days=history_days, partitions=partitions, push=push,
                              online_path=online_path)
        days = parse_dates(date, events)
        world_dir = Path(world) if world else world_dir_for(events)
        users_dir = Path(users) if users else world_dir / "users"
        catalog_dir = Path(catalog) if catalog else world_dir / "catalog"
        root = Path(registry) if registry else config.registry.root
        if not root.is_dir():
            raise BatchRecallError(f"--registry: {root} is not a folder")
        resolve_channels(config, root, config.batch.recall.channels, config.batch.recall.k)  # before Spark
        spark = spark_session(config.spark, app_name="encore-batch-recall", runtime_dir=config.paths.runtime_dir)
        report = run_batch_recall(spark, config, events_dir=events, out_dir=out, users_dir=users_dir,
                                  catalog_dir=catalog_dir, dates=days, registry_root=root, force=force)
    except (BatchRecallError, BatchInputError, SparkEnvironmentError, RegistryError, config_mod.ConfigError) as err:
        typer.echo(f"error: batch recall: {err}", err=True)
        raise typer.Exit(code=1) from err
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    _print(report)


def _print(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="batch recall")
    for col in ("date", "channels", "listeners", "rows", "seconds", "listeners/s"):
        table.add_column(col)
    for row in report.per_date:
        table.add_row(row["date"], ",".join(row["channels"]), str(row["listeners"]), str(row["rows"]),
                      f"{row['seconds']:.1f}", f"{row['listeners'] / row['seconds']:.0f}" if row["seconds"] else "-")
    for day in report.skipped:
        table.add_row(day, "skipped (written; --force recomputes)", "", "", "", "")
    Console().print(table)
    if report.pushed:
        Console().print(f"pushed {report.pushed} lists to the online recall table")

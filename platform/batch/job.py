"""What every batch job shares: its run context, the common command-line arguments and
the ``main()`` wrapper used by ``spark-submit platform/batch/<job>.py``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import encore.platform  # noqa: F401  (process environment before pyspark)
from encore.platform.batch.batch_io import JobReport, select_dates, world_dir_for
from encore.platform.config import EncoreConfig, default_config, load_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class JobContext:
    """Inputs of one job run. ``options`` holds job-specific knobs (see each job)."""

    spark: "SparkSession"
    events_dir: Path
    out_dir: Path
    dates: list[date]
    config: EncoreConfig = field(default_factory=default_config)
    world_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events_dir = Path(self.events_dir)
        self.out_dir = Path(self.out_dir)
        self.world_dir = Path(self.world_dir) if self.world_dir else world_dir_for(self.events_dir)
        self.dates = sorted(set(self.dates))

    def opt(self, name: str, default: Any) -> Any:
        value = self.options.get(name)
        return default if value is None else value


def make_context(
    spark: "SparkSession",
    events_dir: Path,
    out_dir: Path | None = None,
    *,
    dates: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    world_dir: Path | None = None,
    config: EncoreConfig | None = None,
    **options: Any,
) -> JobContext:
    config = config or default_config()
    return JobContext(
        spark=spark,
        events_dir=Path(events_dir),
        out_dir=Path(out_dir) if out_dir else config.batch.output_dir,
        dates=select_dates(Path(events_dir), dates, since, until),
        config=config,
        world_dir=world_dir,
        options=options,
    )


def base_parser(job: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=job, description=description)
    parser.add_argument("--events", required=True, type=Path, help="event log folder (date=YYYY-MM-DD partitions)")
    parser.add_argument("--out", type=Path, default=None, help="batch output root (default batch.output_dir)")
    parser.add_argument("--world", type=Path, default=None, help="world folder with catalog/ and users/ (default: parent of --events)")
    parser.add_argument("--dates", default=None, help="comma-separated YYYY-MM-DD dates")
    parser.add_argument("--since", default=None, help="first date (inclusive)")
    parser.add_argument("--until", default=None, help="last date (inclusive)")
    parser.add_argument("--config", type=Path, default=None, help="Encore YAML config override")
    return parser


def run_main(
    job: str,
    description: str,
    run: Callable[[JobContext], JobReport],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: Sequence[str] | None = None,
) -> JobReport:
    """Parse arguments, start Spark, run the job, print its report."""
    parser = base_parser(job, description)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = load_config(args.config) if args.config else default_config()
    from encore.platform.spark import spark_session

    spark = spark_session(config.spark, app_name=f"encore-batch-{job}")
    common = {"events", "out", "world", "dates", "since", "until", "config"}
    options = {k: v for k, v in vars(args).items() if k not in common}
    ctx = make_context(
        spark, args.events, args.out, dates=args.dates, since=args.since, until=args.until,
        world_dir=args.world, config=config, **options,
    )
    report = run(ctx)
    print(report.as_dict())
    return report

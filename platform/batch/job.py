"""What every batch job shares: its run context, the table of jobs and their options,
and the runner behind both ``encore batch <job>`` and the ``main()`` that
``spark-submit platform/batch/<job>.py`` calls."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import encore.platform  # noqa: F401  (process environment before pyspark)
from encore.platform.batch.batch_io import JobReport, select_dates, world_dir_for, world_seed
from encore.platform.config import EncoreConfig, default_config, load_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class JobContext:
    """Inputs of one job run. ``options`` holds job-specific knobs (see each job);
    ``out_dir`` defaults to ``config.batch.output_dir``, ``world_dir`` to the parent of
    ``events_dir``."""

    spark: "SparkSession"
    events_dir: Path
    out_dir: Path | None
    dates: list[date]
    config: EncoreConfig = field(default_factory=default_config)
    world_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events_dir = Path(self.events_dir)
        self.out_dir = Path(self.out_dir) if self.out_dir else self.config.batch.output_dir
        self.world_dir = Path(self.world_dir) if self.world_dir else world_dir_for(self.events_dir)
        self.dates = sorted(set(self.dates))

    def opt(self, name: str, default: Any) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    def default_seed(self) -> int:
        """The seed a job uses when none is given: the world's own (its manifest's
        ``seed``), else ``config.world.seed`` (an event log with no world manifest,
        such as the stream processor's)."""
        seed = world_seed(self.world_dir)
        return self.config.world.seed if seed is None else seed


#: Every job in dependency order (module name under encore.platform.batch): its
#: one-line description and its own options (name -> (type, help)). The one table that
#: ``encore batch <job>`` and ``spark-submit platform/batch/<job>.py`` build their
#: arguments from; each job reads its options with ``ctx.opt(name, default)``.
JOBS: dict[str, tuple[str, dict[str, tuple[type, str]]]] = {
    "sessionize": ("Events -> sessions (the encore.platform.contracts.sessions rule).", {
        "lookback_days": (int, "Days read before the first date when sessions(d-1) is absent (default 1)."),
    }),
    "item_stats": ("Daily and cumulative per-track statistics.", {}),
    "artist_stats": ("Daily and cumulative per-artist statistics.", {}),
    "item_graph": ("Directed item-item co-listening graph (user-day co-listening).", {
        "window_days": (int, "Window of days ending on each date (default 30)."),
        "min_support": (int, "Minimum co-listening count (default 2)."),
        "top_n": (int, "Neighbours kept per item (default 50)."),
        "max_items_per_context": (int, "Distinct tracks per user-day (default sampling.max_samples_per_user_per_day)."),
    }),
    "recall_samples": ("Next-item recall samples with point-in-time history, capped per user-day and per-user budget.", {
        "history_days": (int, "Days of history read before each date (default 30)."),
        "cap": (int, "Samples per user per day (default sampling.max_samples_per_user_per_day)."),
        "seed": (int, "Seed of the cap and negative sampling (default: the world manifest's seed, else world.seed)."),
    }),
    "ranking_samples": ("One row per exposure with labels and point-in-time features.", {
        "history_days": (int, "Days of user history for the features (default 30)."),
    }),
    "materialize_features": ("Write the Feast offline sources (daily snapshots).", {
        "offline_dir": (Path, "Feast offline folder (default feature_store.offline_dir)."),
        "window_days": (int, "User activity window (default 30)."),
    }),
}


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
    return JobContext(
        spark=spark, events_dir=events_dir, out_dir=out_dir,
        dates=select_dates(Path(events_dir), dates, since, until),
        config=config or default_config(), world_dir=world_dir, options=options,
    )


def run_job(
    job: str,
    run: Callable[[JobContext], JobReport],
    events_dir: Path,
    out_dir: Path | None = None,
    *,
    dates: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    world_dir: Path | None = None,
    config: EncoreConfig | None = None,
    **options: Any,
) -> JobReport:
    """Run ``run`` in this process's Spark session (started if needed). The date
    selection is checked first, so a bad one fails before the JVM starts."""
    from encore.platform.spark import spark_session

    config = config or default_config()
    days = select_dates(Path(events_dir), dates, since, until)
    spark = spark_session(config.spark, app_name=f"encore-batch-{job}")
    return run(JobContext(spark=spark, events_dir=events_dir, out_dir=out_dir, dates=days,
                          config=config, world_dir=world_dir, options=options))


def run_main(job: str, run: Callable[[JobContext], JobReport], argv: Sequence[str] | None = None) -> JobReport:
    """``spark-submit platform/batch/<job>.py``: parse the common arguments and the
    job's own (from ``JOBS``), run the job, print its report."""
    description, extra = JOBS[job]
    parser = argparse.ArgumentParser(prog=job, description=description)
    parser.add_argument("--events", required=True, type=Path, help="event log folder (date=YYYY-MM-DD partitions)")
    parser.add_argument("--out", type=Path, default=None, help="batch output root (default batch.output_dir)")
    parser.add_argument("--world", type=Path, default=None,
                        help="world folder with catalog/ and users/ (default: parent of --events)")
    parser.add_argument("--dates", default=None, help="comma-separated YYYY-MM-DD dates")
    parser.add_argument("--since", default=None, help="first date (inclusive)")
    parser.add_argument("--until", default=None, help="last date (inclusive)")
    parser.add_argument("--config", type=Path, default=None, help="Encore YAML config override")
    for name, (kind, help_text) in extra.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None, help=help_text)
    args = vars(parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config_path = args.pop("config")
    report = run_job(
        job, run, args.pop("events"), args.pop("out"), world_dir=args.pop("world"),
        config=load_config(config_path) if config_path else None, **args,
    )
    print(report.as_dict())
    return report

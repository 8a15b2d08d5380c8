"""What every batch job shares: its run context (inputs, dates, config), the jobs in
dependency order, per-run option overrides and the runner behind the one command line
(:mod:`encore.platform.batch.cli`: ``encore batch <job>`` and ``spark-submit
platform/batch/submit.py <job>``).

A job's options are typed fields of its section of the config, ``batch.<job>``
(:class:`encore.platform.config.BatchConfig`); a job reads them from ``ctx.config``, and
a command-line flag overrides one for a run through :func:`with_options`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

import encore.platform  # noqa: F401  (process environment before pyspark)
from encore.platform.batch.activity_stats import Entity
from encore.platform.batch.batch_io import JobReport, select_dates, world_dir_for, world_seed
from encore.platform.config import ConfigError, EncoreConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class JobContext:
    """Inputs of one job run. Defaults: ``out_dir`` = ``config.batch.output_dir``;
    ``world_dir`` = the parent of ``events_dir`` (a world folder holds ``events/`` beside
    ``catalog/`` and ``users/``; it need not exist, it only supplies defaults and the
    seed); ``catalog_dir`` = ``world_dir/catalog`` (the files of
    :mod:`encore.platform.contracts.catalog`); ``users_dir`` = ``world_dir/users``."""

    def __init__(
        self,
        spark: "SparkSession",
        events_dir: Path,
        out_dir: Path | None,
        dates: list[date],
        config: EncoreConfig,
        world_dir: Path | None = None,
        catalog_dir: Path | None = None,
        users_dir: Path | None = None,
    ) -> None:
        self.spark = spark
        self.config = config
        self.events_dir = Path(events_dir)
        self.out_dir = Path(out_dir) if out_dir else config.batch.output_dir
        self.world_dir = Path(world_dir) if world_dir else world_dir_for(self.events_dir)
        self.catalog_dir = Path(catalog_dir) if catalog_dir else self.world_dir / "catalog"
        self.users_dir = Path(users_dir) if users_dir else self.world_dir / "users"
        self.dates = sorted(set(dates))

    def default_seed(self) -> int:
        """The seed a job uses when none is given: the world's own (its manifest's
        ``seed``), else ``config.world.seed`` (an event log with no world manifest,
        such as the stream processor's)."""
        seed = world_seed(self.world_dir)
        return self.config.world.seed if seed is None else seed


#: Every job (a module under encore.platform.batch with ``run(ctx, ...)``) and its
#: one-line description, in dependency order.
JOBS: dict[str, str] = {
    "sessionize": "Events -> sessions (the encore.platform.contracts.sessions rule).",
    "activity_stats": "Daily and cumulative activity per track (table item_stats) or per artist (artist_stats).",
    "item_graph": "Directed item-item co-listening graph (user-day co-listening).",
    "recall_samples": "Next-item recall samples with point-in-time history, capped per user-day and per-user budget.",
    "ranking_samples": "One row per exposure with labels and point-in-time features.",
    "materialize_features": "Write the Feast offline sources (daily snapshots).",
}


@dataclass(frozen=True)
class Step:
    """One run of a job: the job, and for ``activity_stats`` the entity it counts."""

    job: str
    entity: Entity | None = None

    @property
    def name(self) -> str:
        """What reports and errors call the run: the job, or for activity_stats the
        table it writes (``item_stats`` / ``artist_stats``)."""
        return self.entity.table if self.entity is not None else self.job

    def run(self, ctx: JobContext) -> JobReport:
        module = importlib.import_module(f"encore.platform.batch.{self.job}")
        return module.run(ctx) if self.entity is None else module.run(ctx, self.entity)


#: Every job run of ``encore batch all``, in dependency order.
STEPS: tuple[Step, ...] = (
    Step("sessionize"),
    Step("activity_stats", Entity.TRACK),
    Step("activity_stats", Entity.ARTIST),
    Step("item_graph"),
    Step("recall_samples"),
    Step("ranking_samples"),
    Step("materialize_features"),
)


def with_options(config: EncoreConfig, job: str, **overrides: Any) -> EncoreConfig:
    """``config`` with the options of ``batch.<job>`` that ``overrides`` names (and
    does not leave None) replaced, validated like a config file (``ConfigError``)."""
    given = {name: value for name, value in overrides.items() if value is not None}
    if not given:
        return config
    section = getattr(config.batch, job, None)
    if not isinstance(section, BaseModel):
        raise ConfigError(f"batch.{job} is not a job's options section")
    try:
        options = type(section).model_validate({**section.model_dump(), **given})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid batch.{job} options: {problems}") from err
    return config.model_copy(update={"batch": config.batch.model_copy(update={job: options})})


def make_context(
    spark: "SparkSession",
    events_dir: Path,
    out_dir: Path | None = None,
    *,
    config: EncoreConfig,
    dates: str | list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    world_dir: Path | None = None,
    catalog_dir: Path | None = None,
    users_dir: Path | None = None,
) -> JobContext:
    """A context for ``dates`` (or ``since..until``; default: every date of the log)."""
    return JobContext(
        spark=spark, events_dir=events_dir, out_dir=out_dir,
        dates=select_dates(Path(events_dir), dates, since, until), config=config,
        world_dir=world_dir, catalog_dir=catalog_dir, users_dir=users_dir,
    )


def run_step(
    step: Step,
    events_dir: Path,
    out_dir: Path | None = None,
    *,
    config: EncoreConfig,
    dates: str | list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    world_dir: Path | None = None,
    catalog_dir: Path | None = None,
    users_dir: Path | None = None,
) -> JobReport:
    """Run ``step`` in this process's Spark session (started if needed). The date
    selection is checked first, so a bad one fails before the JVM starts."""
    from encore.platform.spark import spark_session

    days = select_dates(Path(events_dir), dates, since, until)
    spark = spark_session(config.spark, app_name=f"encore-batch-{step.name}",
                          runtime_dir=config.paths.runtime_dir)
    return step.run(JobContext(
        spark=spark, events_dir=events_dir, out_dir=out_dir, dates=days, config=config,
        world_dir=world_dir, catalog_dir=catalog_dir, users_dir=users_dir,
    ))

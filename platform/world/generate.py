"""``generate_world``: build the catalog and listeners, simulate every day, write the
world folder (layout in schema.py) and its manifest."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from encore.platform.config import SessionsConfig, WorldConfig
from encore.platform.world import schema
from encore.platform.world.behaviour import Behaviour
from encore.platform.world.catalog import build_catalog, catalog_tables
from encore.platform.world.day import DaySimulator
from encore.platform.world.past import listening_past
from encore.platform.world.policy import LoggingPolicy
from encore.platform.world.users import build_population, population_tables
from encore.platform.world.utility import UtilityModel
from encore.platform.checksums import sha256_file
from encore.platform.world.writer import TableAppender, write_json, write_table

_GENERATED = ("catalog", "kg", "users", "truth", "policy", schema.EVENTS_DIR, schema.MANIFEST)


class WorldManifest(BaseModel):
    """What a world folder holds: the config that made it, counts, and file hashes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    seed: int
    config: WorldConfig
    sessions: SessionsConfig  # the platform's session rule the world named its sessions by
    dates: list[str]
    counts: dict[str, int]
    files: dict[str, str]  # relative path -> sha256
    lyrics_vocab_size: int
    utility_parts: list[str]


def generate_world(cfg: WorldConfig, out: Path, progress: bool = True, *,
                   sessions: SessionsConfig | None = None) -> WorldManifest:
    """Generate the world of ``cfg`` into ``out`` (files of an earlier world there are
    replaced) and return its manifest. Deterministic for a config: same bytes.
    ``sessions`` is the platform's session rule (default: its defaults) the world's
    sessions follow, as the stream and Spark will cut them.

    Raises ``NotADirectoryError`` naming the path when ``out`` or a folder above it is
    an existing file (checked before anything is written)."""
    out = Path(out)
    _check_writable_folder(out)
    for name in _GENERATED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)

    cat = build_catalog(cfg)
    pop = build_population(cfg, cat)
    counts: Counter[str] = Counter()
    for rel, table in {**catalog_tables(cat), **population_tables(cfg, cat, pop)}.items():
        write_table(table, out / rel)
        counts[rel.split("/")[-1].removesuffix(".parquet")] = table.num_rows
    counts.update({f"users_{kind}": int((pop.kind == code).sum())
                   for code, kind in enumerate(schema.USER_KINDS)})

    policy = LoggingPolicy(cat, pop, cfg.candidate_pool_size, cfg.exposures_per_request,
                           cfg.logging_temperature, cfg.discovery_redraws)
    past = listening_past(cfg, pop, policy)
    write_table(past.table(cfg.start_date), out / "users/past_plays.parquet")
    counts["past_plays"] = int(past.plays.sum())
    behaviour = Behaviour(pop, policy, UtilityModel(cat, pop, cfg.utility_weights),
                          cat.track_duration_ms)
    sessions = sessions or SessionsConfig()
    simulator = DaySimulator(cfg, sessions, cat, pop, behaviour, past)
    sessions_out = TableAppender(out / "truth/sessions.parquet", schema.SESSIONS)
    exposures_out = TableAppender(out / "truth/exposures.parquet", schema.EXPOSURE_TRUTH)
    slates_out = TableAppender(out / "policy/slates.parquet", schema.POLICY_SLATES)
    dates: list[str] = []
    with _progress(progress) as bar:
        task = bar.add_task("simulating days", total=cfg.days, events=0)
        for day in range(cfg.days):
            tables = simulator.run(day)
            write_table(tables.events, out / schema.event_partition(tables.date))
            sessions_out.append(tables.sessions)
            exposures_out.append(tables.exposures)
            slates_out.append(tables.slates)
            dates.append(tables.date)
            counts["events"] += tables.events.num_rows
            counts["sessions"] += tables.sessions.num_rows
            counts["anonymous_sessions"] += tables.sessions["user_id"].null_count
            counts["exposures"] += tables.exposures.num_rows
            counts["slates"] += tables.slates.num_rows
            counts["plays"] += int(pc.sum(pc.equal(tables.events["action"], "play_start")).as_py() or 0)
            bar.update(task, advance=1, events=counts["events"])
    sessions_out.close()
    exposures_out.close()
    slates_out.close()

    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    manifest = WorldManifest(
        schema_version=schema.SCHEMA_VERSION, seed=cfg.seed, config=cfg, sessions=sessions, dates=dates,
        counts=dict(counts), files={f: sha256_file(out / f) for f in files},
        lyrics_vocab_size=cat.lyrics_vocab_size, utility_parts=list(schema.UTILITY_PARTS),
    )
    write_json(manifest.model_dump(mode="json"), out / schema.MANIFEST)
    return manifest


def _check_writable_folder(out: Path) -> None:
    """``out`` can become a folder: it and every existing folder above it are folders."""
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise NotADirectoryError(20, "is a file, not a folder", str(folder))
            return


class _EventRate(ProgressColumn):
    """Events generated per second so far."""

    def render(self, task: Task) -> Text:
        rate = task.fields["events"] / task.elapsed if task.elapsed else 0.0
        return Text(f"{rate:,.0f} events/s")


def _progress(enabled: bool) -> Progress:
    """A bar over the days with events so far, their rate, elapsed time and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[events]:,} events"), _EventRate(),
        TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled,
    )

"""The demo: the main job a fresh clone runs (``scripts/demo.sh`` -> ``encore demo``).

It walks the platform's data flow on a small simulated world and grows with the
platform: today it generates the world, loads it back with its schema checks and prints
the summary; later stages (stream, features, models, serving) append their steps here
until it ends with a gRPC daily-recommend answer.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from encore.platform.world.cli import summary_table, world_config


def run_demo(out: Path, users: int | None = None, days: int | None = None) -> None:
    from encore.platform.world import generate_world, load_world, summarize

    console = Console()
    cfg = world_config(users=users, days=days)
    world_dir = out / "world"

    console.print(Rule(f"1. simulated world: {cfg.users:,} users x {cfg.days} days, seed {cfg.seed}"))
    started = time.perf_counter()
    manifest = generate_world(cfg, world_dir, progress=True)
    elapsed = time.perf_counter() - started
    console.print(
        f"generated {manifest.counts['events']:,} events in {elapsed:.1f} s -> {world_dir}"
    )

    console.print(Rule("2. load it back (schema and checksums verified) and summarise"))
    world = load_world(world_dir, verify_checksums=True)
    console.print(summary_table(summarize(world), f"world {world_dir}"))

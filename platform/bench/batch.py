"""Benchmark of the Spark batch jobs at 1x and 4x data.

Generates two worlds in the same run (``users`` and ``4 * users``, same days and seed),
runs every job of :mod:`encore.platform.batch` over all dates of each, and records
seconds per job, rows in / out, and the ratio 4x / 1x (1.0 = free scaling, 4.0 =
linear). Spark start-up is excluded: one session is started and, with ``warmup``,
every job runs once on the 1x world before the timed runs.
"""

from __future__ import annotations

import json
import os
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from encore.platform.batch.job import STEPS, make_context, with_options
from encore.platform.bench.machine import machine_info
from encore.platform.config import EncoreConfig, default_config

log = logging.getLogger("encore.bench.batch")


def _run_jobs(spark, world: Path, out: Path, config: EncoreConfig) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    config = with_options(config, "materialize_features", offline_dir=out / "offline")
    for step in STEPS:
        ctx = make_context(spark, world / "events", out, world_dir=world, config=config)
        start = time.perf_counter()
        report = step.run(ctx)
        seconds = time.perf_counter() - start
        results[step.name] = {"seconds": round(seconds, 3), "rows_in": report.rows_in,
                        "rows_out": report.rows_out, "tables": report.tables}
        log.info("bench batch %s: %.1fs", step.name, seconds)
    return results


def run(out_json: Path, users: int = 500, days: int = 7, scale: int = 4,
        work_dir: Path | None = None, warmup: bool = True) -> dict[str, Any]:
    """Run the benchmark and write ``out_json``; returns the result dict."""
    from encore.platform.spark import spark_session
    from encore.platform.world.cli import world_config
    from encore.platform.world.generate import generate_world

    config = default_config()
    own_tmp = work_dir is None
    work = Path(work_dir or tempfile.mkdtemp(prefix="encore-bench-batch-"))
    try:
        sizes = {"1x": users, f"{scale}x": users * scale}
        worlds: dict[str, Path] = {}
        events_rows: dict[str, int] = {}
        for label, n_users in sizes.items():
            cfg = world_config(users=n_users, days=days)
            worlds[label] = work / f"world-{label}"
            events_rows[label] = generate_world(cfg, worlds[label], progress=False).counts["events"]

        spark = spark_session(config.spark, app_name="encore-bench-batch")
        spark.range(1000).selectExpr("sum(id)").collect()  # warm the JVM
        if warmup:  # first runs pay JIT and code-generation costs; keep them out of 1x
            _run_jobs(spark, worlds["1x"], work / "out-warmup", config)
        per_size = {label: _run_jobs(spark, worlds[label], work / f"out-{label}", config) for label in sizes}

        small, big = per_size["1x"], per_size[f"{scale}x"]
        jobs = {
            job: {
                "seconds_1x": small[job]["seconds"], f"seconds_{scale}x": big[job]["seconds"],
                "ratio": round(big[job]["seconds"] / small[job]["seconds"], 3) if small[job]["seconds"] else None,
                "rows_in_1x": small[job]["rows_in"], f"rows_in_{scale}x": big[job]["rows_in"],
                "rows_out_1x": small[job]["rows_out"], f"rows_out_{scale}x": big[job]["rows_out"],
            }
            for job in small
        }
        total_small = sum(v["seconds"] for v in small.values())
        total_big = sum(v["seconds"] for v in big.values())
        result = {
            "benchmark": "batch",
            "comparison": f"every Spark batch job over all dates, {scale}x data vs 1x, same run",
            "data": {
                label: {"users": n, "days": days, "events": events_rows[label],
                        "tracks": config.world.tracks, "artists": config.world.artists}
                for label, n in sizes.items()
            },
            "warmup": warmup,
            "spark": {"master": config.spark.master, "shuffle_partitions": config.spark.shuffle_partitions,
                      "driver_memory": config.spark.driver_memory, "version": spark.version},
            "jobs": jobs,
            "total": {"seconds_1x": round(total_small, 3), f"seconds_{scale}x": round(total_big, 3),
                      "ratio": round(total_big / total_small, 3) if total_small else None},
            "machine": machine_info(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        }
        out_json = Path(out_json)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(result, indent=2, default=str) + "\n")
        return result
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)

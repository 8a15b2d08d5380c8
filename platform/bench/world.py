"""Benchmark of the world generator: events per second at two sizes, in one run.

Both sizes run on the same machine in the same process, so their ratio shows how
generation scales with the number of users (it should stay roughly linear: the
per-day work is vectorised over all sessions of a round).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from encore.platform.bench.machine import machine_info
from encore.platform.world import generate_world
from encore.platform.world.cli import world_config


def run(out_json: Path, users: tuple[int, ...] = (500, 2000), days: int = 14,
        progress: bool = False) -> dict[str, Any]:
    """Generate a world per size in ``users`` (same days and seed), record wall time
    and events/s for each, write the result with the machine's facts to ``out_json``."""
    sizes = []
    for n_users in users:
        cfg = world_config(users=n_users, days=days)  # validated, unlike model_copy
        with tempfile.TemporaryDirectory(prefix="encore-bench-world-") as tmp:
            started = time.perf_counter()
            manifest = generate_world(cfg, Path(tmp), progress=progress)
            seconds = time.perf_counter() - started
        events = manifest.counts["events"]
        sizes.append({
            "users": n_users, "days": days, "tracks": cfg.tracks, "events": events,
            "sessions": manifest.counts["sessions"], "seconds": round(seconds, 3),
            "events_per_second": round(events / seconds),
        })
    result = {
        "benchmark": "world.generate",
        "comparison": "events/s of generate_world at each size, same run, seed "
                      f"{cfg.seed}; ratio = largest size's seconds / smallest size's seconds",
        "sizes": sizes,
        "seconds_ratio_largest_to_smallest": round(sizes[-1]["seconds"] / sizes[0]["seconds"], 2),
        "machine": machine_info(),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result

"""Facts about the machine a benchmark ran on, to store beside its numbers."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from importlib import metadata

# The libraries whose versions a benchmark number depends on (read from package
# metadata, so recording them imports nothing heavy).
BENCHMARKED_PACKAGES = (
    "numpy", "pandas", "pyarrow", "pyspark", "feast", "kafka-python", "noida-db",
    "grpcio", "protobuf", "tensorflow", "tensorflow-recommenders", "scann",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in BENCHMARKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """Host, CPU, memory, Python and library versions and the UTC time of measurement."""
    memory = _memory_bytes()
    return {
        "node": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "python": sys.version.split()[0],
        "numpy": metadata.version("numpy"),
        "versions": package_versions(),
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_report(report: dict[str, Any], out: Path, claims: Callable[[dict[str, Any]], dict[str, Any]],
                 say: Callable[[str], None]) -> dict[str, Any]:
    """Judge ``report`` by ``claims`` (stored as its ``claims``), print each verdict and
    write the report as sorted JSON to ``out``."""
    report["claims"] = claims(report)
    for claim, holds in report["claims"].items():
        say(f"claim {claim}: {holds}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return report

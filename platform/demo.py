"""The demo: the main job a fresh clone runs (scripts/demo.sh)."""
from __future__ import annotations

from pathlib import Path


def run_demo(out: Path, users: int | None = None, days: int | None = None) -> None:
    raise SystemExit("demo: world generator not wired yet")

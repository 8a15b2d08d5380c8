"""A small generated world shared by the recall tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.world import generate_world, load_world
from encore.platform.world.cli import world_config as configured_world

RECALL_WORLD = {
    "users": 300, "days": 6, "artists": 150, "tracks": 2000, "anonymous_sessions_per_day": 10,
    "bot_share": 0.01, "seed": 5,
}


@pytest.fixture(scope="session")
def recall_world(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("recall_world")
    generate_world(configured_world(**RECALL_WORLD), path, progress=False)
    return load_world(Path(path))

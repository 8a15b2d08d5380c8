"""One small world, generated once per test session and shared by the world tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.config import WorldConfig
from encore.platform.world import World, generate_world, load_world
from encore.platform.world.cli import world_config as configured_world

SMALL_WORLD = {
    "users": 250, "days": 7, "artists": 150, "tracks": 2500, "anonymous_sessions_per_day": 10,
    "bot_share": 0.02, "seed": 11,
}


def small_config(**overrides: object) -> WorldConfig:
    return configured_world(**(SMALL_WORLD | overrides))


@pytest.fixture(scope="session")
def world_config():
    """Build a small-world config with overrides: ``world_config(users=50)``."""
    return small_config


@pytest.fixture(scope="session")
def small_world_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("world")
    generate_world(small_config(), path, progress=False)
    return path


@pytest.fixture(scope="session")
def small_world(small_world_path: Path) -> World:
    return load_world(small_world_path, verify_checksums=True)


@pytest.fixture(scope="session")
def events(small_world: World):
    return small_world.events()

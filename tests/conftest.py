"""Shared test fixtures. Importing encore.platform first sets the process environment
(TF_USE_LEGACY_KERAS, SPARK_LOCAL_IP) before any test imports TensorFlow or PySpark."""

from __future__ import annotations

from pathlib import Path

import pytest

import encore.platform  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The read-only real data sets; tests that need them skip cleanly without them."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA_DIR} is absent (see ../shared/data/README.md)")
    return SHARED_DATA_DIR

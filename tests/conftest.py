"""Shared test fixtures. Importing encore.platform first sets the process environment
(TF_USE_LEGACY_KERAS, SPARK_LOCAL_IP) before any test imports TensorFlow or PySpark."""

from __future__ import annotations

from pathlib import Path

import pytest

import encore.platform  # noqa: F401


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The read-only real data sets, where the loaders look by default
    (``paths.shared_data_dir``); tests that need them skip cleanly without them."""
    from encore.platform.data.common import resolve_data_dir

    folder = resolve_data_dir()
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (see ../shared/data/README.md)")
    return folder

"""Shared test fixtures. Importing encore.platform first sets the process environment
(TF_USE_LEGACY_KERAS, SPARK_LOCAL_IP) before any test imports TensorFlow or PySpark."""

from __future__ import annotations

import random
from pathlib import Path

import hypothesis.core
import pytest
from hypothesis import settings

import encore.platform  # noqa: F401

pytest_plugins = ["testkit.kafka_fakes"]


# Property tests: the same search in CI as on a developer's machine. Hypothesis's own
# "ci" profile (loaded when $CI is set) derandomizes, so CI would try one fixed set of
# examples forever and miss cases every user's run finds. Ours keeps the search random,
# tries more examples, and prints the seed (rerun with --hypothesis-seed=N) and the
# blob of any failure, so a CI failure reproduces exactly.
settings.register_profile(
    "ci", settings.get_profile("ci"), derandomize=False, max_examples=300, print_blob=True,
)
if settings.get_current_profile_name() == "ci":  # hypothesis saw $CI and loaded its own
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_seed", None) is None:
        hypothesis.core.global_force_seed = random.SystemRandom().randrange(2**32)


def pytest_report_header(config: pytest.Config) -> str:
    return (f"hypothesis seed {hypothesis.core.global_force_seed} "
            f"(rerun with --hypothesis-seed={hypothesis.core.global_force_seed}), "
            f"profile {settings.get_current_profile_name()!r}")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The read-only real data sets, where the loaders look by default
    (``paths.shared_data_dir``); tests that need them skip cleanly without them."""
    from encore.platform.data.common import resolve_data_dir

    folder = resolve_data_dir()
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent (see ../shared/data/README.md)")
    return folder

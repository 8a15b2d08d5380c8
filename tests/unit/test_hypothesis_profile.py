"""The suite's property tests search randomly everywhere, CI included (tests/conftest.py)."""

from __future__ import annotations

import hypothesis.core
from hypothesis import settings


def test_property_tests_are_not_derandomized():
    # Hypothesis's stock "ci" profile derandomizes: CI would then never try the
    # examples a developer's run finds (a same-ms session pair once failed only there).
    assert not settings.default.derandomize
    assert settings.get_profile("ci").max_examples >= 300


def test_a_seed_is_chosen_and_reported():
    assert hypothesis.core.global_force_seed is not None

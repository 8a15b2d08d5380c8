"""Named, independent random streams derived from the world seed, and vectorised draws.

Every stage (catalog, users, each day's sessions, ...) draws from its own stream, keyed
by a path of names and numbers, so the output is the same for a seed whatever order the
stages run in, and changing one stage's draws leaves the others alone.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *path: str | int) -> np.random.Generator:
    """The generator for ``path`` (e.g. ``stream(seed, "day", 3, "round", 1)``)."""
    keys = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) for p in path]
    return np.random.default_rng(np.random.SeedSequence([seed % 2**64, *keys]))


def draw_columns(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of ``weights`` (non-negative), drawn ∝ the row's weights."""
    cumulative = np.cumsum(weights, axis=1)
    threshold = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative <= threshold[:, None]).sum(axis=1), weights.shape[1] - 1)

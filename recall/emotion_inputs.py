"""The emotion model's inputs on spotify-features (issue 10): the three input sets, the
per-fold fills and the leak-free artist target encoding.

Input sets (columns in this order; N tracks, F inputs):

* ``readme_nine`` (F = 9): the README baselines' descriptors (``README_NINE``), kept so
  the comparison with the README's ridge / trees figures stays like for like.
* ``all_descriptors`` (F = 12): the nine + ``mode``, ``popularity`` and ``release_year``
  (the file's other descriptors, as the issue asks).
* ``all_descriptors_artist`` (F = 15): + the artist's target encoding (``ARTIST_COLUMNS``):
  the smoothed mean valence and energy of the artist's *other* tracks,
  ``(sum_artist + prior * mean) / (n_artist + prior)`` with ``mean`` the fitting rows'
  target mean (Micci-Barreca, "A preprocessing scheme for high-cardinality categorical
  attributes", SIGKDD Explorations 2001), and ``n_artist`` (how many rows the mean saw).
  This set uses the artist id, so it says how far knowing the artist goes, not what the
  audio alone carries.

Leak-freedom (``fold_inputs``): the encoding of a fold's test rows is fitted on the
fold's training rows; the training rows' own encoding comes from ``inner_folds`` inner
folds of the training rows (each inner part encoded from the other parts), so no row's
target ever enters its own encoding, and the model learns on encodings as noisy as those
it is tested on. Tracks without an artist get the prior mean and count 0.

Fills: ``release_year`` is NaN where the file has no usable date (the loader's
``release_year``); each fold fills it with the median of its training rows (every other
column is complete after the loader's checks, but any NaN column gets the same fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

README_NINE = ("danceability", "key", "loudness", "speechiness", "acousticness", "instrumentalness",
               "liveness", "tempo", "duration")
OTHER_DESCRIPTORS = ("mode", "popularity", "release_year")
ALL_DESCRIPTORS = README_NINE + OTHER_DESCRIPTORS
ARTIST_COLUMNS = ("artist_valence_mean", "artist_energy_mean", "artist_count")
INPUT_SETS: dict[str, tuple[str, ...]] = {
    "readme_nine": README_NINE,
    "all_descriptors": ALL_DESCRIPTORS,
    "all_descriptors_artist": ALL_DESCRIPTORS + ARTIST_COLUMNS,
}
TARGETS = ("valence", "energy")  # energy stands in for arousal


@dataclass(frozen=True)
class SpotifyData:
    """``ids`` (N,); ``descriptors`` (N, 12) float64 in ``ALL_DESCRIPTORS`` order (NaN where
    missing); ``targets`` (N, 2) valence, energy; ``artists`` (N,) str ("" = unknown);
    ``groups`` (N,) int64, one id per (lower-cased name, artist) (a track without a name
    is its own group); ``info``: what the loader read and dropped."""

    ids: np.ndarray
    descriptors: np.ndarray
    targets: np.ndarray
    artists: np.ndarray
    groups: np.ndarray
    info: dict[str, Any]


def track_groups(names: pd.Series, artists: pd.Series, ids: pd.Series) -> np.ndarray:
    """(N,) int64 group ids: rows sharing a lower-cased, stripped name and an artist share
    one (the file repeats some tracks under different ids)."""
    name = names.fillna("").astype(str).str.strip().str.lower()
    artist = artists.fillna("").astype(str).str.strip()
    key = np.where(name.eq("") | artist.eq(""), "id:" + ids.astype(str), name + "\x1f" + artist)
    return pd.factorize(pd.Series(key))[0].astype(np.int64)


def artist_encoding(artists: np.ndarray, targets: np.ndarray, fit_rows: np.ndarray, apply_rows: np.ndarray,
                    prior: float) -> np.ndarray:
    """(len(apply_rows), 3): the smoothed target means (valence, energy) and the row count
    of each apply row's artist among ``fit_rows`` only (module docstring)."""
    fit = pd.DataFrame(targets[fit_rows], columns=["v", "e"])
    fit["artist"] = artists[fit_rows]
    fit = fit[fit["artist"] != ""]
    mean = targets[fit_rows].mean(0)
    stats = fit.groupby("artist").agg(v=("v", "sum"), e=("e", "sum"), n=("v", "size"))
    looked = stats.reindex(artists[apply_rows])
    n = looked["n"].fillna(0.0).to_numpy(np.float64)
    sums = looked[["v", "e"]].fillna(0.0).to_numpy(np.float64)
    smoothed = (sums + prior * mean) / (n + prior)[:, None] if prior > 0 else np.where(
        n[:, None] > 0, sums / np.maximum(n, 1)[:, None], mean)
    return np.column_stack([smoothed, n])


def _inner_folds(train: np.ndarray, folds: int, seed: int, groups: np.ndarray | None) -> list[np.ndarray]:
    """Inner folds of the training rows (positions into ``train``), grouped when given."""
    from encore.recall.emotion_baselines import group_kfold, kfold

    if groups is None:
        return kfold(len(train), folds, seed)
    return group_kfold(groups[train], folds, seed)


def fold_inputs(data: SpotifyData, input_set: str, train: np.ndarray, test: np.ndarray, *, prior: float,
                inner_folds: int, seed: int, groups: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """(N, F) inputs of ``input_set`` for one fold, and its fills. Only the ``train`` and
    ``test`` rows are meaningful (others are NaN when the set has the artist encoding).
    Fills and encodings are fitted on ``train`` only (module docstring)."""
    if input_set not in INPUT_SETS:
        raise ValueError(f"unknown input set {input_set!r}; known: {', '.join(INPUT_SETS)}")
    columns = INPUT_SETS[input_set]
    width = len([c for c in columns if c in ALL_DESCRIPTORS])
    x = np.array(data.descriptors[:, :width], np.float64)
    fills: dict[str, Any] = {}
    for j, name in enumerate(columns[:width]):
        missing = np.isnan(x[:, j])
        if missing.any():
            fill = float(np.nanmedian(x[train, j]))
            x[missing, j] = fill
            fills[name] = {"fill": "training-fold median", "value": fill, "rows": int(missing.sum())}
    if len(columns) > width:
        encoded = np.full((len(x), len(ARTIST_COLUMNS)), np.nan)
        for part in _inner_folds(train, inner_folds, seed, groups):
            rows = train[part]
            encoded[rows] = artist_encoding(data.artists, data.targets, np.setdiff1d(train, rows), rows, prior)
        encoded[test] = artist_encoding(data.artists, data.targets, train, test, prior)
        x = np.hstack([x, encoded])
    return x, fills

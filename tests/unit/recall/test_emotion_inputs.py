"""The spotify input sets of the emotion bench: the artist target encoding by hand and
leak-free, the sets' columns and fills, the (name, artist) groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.recall.emotion_baselines import group_kfold
from encore.recall.emotion_inputs import (
    ALL_DESCRIPTORS,
    ARTIST_COLUMNS,
    INPUT_SETS,
    README_NINE,
    SpotifyData,
    artist_encoding,
    fold_inputs,
    track_groups,
)

ARTISTS = np.array(["a", "a", "a", "b", "b", "", "c", "a", "b", "c"], dtype=object)


def _data(seed: int = 0) -> SpotifyData:
    rng = np.random.default_rng(seed)
    n = len(ARTISTS)
    descriptors = rng.uniform(size=(n, len(ALL_DESCRIPTORS)))
    descriptors[[2, 5], ALL_DESCRIPTORS.index("release_year")] = np.nan
    return SpotifyData(ids=np.array([f"id{i}" for i in range(n)], dtype=object), descriptors=descriptors,
                       targets=rng.uniform(size=(n, 2)), artists=ARTISTS, groups=np.arange(n), info={})


def test_artist_encoding_by_hand() -> None:
    targets = np.array([[0.2, 1.0], [0.4, 0.0], [9.0, 9.0], [0.6, 0.5], [9.0, 9.0]])
    artists = np.array(["a", "a", "a", "b", ""], dtype=object)
    fit = np.array([0, 1, 3])  # fitting mean (0.4, 0.5)
    got = artist_encoding(artists, targets, fit, np.array([2, 4, 3]), prior=2.0)
    # row 2 (artist a: 0.2 + 0.4 over 2 rows): ((0.6 + 2 * 0.4) / 4, (1.0 + 2 * 0.5) / 4), count 2
    assert got[0] == pytest.approx([1.4 / 4, 2.0 / 4, 2.0])
    # row 4 has no artist: the prior mean, count 0
    assert got[1] == pytest.approx([0.4, 0.5, 0.0])
    # row 3 (b) is among the fitting rows here: its own target counts, which is why fold_inputs never does this
    assert got[2] == pytest.approx([(0.6 + 0.8) / 3, (0.5 + 1.0) / 3, 1.0])


def test_no_row_sees_its_own_target() -> None:
    data = _data()
    train, test = np.array([0, 1, 2, 3, 4, 5, 6]), np.array([7, 8, 9])
    x, _ = fold_inputs(data, "all_descriptors_artist", train, test, prior=5.0, inner_folds=3, seed=0)
    for row in range(len(ARTISTS)):
        moved = data.targets.copy()
        moved[row] += 100.0
        changed = SpotifyData(data.ids, data.descriptors, moved, data.artists, data.groups, data.info)
        y, _ = fold_inputs(changed, "all_descriptors_artist", train, test, prior=5.0, inner_folds=3, seed=0)
        assert y[row, -3:] == pytest.approx(x[row, -3:]), f"row {row}'s encoding moved with its own target"
        if row in test:  # a test row's target enters nobody's encoding
            assert y[:, -3:][np.r_[train, test]] == pytest.approx(x[:, -3:][np.r_[train, test]])


def test_test_rows_are_encoded_from_every_training_row() -> None:
    data = _data()
    train, test = np.array([0, 1, 2, 3, 4, 5, 6]), np.array([7, 8, 9])
    x, _ = fold_inputs(data, "all_descriptors_artist", train, test, prior=5.0, inner_folds=3, seed=0)
    y = data.targets
    mean = y[train].mean(0)
    a_rows = [0, 1, 2]  # artist a among the training rows; row 7 is a's test row
    assert x[7, -3:-1] == pytest.approx((y[a_rows].sum(0) + 5.0 * mean) / (3 + 5.0))
    assert x[7, -1] == 3 and x[9, -1] == 1 and x[8, -1] == 2


def test_input_sets_columns_and_training_median_fill() -> None:
    data = _data()
    train, test = np.array([0, 1, 2, 3, 4, 6]), np.array([5, 7, 8, 9])
    assert INPUT_SETS["readme_nine"] == README_NINE and len(README_NINE) == 9
    widths = {}
    for name in INPUT_SETS:
        x, fills = fold_inputs(data, name, train, test, prior=5.0, inner_folds=2, seed=0)
        widths[name] = x.shape[1]
        assert not np.isnan(x[np.r_[train, test]]).any()
        assert x[:, :9] == pytest.approx(data.descriptors[:, :9])
        if name != "readme_nine":
            year = ALL_DESCRIPTORS.index("release_year")
            known_train = [0, 1, 3, 4, 6]  # row 2 is missing; test rows never enter the fill
            assert fills["release_year"]["value"] == pytest.approx(np.median(data.descriptors[known_train, year]))
            assert fills["release_year"]["rows"] == 2 and x[5, year] == x[2, year] == fills["release_year"]["value"]
    assert widths == {"readme_nine": 9, "all_descriptors": 12, "all_descriptors_artist": 12 + len(ARTIST_COLUMNS)}
    with pytest.raises(ValueError, match="unknown input set 'lyrics'"):
        fold_inputs(data, "lyrics", train, test, prior=5.0, inner_folds=2, seed=0)


def test_groups_join_repeats_and_group_folds_keep_them_together() -> None:
    groups = track_groups(pd.Series(["Song", "song ", "Song", None, "Other"]), pd.Series(["x", "x", "y", "x", "x"]),
                          pd.Series(["i0", "i1", "i2", "i3", "i4"]))
    assert groups.tolist() == [0, 0, 1, 2, 3]  # same name (any case) + artist; no name -> its own group
    many = np.repeat(np.arange(20), np.arange(20) % 3 + 1)  # 20 groups of 1..3 rows
    folds = group_kfold(many, 4, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(many)))
    for fold in folds:  # every row of a group in the fold is in the fold
        assert set(np.flatnonzero(np.isin(many, many[fold]))) == set(fold.tolist())
    assert max(map(len, folds)) - min(map(len, folds)) <= 3
    with pytest.raises(ValueError, match="at least 4 groups"):
        group_kfold(np.zeros(10), 4, seed=0)

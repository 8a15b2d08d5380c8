"""Ensembles and their tuning: the session split, the row normalisations, the grid's fast
ranks against the dense ranks, the coordinate search."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.session.data import SessionPairs
from encore.recall.session.ensemble import (
    combine,
    coordinate_search,
    grid_ranks,
    model_component,
    normalise_rows,
    objective,
    session_groups,
    tune_report_split,
    weight_grid,
)
from encore.recall.session.metrics import target_ranks


def test_split_keeps_each_session_on_one_side():
    sessions = [[1, 2, 3, 4], [5, 6], [1, 2, 7], [8, 9, 10], [3, 3, 3]]
    pairs = SessionPairs.from_sessions(sessions)
    assert session_groups(pairs.sequences).tolist() == [0, 0, 0, 1, 2, 2, 3, 3, 4, 4]
    tune, report = tune_report_split(pairs.sequences, seed=1)
    assert sorted([*tune, *report]) == list(range(len(pairs)))
    group = session_groups(pairs.sequences)
    assert not set(group[tune]) & set(group[report])
    again = tune_report_split(pairs.sequences, seed=1)
    assert again[0].tolist() == tune.tolist()


def test_row_normalisations_by_hand():
    s = normalise_rows(np.array([[-np.inf, 2.0, -1.0, 4.0], [-np.inf, 0.0, 0.0, 0.0]]))
    assert s.tolist() == [[0.0, 0.5, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    m = model_component(np.array([[-np.inf, 0.0, np.log(2.0), np.log(4.0)]]))
    assert m[0].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0])
    c = combine({"a": s, "b": normalise_rows(np.array([[0, 1.0, 0, 0], [0, 0, 2.0, 0]]))}, {"a": 1.0, "b": 2.0})
    assert c[0].tolist() == [-np.inf, 2.5, 0.0, 1.0] and c[1].tolist() == [-np.inf, 0.0, 2.0, 0.0]
    assert objective({"P@20": 23.5, "MRR@20": 4.51}) == pytest.approx(0.5)


def test_grid_ranks_match_the_dense_ranks_up_to_the_cutoff():
    rng = np.random.default_rng(3)
    b, n = 40, 60
    comps = {"a": normalise_rows(np.round(rng.random((b, n + 1)) * (rng.random((b, n + 1)) < 0.2), 1)),
             "b": normalise_rows(np.round(rng.random((b, n + 1)) * (rng.random((b, n + 1)) < 0.1), 1)),
             "m": model_component(rng.normal(size=(b, n + 1)))}
    labels = rng.integers(1, n + 1, size=b)
    grid = weight_grid(["a", "b", "m"], {"b": (0.0, 0.5, 2.0), "m": (0.0, 0.25, 1.0)})
    assert len(grid) == 9 and grid[0] == {"a": 1.0, "b": 0.0, "m": 0.0}
    for w, fast in zip(grid, grid_ranks(comps, labels, grid, top=4, cutoff=10)):
        dense = target_ranks(combine(comps, w), labels)
        inside = dense <= 10
        assert fast[inside].tolist() == dense[inside].tolist(), w
        assert (fast[~inside] > 10).all(), w


def test_coordinate_search_walks_one_axis_at_a_time_and_evaluates_each_point_once():
    calls = []

    def evaluate(p):  # best at x = 2, y = 1; P@20 carries the objective, MRR@20 is ample
        calls.append(dict(p))
        return {"P@20": 23.5 * (1 - abs(p["x"] - 2) / 10 - abs(p["y"] - 1) / 10), "MRR@20": 100.0}

    best, seen = coordinate_search({"x": 0, "y": 0}, {"x": [0, 1, 2, 3], "y": [0, 1, 2]}, evaluate)
    assert best == {"x": 2, "y": 1}
    assert len(calls) == len({repr(sorted(c.items())) for c in calls}) == len(seen)
    assert max(seen, key=lambda r: r["objective"])["params"] == best


def test_sparse_grid_ranks_are_the_dense_ranks():
    from encore.recall.session.ensemble import sparse_grid_ranks
    from encore.recall.session.knn import coo_dense

    rng = np.random.default_rng(5)
    b, n = 30, 50
    parts = {}
    for c, size in (("a", 200), ("b", 60)):  # duplicates summed; ties from rounding
        parts[c] = (rng.integers(0, b, size), rng.integers(1, n + 1, size), np.round(rng.random(size), 1))
    labels = rng.integers(1, n + 1, size=b)
    dense = {c: normalise_rows(coo_dense(*p, b, n + 1)) for c, p in parts.items()}
    grid = weight_grid(["a", "b"], {"b": (0.0, 0.3, 1.0, 5.0)})
    for w, fast in zip(grid, sparse_grid_ranks(parts, labels, grid)):
        assert fast.tolist() == target_ranks(combine(dense, w), labels).tolist(), w

"""The dense-chunk product + top-k (:func:`batch_times_csr_top_k`) is exactly the sparse
path (``top_k_per_row(batch_times_csr(...))``): same entries, same order, same floats,
ties by column, non-positive sums dropped, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.sparse import (
    Csr, batch_times_csr, batch_times_csr_top_k, dense_top_k, sum_duplicates, top_k_per_row,
)


def test_hand_made_product_ties_by_column_and_drops_non_positive() -> None:
    # 3 tracks; graph rows: 0 -> {1: 0.5, 2: 0.5}, 1 -> {0: 1.0}, 2 -> {0: 0.25, 1: 0.25}
    graph = Csr.from_coo(np.array([0, 0, 1, 2, 2]), np.array([1, 2, 0, 0, 1]),
                         np.array([0.5, 0.5, 1.0, 0.25, 0.25]), 3, 3)
    # query 0: source 0 (+1)      -> track 1: 0.5, track 2: 0.5 (tie: column 1 first)
    # query 1: source 1 (+1), source 2 (-2) -> track 0: 1 - 0.5 = 0.5, track 1: -0.5 (dropped)
    # query 2: nothing
    rows, cols, vals = batch_times_csr_top_k(np.array([0, 1, 1]), np.array([0, 1, 2]), np.array([1.0, 1.0, -2.0]),
                                             graph, 3, k=5)
    assert rows.tolist() == [0, 0, 1] and cols.tolist() == [1, 2, 0]
    assert vals.tolist() == [0.5, 0.5, 0.5]
    rows, cols, _ = batch_times_csr_top_k(np.array([0]), np.array([0]), np.array([1.0]), graph, 1, k=1)
    assert rows.tolist() == [0] and cols.tolist() == [1]  # the tie at the cut keeps the smaller column


@pytest.mark.parametrize("max_rows,max_entries", [(512, 4_000_000), (3, 50), (1, 1)])
def test_equals_the_sparse_path_on_random_batches(max_rows: int, max_entries: int) -> None:
    rng = np.random.default_rng(0)
    n, b = 60, 25
    src, dst = rng.integers(0, n, 600), rng.integers(0, n, 600)
    graph = Csr.from_coo(src, dst, rng.integers(1, 4, 600) / 4.0, n, n)  # quarter weights: many ties
    rows = rng.integers(0, b - 2, 200)  # the last two rows have no sources
    cols = rng.integers(0, n, 200)
    vals = rng.choice([1.0, 0.5, -1.0, 2.0], 200) * rng.random(200).round(1)
    for k in (1, 5, 40, 100):
        want = top_k_per_row(*batch_times_csr(*sum_duplicates(rows, cols, vals, n), graph), b, k)
        got = batch_times_csr_top_k(rows, cols, vals, graph, b, k, max_entries=max_entries, max_rows=max_rows)
        for w, g in zip(want, got):
            assert np.array_equal(w, g)


def test_dense_top_k_keeps_all_ties_at_the_threshold_before_cutting() -> None:
    scores = np.array([[0.0, 2.0, 1.0, 2.0, 2.0], [-1.0, 0.0, 0.0, 0.0, 0.0]])
    rows, cols, vals = dense_top_k(scores, 2)
    assert rows.tolist() == [0, 0] and cols.tolist() == [1, 3] and vals.tolist() == [2.0, 2.0]

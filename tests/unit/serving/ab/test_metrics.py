"""Per-listener list metrics and curves (encore.serving.ab.metrics) by hand."""

from __future__ import annotations

import numpy as np
import pytest

from encore.serving.ab.metrics import Catalogue, coverage, coverage_curve, list_metrics, long_tail_curve, mrr

# tracks 1..10; track t by artist (t - 1) // 2; plays: track 1 most played, then 2, ...
CAT = Catalogue(track_ids=np.arange(1, 11), artist_ids=(np.arange(1, 11) - 1) // 2,
                plays=np.array([50.0, 20, 10, 5, 5, 4, 3, 2, 1, 0]))


def test_mrr_by_hand():
    lists = np.array([[5, 3, 9], [1, 2, -1], [7, 8, 4]])
    truth = [np.array([9]), np.array([4]), np.array([7, 4])]
    assert mrr(lists, truth).tolist() == pytest.approx([1 / 3, 0.0, 1.0])


def test_list_metrics_by_hand():
    lists = np.array([[1, 2, 3, 10], [9, 10, -1, -1]])
    truth = [np.array([3]), np.array([10])]
    played = [np.array([1, 2]), np.array([])]
    out = list_metrics(lists, truth, played, [2, 4], CAT, head_share=0.2)  # head: the 2 most played, {1, 2}
    assert out["hr@2"].tolist() == [0, 1] and out["hr@4"].tolist() == [1, 1]
    assert out["mrr"].tolist() == pytest.approx([1 / 3, 1 / 2])
    assert out["long_tail_share"].tolist() == pytest.approx([2 / 4, 2 / 2])
    # artists: [0, 0, 1, 4] -> 3 of 4; [4, 4] -> 1 of 2
    assert out["artist_diversity"].tolist() == pytest.approx([3 / 4, 1 / 2])
    assert out["repeat_share"].tolist() == pytest.approx([2 / 4, 0.0])
    # self-information -log2((plays + 1) / (100 + 10)); list 2: tracks 9 (1 play) and 10 (0)
    info = -np.log2((CAT.plays + 1) / 110)
    assert out["novelty"][0] == pytest.approx(info[[0, 1, 2, 9]].mean())
    assert out["novelty"][1] == pytest.approx(info[[8, 9]].mean())


def test_coverage_and_curves_by_hand():
    lists = np.array([[1, 2, 3], [1, 4, -1]])
    assert coverage(lists, 1, 10) == pytest.approx(0.1)  # {1}
    assert coverage(lists, 3, 10) == pytest.approx(0.4)  # {1, 2, 3, 4}
    assert coverage(lists, 3, 10, rows=np.array([1, 1])) == pytest.approx(0.2)
    assert coverage_curve(lists, 10) == pytest.approx([0.1, 0.3, 0.4])
    curve = long_tail_curve(lists, CAT, points=10)
    # 5 listed slots; the top 10% of the catalogue (track 1) holds 2 of them, the top 20% 3, the top 40% 5
    assert curve["x"][:4] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert curve["y"][:4] == pytest.approx([0.4, 0.6, 0.8, 1.0])

"""The SR-GNN session graph: the paper's example session v1 -> v2 -> v3 -> v2 -> v4."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.session.graph import graph_batch, session_graph


def test_paper_example_adjacency_by_hand():
    # items 11, 12, 13, 14 stand for v1 .. v4
    nodes, alias, a_in, a_out = session_graph([11, 12, 13, 12, 14])
    assert nodes.tolist() == [11, 12, 13, 14]
    assert alias.tolist() == [0, 1, 2, 1, 3]
    # edges v1->v2, v2->v3, v3->v2, v2->v4; v2 has two outgoing and two incoming edges
    half = 0.5
    assert a_out.tolist() == [[0, 1, 0, 0],
                              [0, 0, half, half],
                              [0, 1, 0, 0],
                              [0, 0, 0, 0]]
    assert a_in.tolist() == [[0, 0, 0, 0],
                             [half, 0, half, 0],
                             [0, 1, 0, 0],
                             [0, 1, 0, 0]]


def test_repeated_pair_counts_once_and_self_loop():
    nodes, alias, a_in, a_out = session_graph([5, 6, 5, 6, 6])
    assert nodes.tolist() == [5, 6]
    # edges 5->6, 6->5, 6->6: node 6 has two outgoing edges (5 and itself)
    assert a_out.tolist() == [[0, 1], [0.5, 0.5]]
    assert a_in.tolist() == [[0, 1], [0.5, 0.5]]


def test_batch_pads_and_cuts():
    g = graph_batch([[11, 12, 13, 12, 14], [7]], max_length=4)
    assert g.items.tolist() == [[12, 13, 12, 14], [7, 0, 0, 0]]
    assert g.mask.tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]
    assert g.nodes.tolist() == [[12, 13, 14], [7, 0, 0]]
    assert g.alias.tolist() == [[0, 1, 0, 2], [0, 0, 0, 0]]
    assert g.last.tolist() == [3, 0]
    assert g.a_out[1].sum() == 0 and g.a_in.shape == (2, 3, 3)


def test_empty_session_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        session_graph([])
    assert np.isfinite(session_graph([3])[3]).all()

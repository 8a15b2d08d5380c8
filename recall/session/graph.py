"""The session graph of SR-GNN (Wu, S. et al. 2019, "Session-based recommendation with
graph neural networks", AAAI), batched and padded for the gated GNN.

A session s = (v_1 .. v_L) becomes a directed graph over its U distinct items, one edge
v_t -> v_{t+1} per click pair (a repeated pair counts once, as in SR-GNN's reference
code). Two normalised adjacency matrices (U, U) are read by the GNN:

* outgoing A_out[i, j] = 1 / outdeg(i) for each edge i -> j (rows of A_out sum to 1);
* incoming A_in[i, j] = 1 / indeg(i) for each edge j -> i (rows of A_in sum to 1).

The paper's example v1 -> v2 -> v3 -> v2 -> v4 gives, in node order (v1, v2, v3, v4),
A_out rows v1: [0, 1, 0, 0], v2: [0, 0, 1/2, 1/2], v3: [0, 1, 0, 0], v4: 0 and A_in rows
v1: 0, v2: [1/2, 0, 1/2, 0], v3: [0, 1, 0, 0], v4: [0, 1, 0, 0].

``alias`` maps each click position t to its node, so the GNN's node states can be read
back as the sequence (B, T, D).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SessionGraphBatch:
    """B sessions padded to T clicks and U nodes.

    ``items`` (B, T) int64: the clicks (0 = padding); ``mask`` (B, T) float32;
    ``nodes`` (B, U) int64: each session's distinct items in order of first click
    (0 = padding); ``alias`` (B, T) int64: the node of each click; ``a_in`` and
    ``a_out`` (B, U, U) float32: the normalised adjacency; ``last`` (B,) the position of
    the last click."""

    items: np.ndarray
    mask: np.ndarray
    nodes: np.ndarray
    alias: np.ndarray
    a_in: np.ndarray
    a_out: np.ndarray
    last: np.ndarray


def session_graph(session: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(nodes (U,), alias (L,), a_in (U, U), a_out (U, U)) of one session (see the module
    docstring); nodes in order of first click."""
    seq = np.asarray(session, dtype=np.int64)
    if seq.ndim != 1 or not len(seq):
        raise ValueError("a session is a non-empty 1-d sequence of item ids")
    nodes, first, alias = np.unique(seq, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # node order = first click
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    nodes, alias = nodes[order], rank[alias]
    u = len(nodes)
    adj = np.zeros((u, u), np.float32)
    adj[alias[:-1], alias[1:]] = 1.0  # a repeated pair counts once
    out_deg = adj.sum(axis=1, keepdims=True)
    in_deg = adj.sum(axis=0, keepdims=True)
    a_out = np.divide(adj, out_deg, out=np.zeros_like(adj), where=out_deg > 0)
    a_in = np.divide(adj, in_deg, out=np.zeros_like(adj), where=in_deg > 0).T
    return nodes, alias.astype(np.int64), np.ascontiguousarray(a_in), a_out


def graph_batch(sessions: Sequence[Sequence[int]], max_length: int | None = None) -> SessionGraphBatch:
    """The padded batch of ``sessions`` (each cut to its last ``max_length`` clicks)."""
    cut = [list(s)[-max_length:] if max_length else list(s) for s in sessions]
    graphs = [session_graph(s) for s in cut]
    b = len(cut)
    t = max(len(s) for s in cut)
    u = max(len(g[0]) for g in graphs)
    items = np.zeros((b, t), np.int64)
    mask = np.zeros((b, t), np.float32)
    nodes = np.zeros((b, u), np.int64)
    alias = np.zeros((b, t), np.int64)
    a_in = np.zeros((b, u, u), np.float32)
    a_out = np.zeros((b, u, u), np.float32)
    for i, (s, (n, al, ai, ao)) in enumerate(zip(cut, graphs)):
        items[i, :len(s)] = s
        mask[i, :len(s)] = 1.0
        nodes[i, :len(n)] = n
        alias[i, :len(s)] = al
        a_in[i, :len(n), :len(n)] = ai
        a_out[i, :len(n), :len(n)] = ao
    last = np.array([len(s) - 1 for s in cut], np.int64)
    return SessionGraphBatch(items, mask, nodes, alias, a_in, a_out, last)

"""The Last.fm knowledge-graph benchmark protocol (HetRec 2011 Last.FM with KGCN's
knowledge graph, :mod:`encore.platform.data.lastfm_kg`) and the scorers compared on it.

Data: the (user, artist) pairs of ``user_artists.dat`` whose artist is in the KG
(``item_index2entity_id.txt``), as a 0/1 matrix (users x KG-mapped artists), play
counts ignored (the KGCN CTR setting).

Split (:func:`holdout_split`, seeded): for each user, ``round(0.2 * n)`` of their n
artists (half up) are held out as test positives, and as many artists the user never
listened to (not in train nor test) are sampled uniformly without replacement as test
negatives. Metrics:

* **AUC** (:func:`auc`): the probability that a held-out positive outscores a sampled
  negative, over all test pairs pooled across users (ties count 1/2; the KGCN CTR AUC);
* **recall@K** (:func:`recall_at_k`): per user with a held-out artist, the share of them
  among the K best-scored artists not in the user's train set (ties: the smaller
  column), averaged over users.

Scorers (R: users x artists train matrix, A: artists x KG entities, 1 where a triple
links the artist's entity to the entity, either direction; every score (U, I)):

* ``popularity``: the artist's train listeners;
* ``item_cf``: sum over the user's artists j of cos(R[:, i], R[:, j]) (i != j);
* ``similar_listeners``: sum over the user's ``k`` most similar listeners v (cosine of
  rows) of cos(u, v) R[v, i] (user-based CF, the ``similar_listeners`` channel's rule);
* ``kg_walk``: a walk user -> artist -> KG entity -> artist over A only (each step
  uniform among the neighbours): the knowledge graph alone;
* ``p3`` and ``kg_p3``: the same three-step walk (P^3, Cooper et al. 2014) through
  the listeners only (``p3``) or through the listeners *and* the KG entities, the KG
  edges weighted ``beta`` (``kg_p3``): X = [R^T | beta K] (artists x (users + entities)),
  score = rownorm(R) . rownorm(X) . rownorm(X^T) with the diagonal (artist -> itself)
  zeroed. K = A + gamma * A2 (:func:`kg_context`), A2 the 0/1 two-hop links (the
  entities of artists that share an entity with this one: artist -> entity -> artist
  -> entity). ``beta`` and ``gamma`` are chosen on a validation split carved from the
  train set by the same rule with another seed (:func:`choose_kg_weights`), never on
  the test pairs;
* ``bpr_kg`` (learned): BPR-MF over users x artists whose artist vectors share their
  KG entities' vectors (:func:`bpr_kg`); weak alone, it is used blended with KG-P^3
  (:func:`blend`, both rank-normalised), the blend weight chosen on a validation split
  of the draw's train set (:func:`choose_blend`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    """Train matrix and test pairs of the protocol (module docstring)."""

    train: np.ndarray  # float32 (U, I), 1 where the user listened to the artist in train
    pos: np.ndarray  # int64 (P, 2): (user row, artist column) held out
    neg: np.ndarray  # int64 (N, 2): sampled unseen artists

    @property
    def test_users(self) -> int:
        return len(np.unique(self.pos[:, 0]))


@dataclass(frozen=True)
class LastfmMatrices:
    """The listening matrix and the KG links of the KG-mapped artists."""

    listens: np.ndarray  # float32 (U, I) 0/1
    kg: np.ndarray  # float32 (I, E) 0/1
    user_ids: np.ndarray  # int64 (U,)
    artist_ids: np.ndarray  # int64 (I,)

    def describe(self) -> dict[str, int]:
        return {"users": len(self.user_ids), "artists": len(self.artist_ids),
                "interactions": int(self.listens.sum()), "kg_entities": int(self.kg.shape[1]),
                "artist_kg_links": int(self.kg.sum())}


def matrices(user_artists: pd.DataFrame, kg: pd.DataFrame, artist_entity: pd.DataFrame) -> LastfmMatrices:
    """(users x mapped artists) and (mapped artists x entities) from the three frames of
    :class:`encore.platform.data.lastfm_kg.LastfmKG` (columns as loaded there)."""
    mapped = artist_entity.sort_values("artist_id")
    artist_ids = mapped["artist_id"].to_numpy(np.int64)
    entity_of = mapped["entity_id"].to_numpy(np.int64)
    pairs = user_artists[user_artists["artist_id"].isin(artist_ids)]
    user_ids, rows = np.unique(pairs["user_id"].to_numpy(np.int64), return_inverse=True)
    cols = np.searchsorted(artist_ids, pairs["artist_id"].to_numpy(np.int64))
    listens = np.zeros((len(user_ids), len(artist_ids)), np.float32)
    listens[rows.reshape(-1), cols] = 1.0
    entities = np.unique(np.concatenate([kg["head"].to_numpy(np.int64), kg["tail"].to_numpy(np.int64)]))
    col_of_entity = pd.Series(np.arange(len(artist_ids)), index=entity_of)
    links = np.zeros((len(artist_ids), len(entities)), np.float32)
    for a, b in (("head", "tail"), ("tail", "head")):
        side = kg[kg[a].isin(entity_of) & (kg[a] != kg[b])]
        links[col_of_entity.loc[side[a]].to_numpy(), np.searchsorted(entities, side[b].to_numpy(np.int64))] = 1.0
    return LastfmMatrices(listens, links, user_ids, artist_ids)


def holdout_split(listens: np.ndarray, share: float = 0.2, seed: int = 0) -> Split:
    """The per-user hold-out of the module docstring on a 0/1 (U, I) matrix."""
    rng = np.random.default_rng(seed)
    train = listens.astype(np.float32).copy()
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    n_items = listens.shape[1]
    for u in range(listens.shape[0]):
        items = np.flatnonzero(listens[u] > 0)
        n_test = math.floor(share * len(items) + 0.5)
        if n_test == 0:
            continue
        held = rng.permutation(items)[:n_test]
        train[u, held] = 0.0
        unseen = np.setdiff1d(np.arange(n_items), items)
        sampled = rng.choice(unseen, size=min(n_test, len(unseen)), replace=False)
        pos.append(np.stack([np.full(len(held), u), np.sort(held)], axis=1))
        neg.append(np.stack([np.full(len(sampled), u), np.sort(sampled)], axis=1))
    empty = np.zeros((0, 2), np.int64)
    return Split(train, np.concatenate(pos).astype(np.int64) if pos else empty,
                 np.concatenate(neg).astype(np.int64) if neg else empty)


def auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """P(a positive outscores a negative), ties 1/2 (the Mann-Whitney statistic)."""
    if not len(pos_scores) or not len(neg_scores):
        raise ValueError("AUC needs at least one positive and one negative score")
    ranks = pd.Series(np.concatenate([pos_scores, neg_scores]).astype(np.float64)).rank().to_numpy()
    p, n = len(pos_scores), len(neg_scores)
    return float((ranks[:p].sum() - p * (p + 1) / 2) / (p * n))


def recall_at_k(scores: np.ndarray, split: Split, k: int) -> float:
    """Mean over test users of the share of their held-out artists among the ``k``
    best-scored artists outside their train set (ties: the smaller column)."""
    masked = np.where(split.train > 0, -np.inf, scores.astype(np.float64))
    users = np.unique(split.pos[:, 0])
    order = np.argsort(-masked[users], axis=1, kind="stable")[:, :k]
    top = np.zeros((len(users), scores.shape[1]), bool)
    np.put_along_axis(top, order, True, axis=1)
    row = np.searchsorted(users, split.pos[:, 0])
    hits = top[row, split.pos[:, 1]]
    return float(pd.Series(hits).groupby(row).mean().mean())


def evaluate(scores: np.ndarray, split: Split, ks: Sequence[int] = (20,)) -> dict[str, float]:
    out = {"auc": auc(scores[split.pos[:, 0], split.pos[:, 1]], scores[split.neg[:, 0], split.neg[:, 1]])}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(scores, split, k)
    return out


# ----------------------------------------------------------------------------- scorers
def _rownorm(m: np.ndarray) -> np.ndarray:
    total = m.sum(axis=1, keepdims=True)
    return m / np.where(total > 0, total, 1.0)


def _cosine_rows(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    unit = m / np.where(norm > 0, norm, 1.0)
    sim = unit @ unit.T
    np.fill_diagonal(sim, 0.0)
    return sim


def popularity(train: np.ndarray) -> np.ndarray:
    return np.broadcast_to(train.sum(axis=0, keepdims=True), train.shape).astype(np.float32)


def item_cf(train: np.ndarray) -> np.ndarray:
    return train @ _cosine_rows(train.T)


def similar_listeners(train: np.ndarray, k: int = 100) -> np.ndarray:
    sim = _cosine_rows(train)
    if k < sim.shape[1]:
        kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1:k]
        sim = np.where(sim >= kth, sim, 0.0)  # ties at the k-th similarity all vote
    return sim @ train


def walk_scores(train: np.ndarray, contexts: np.ndarray) -> np.ndarray:
    """user -> artist -> context -> artist (``contexts``: artists x contexts weights),
    each step proportional to the edge weights; an artist's walk back to itself is
    dropped."""
    out = _rownorm(contexts)
    back = _rownorm(contexts.T)
    step = out @ back
    np.fill_diagonal(step, 0.0)
    return _rownorm(train) @ step


def kg_walk(train: np.ndarray, kg: np.ndarray) -> np.ndarray:
    return walk_scores(train, kg)


def two_hop(kg: np.ndarray) -> np.ndarray:
    """A2 of the module docstring (0/1, artists x entities)."""
    return np.minimum(kg @ (kg.T @ kg), 1.0)


def kg_context(kg: np.ndarray, gamma: float, hops: np.ndarray | None = None) -> np.ndarray:
    """K = A + gamma * A2 (module docstring; ``hops``: A2 if already computed); A alone
    when gamma is 0."""
    if gamma <= 0:
        return kg
    return kg + gamma * (two_hop(kg) if hops is None else hops)


def kg_p3(train: np.ndarray, kg: np.ndarray, beta: float) -> np.ndarray:
    """The walk through listeners and ``kg`` (already :func:`kg_context`) weighted ``beta``."""
    contexts = np.concatenate([train.T, beta * kg], axis=1) if beta > 0 else train.T
    return walk_scores(train, contexts)


def choose_kg_weights(train: np.ndarray, kg: np.ndarray, betas: Sequence[float], gammas: Sequence[float],
                      seed: int = 1) -> tuple[float, float, dict[str, float]]:
    """The (beta, gamma) with the best validation AUC (a hold-out of ``train`` by the
    same rule, another seed): (beta, gamma, {"beta=..,gamma=..": AUC}); ties: the
    smaller weights."""
    val = holdout_split(train, seed=seed)
    aucs: dict[str, float] = {}
    best: tuple[float, float, float] | None = None
    hops = two_hop(kg) if any(g > 0 for g in gammas) else None
    for gamma in gammas:
        context = kg_context(kg, gamma, hops)
        for beta in betas:
            value = evaluate(kg_p3(val.train, context, beta), val, ks=())["auc"]
            aucs[f"beta={beta},gamma={gamma}"] = value
            if best is None or value > best[0]:
                best = (value, float(beta), float(gamma))
    assert best is not None, "betas and gammas must not be empty"
    return best[1], best[2], aucs


# ----------------------------------------------------------------------------- learned
def bpr_kg(train: np.ndarray, kg: np.ndarray, *, dim: int = 32, epochs: int = 40, lr: float = 0.05,
           reg: float = 1e-3, kg_share: float = 1.0, batch: int = 1024, seed: int = 0) -> np.ndarray:
    """BPR matrix factorisation (Rendle et al. 2009) over users x artists whose artist
    vectors are a free part plus ``kg_share`` x the mean of the artist's KG-entity
    vectors (the CKE / KG-regularised MF idea, Zhang et al. 2016, without the TransE
    loss): artists sharing KG entities share part of their vector. Returns (U, I)
    scores u . v_i.

    train: (U, I) 0/1, kg: (I, E) 0/1. Shapes inside: P (U, d), Q (I, d), G (E, d);
    v_i = Q_i + kg_share * sum_e rownorm(kg)[i, e] G_e. Each epoch samples one unseen
    artist per train pair (uniform), mini-batch SGD on -log sigmoid(u.v_pos - u.v_neg)
    with L2 ``reg`` on the rows touched."""
    rng = np.random.default_rng(seed)
    n_users, n_items = train.shape
    users, items = np.nonzero(train > 0)
    link_i, link_e = np.nonzero(kg > 0)
    deg = np.bincount(link_i, minlength=n_items).astype(np.float64)
    link_w = 1.0 / deg[link_i]  # rownorm(kg) as (artist, entity, weight) triples
    starts = np.searchsorted(link_i, np.arange(n_items + 1))
    p = rng.normal(0, 0.1, (n_users, dim))
    q = rng.normal(0, 0.1, (n_items, dim))
    g = rng.normal(0, 0.1, (kg.shape[1], dim)) if kg_share > 0 else np.zeros((kg.shape[1], dim))

    def item_vectors() -> np.ndarray:
        mix = np.zeros((n_items, dim))
        if kg_share > 0 and len(link_i):
            np.add.at(mix, link_i, link_w[:, None] * g[link_e])
        return q + kg_share * mix

    for _ in range(epochs):
        order = rng.permutation(len(users))
        negs = rng.integers(0, n_items, len(users))
        bad = train[users, negs] > 0
        while bad.any():  # resample the negatives that were listened to
            negs[bad] = rng.integers(0, n_items, int(bad.sum()))
            bad = train[users, negs] > 0
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            u, i, j = users[idx], items[idx], negs[idx]
            v = item_vectors()
            pu, vi, vj = p[u], v[i], v[j]
            x = np.sum(pu * (vi - vj), axis=1)
            c = 1.0 / (1.0 + np.exp(np.clip(x, -30, 30)))  # d(-log sigmoid(x))/dx = -c
            grad_p = -c[:, None] * (vi - vj) + reg * pu
            grad_v = np.zeros((n_items, dim))
            np.add.at(grad_v, i, -c[:, None] * pu)
            np.add.at(grad_v, j, c[:, None] * pu)
            touched = np.unique(np.concatenate([i, j]))
            np.add.at(p, u, -lr * grad_p)
            q[touched] -= lr * (grad_v[touched] + reg * q[touched])
            if kg_share > 0:
                sel = np.concatenate([np.arange(starts[t], starts[t + 1]) for t in touched])
                grad_g = np.zeros_like(g)
                np.add.at(grad_g, link_e[sel], kg_share * link_w[sel, None] * grad_v[link_i[sel]])
                ents = np.unique(link_e[sel])
                g[ents] -= lr * (grad_g[ents] + reg * g[ents])
    return (p @ item_vectors().T).astype(np.float32)


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among all entries of the matrix, scaled to (0, 1] (ties: mean
    rank); makes scorers on different scales blendable without changing either's AUC."""
    flat = pd.Series(scores.reshape(-1).astype(np.float64)).rank().to_numpy()
    return (flat / len(flat)).reshape(scores.shape)


def blend(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) x rank_normalise(first) + weight x rank_normalise(second)."""
    return (1.0 - weight) * rank_normalise(first) + weight * rank_normalise(second)


def choose_blend(train: np.ndarray, context: np.ndarray, beta: float, kg: np.ndarray, weights: Sequence[float],
                 seed: int = 1, **bpr: Any) -> tuple[float, dict[str, float]]:
    """The weight of :func:`bpr_kg` in :func:`blend` with KG-P^3 (``context`` already
    :func:`kg_context`, ``beta``) with the best AUC on a validation hold-out of
    ``train`` (same rule, seed ``seed``): (weight, {"w=..": AUC}); ties: the smaller
    weight. ``bpr``: keyword arguments of :func:`bpr_kg`."""
    val = holdout_split(train, seed=seed)
    walk = kg_p3(val.train, context, beta)
    walk_rank, learned_rank = rank_normalise(walk), rank_normalise(bpr_kg(val.train, kg, **bpr))
    aucs = {f"w={w}": evaluate((1.0 - w) * walk_rank + w * learned_rank, val, ks=())["auc"] for w in weights}
    best = max(weights, key=lambda w: (aucs[f"w={w}"], -w))
    return float(best), aucs

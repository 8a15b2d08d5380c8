"""P@K (hit rate) and MRR@K of next-item predictions over the full item set, as SR-GNN
reports them: P@K = share of pairs whose target is among the top K, MRR@K = mean of
1 / rank of the target (0 beyond K).

Rank from a dense score row (B, N + 1): 1 + the items scoring strictly higher + the
items scoring the same with a smaller id (ties: smaller id first, the ``Candidates``
rule), so a target tied with many unscored items is not counted as a hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CUTOFFS = (20, 10)


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(B,) rank (1 = best) of each row's target among all columns."""
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    own = scores[np.arange(len(targets)), targets][:, None]
    higher = (scores > own).sum(axis=1)
    cols = np.arange(scores.shape[1])[None, :]
    tied_before = ((scores == own) & (cols < targets[:, None])).sum(axis=1)
    return higher + tied_before + 1


@dataclass
class RankAccumulator:
    """Running P@K and MRR@K (in percent, as the papers print them)."""

    cutoffs: tuple[int, ...] = CUTOFFS
    n: int = 0
    hits: dict[int, float] = field(default_factory=dict)
    rr: dict[int, float] = field(default_factory=dict)

    def add(self, ranks: np.ndarray) -> None:
        ranks = np.asarray(ranks)
        self.n += len(ranks)
        for k in self.cutoffs:
            inside = ranks <= k
            self.hits[k] = self.hits.get(k, 0.0) + float(inside.sum())
            self.rr[k] = self.rr.get(k, 0.0) + float((1.0 / ranks[inside]).sum())

    def result(self) -> dict[str, float]:
        if not self.n:
            raise ValueError("no pairs were evaluated")
        out: dict[str, float] = {}
        for k in self.cutoffs:
            out[f"P@{k}"] = round(100.0 * self.hits[k] / self.n, 2)
            out[f"MRR@{k}"] = round(100.0 * self.rr[k] / self.n, 2)
        out["pairs"] = self.n
        return out

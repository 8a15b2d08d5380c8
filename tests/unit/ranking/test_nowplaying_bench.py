"""The Nowplaying next-item task (encore.ranking.nowplaying_bench): rows by hand, and DIN
beating the no-sequence ranker on sessions whose next item follows from the prefix."""

from __future__ import annotations

import numpy as np
import pytest

from encore.platform.config import RankingConfig
from encore.ranking.nowplaying_bench import nowplaying_claims, nowplaying_study, task_rows


def test_task_rows_by_hand():
    counts = np.array([0, 5, 1, 0, 2, 0, 0, 0, 0, 0])
    items = np.array([1, 2, 4, 9])
    frame = task_rows([(1, 2, 4), (9, 1)], 10, items, counts, negatives=2, sequence_length=2,
                      rng=np.random.default_rng(0))
    # pairs: [1]->2, [1,2]->4, [9]->1; 3 rows each (the true item first)
    assert len(frame) == 9
    assert frame["track_id"].iloc[[0, 3, 6]].tolist() == [2, 4, 1]
    assert frame["complete_play"].tolist() == [1, 0, 0] * 3
    assert frame["play_track_ids"].iloc[[0, 3, 6]].tolist() == [(1,), (1, 2), (9,)]
    assert frame["session_id"].iloc[[0, 3, 6]].tolist() == ["10", "10", "11"]
    negatives = frame[frame["complete_play"] == 0]
    assert set(negatives["track_id"]) <= set(items.tolist())
    for true, neg in zip([2, 4, 1], negatives["track_id"].to_numpy().reshape(3, 2)):
        assert true not in neg  # a negative is never the true item
    assert frame["track_plays"].iloc[0] == 1 and frame["track_plays"].iloc[6] == 5
    assert frame["user_id"].isna().all()


@pytest.mark.slow
def test_din_uses_the_prefix_where_the_next_item_follows_from_it(tmp_path):
    rng = np.random.default_rng(1)
    # item i is followed by item i % 60 + 1: a session walks the ring from a random start
    sessions = [tuple(int((s + k) % 60 + 1) for k in range(int(rng.integers(3, 8))))
                for s in rng.integers(0, 60, 500)]
    cfg = RankingConfig(epochs=3, item_dim=8, embedding_dim=4, hidden_units=[16], attention_units=[16],
                        gru_units=8, batch_size=256, learning_rate=0.01, sequence_length=5)
    out = nowplaying_study(sessions, 60, cfg, tmp_path, train_sessions=420, test_sessions=80, negatives=1,
                           models=("baseline", "din"))
    res = out["results"]
    assert out["data"]["test_rows"] == 2 * sum(len(s) - 1 for s in sessions[-80:])
    assert res["din"]["auc"] > 0.7 and res["din"]["auc"] > res["baseline"]["auc"] + 0.15, res
    assert abs(res["popularity"]["auc"] - 0.5) < 0.15  # a uniform ring: popularity knows nothing
    assert out["paired_auc_difference"]["din-baseline"]["ci_low"] > 0
    [claim] = nowplaying_claims(out)  # DIEN did not run: only DIN's claim
    assert claim["holds"] and claim["source"] == "nowplaying" and claim["claim"].startswith("DIN beats")

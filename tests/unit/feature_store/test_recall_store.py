"""The online recall table: lists round-trip exactly (no pickle), a newer date wins,
an older one never overwrites, lookups of many users in chunks."""

from __future__ import annotations

import numpy as np

from encore.feature_store.recall_store import RecallStore


def test_lists_round_trip_and_the_newer_date_wins(tmp_path) -> None:
    store = RecallStore(tmp_path / "recall.db")
    assert store.write("item_cf", "2026-01-10", "v0002", [(1, [5, 3, 9], [0.9, 0.5, 0.25]), (2, [], [])]) == 2
    store.write("item_cf", "2026-01-09", "v0001", [(1, [7], [1.0])])  # an older backfill: ignored
    store.write("popular", "2026-01-09", "v0001", [(1, [7], [1.0])])  # another channel: its own row
    got = RecallStore(tmp_path / "recall.db").get("item_cf", [1, 2, 3])
    assert sorted(got) == [1, 2]
    assert got[1].track_ids.tolist() == [5, 3, 9] and got[1].track_ids.dtype == np.int64
    assert got[1].scores.tolist() == np.float32([0.9, 0.5, 0.25]).tolist() and got[1].scores.dtype == np.float32
    assert (got[1].date, got[1].version) == ("2026-01-10", "v0002")
    assert len(got[2].track_ids) == 0
    store.write("item_cf", "2026-01-11", "v0003", [(1, [4], [2.0])])
    assert store.get("item_cf", [1])[1].track_ids.tolist() == [4]
    assert store.count() == 3 and store.count("item_cf") == 2


def test_many_users_are_read_in_chunks(tmp_path) -> None:
    store = RecallStore(tmp_path / "recall.db")
    store.write("c", "2026-01-01", "v1", [(u, [u], [1.0]) for u in range(1200)])
    got = store.get("c", range(1300))
    assert len(got) == 1200 and got[1199].track_ids.tolist() == [1199]

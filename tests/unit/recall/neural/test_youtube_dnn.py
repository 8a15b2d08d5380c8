"""The neural recall base and YouTube-DNN: encoding by hand, sample labels by hand, a
planted taste signal, save -> load -> identical recall, ScaNN serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import ChannelConfig
from encore.recall.neural.encoding import Vocabulary, encode_queries
from encore.recall.neural.samples import plays_from_log, sample_points
from encore.recall.query import Profile
from encore.recall.registry import build_channel, load_channel

from testkit.recall import AS_OF, HOUR, catalog, query
from testkit.recall_neural import TASTE_GROUPS, planted_tables

pytestmark = pytest.mark.slow


def test_encoding_by_hand():
    tracks = catalog([10, 20, 30], genres=["rock", "pop", "rock"], languages=["en", "en", "es"], artists=[1, 2, 1])
    vocab = Vocabulary.fit(tracks, None)
    assert vocab.track_genre.tolist() == [0, 2, 1, 2]  # pad, rock, pop, rock (sorted: pop=1, rock=2)
    q = query(plays=[(20, 1), (99, 2), (30, 3)], session=[30],
              profile=Profile(genres=("rock", "jazz"), genre_weights=(1.0, 0.5), artist_ids=(2,), artist_weights=(1.0,)))
    f = encode_queries([q], vocab, history_length=4, session_length=2)
    assert f["history"].tolist() == [[2, 3, 0, 0]]  # 99 is outside the catalog: dropped, not a hole
    assert f["session"].tolist() == [[3, 0]]
    assert f["genres"][0, :2].tolist() == [2, 0] and f["genre_weights"][0, :2].tolist() == [1.0, 0.0]  # jazz unknown
    assert f["artists"][0, 0] == 2 and f["artist_weights"][0, 0] == 1.0
    assert f["hour"].tolist() == [AS_OF // HOUR % 24]


def test_labels_of_plays_follow_their_outcome():
    rows = [(1, 10, 1000, "play_start"), (1, 10, 201_000, "play_end"),   # complete (200 s of 200 s)
            (1, 20, 300_000, "play_start"), (1, 20, 310_000, "skip"),      # skipped
            (1, 30, 400_000, "play_start"), (1, 30, 420_000, "play_end"),  # 20 s: incomplete
            (1, 40, 500_000, "play_start")]                                  # no outcome yet
    from testkit.recall import plays

    ev = plays(rows)
    ev.loc[ev["action"] == "play_end", "played_ms"] = pd.array([200_000, 20_000], dtype="Int64")
    out = plays_from_log(ev, catalog([10, 20, 30, 40])).sort_values("ts_ms")
    assert out["track_id"].tolist() == [10, 20, 30, 40]
    assert out["label"].tolist() == [1, 0, 0, 0]


@pytest.fixture(scope="module")
def planted():
    return planted_tables()


@pytest.fixture(scope="module")
def fitted(planted):
    config = ChannelConfig(name="ytdnn", kind="youtube_dnn", k=20, quota=10,
                           params={"epochs": 8, "batch_size": 64, "embedding_dim": 16, "learning_rate": 0.01,
                                   "hidden_units": [32], "history_length": 10})
    return build_channel(config).fit(planted)


def test_sample_cap_bounds_the_always_on_listener(planted):
    capped = sample_points(planted, sampling=planted.sampling, sample_cap=True, seed=1)
    uncapped = sample_points(planted, sampling=planted.sampling, sample_cap=False, seed=1)
    bot = 999
    assert (uncapped["user_id"] == bot).sum() > 3 * (capped["user_id"] == bot).sum()
    assert (capped["user_id"] != bot).sum() == (uncapped["user_id"] != bot).sum()


def test_recall_follows_the_planted_taste(fitted):
    for group, tracks in TASTE_GROUPS.items():
        other = set().union(*(t for g, t in TASTE_GROUPS.items() if g != group))
        q = query(user_id=5000 + group, plays=[(t, AS_OF - 1000 * (i + 1)) for i, t in enumerate(tracks[:5])])
        top = fitted.recall([q], 10)[0].track_ids.tolist()
        assert sum(t in tracks for t in top) >= 8, (group, top)
        assert sum(t in other for t in top) <= 2


def test_a_listener_without_history_still_gets_candidates(fitted):
    q = query(user_id=123456, profile=Profile(genres=("rock",), genre_weights=(1.0,)))
    found = fitted.recall([q], 10)[0]
    assert len(found) == 10 and np.all(np.diff(found.scores) <= 0)
    assert found.reason_of(0) == "history"


def test_save_load_gives_identical_recall(fitted, tmp_path, planted):
    fitted.save(tmp_path / "ytdnn")
    loaded = load_channel(tmp_path / "ytdnn")
    assert loaded.training["samples"] == fitted.training["samples"] > 0
    queries = [query(user_id=u, plays=[(t, AS_OF - 1000 * (i + 1)) for i, t in enumerate(tracks[:3])])
               for u, tracks in TASTE_GROUPS.items()] + [query(user_id=77)]
    for a, b in zip(fitted.recall(queries, 15), loaded.recall(queries, 15)):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    loaded.save(tmp_path / "again")  # a loaded channel re-saves (the registry copies it)
    again = load_channel(tmp_path / "again")
    assert again.recall(queries[:1], 5)[0].track_ids.tolist() == loaded.recall(queries[:1], 5)[0].track_ids.tolist()


def test_scann_index_serves_the_channel(planted, tmp_path):
    config = ChannelConfig(name="yt_scann", kind="youtube_dnn", k=20, quota=10,
                           params={"epochs": 1, "batch_size": 64, "embedding_dim": 16, "hidden_units": [16],
                                   "ann": {"min_items_for_scann": 10, "num_leaves": 4, "num_leaves_to_search": 4,
                                           "reorder_k": 40}})
    channel = build_channel(config).fit(planted)
    assert channel._indexes["history"].kind == "scann"
    q = [query(user_id=1, plays=[(t, AS_OF - 1000) for t in TASTE_GROUPS[0][:3]])]
    exact_ids, _ = channel._indexes["history"].search_exact(channel.query_vectors(q)["history"][0][:, 0], 10)
    assert set(channel.recall(q, 10)[0].track_ids.tolist()) == set(exact_ids[0].tolist())
    channel.save(tmp_path / "s")
    loaded = load_channel(tmp_path / "s")
    assert loaded._indexes["history"].kind == "scann"
    assert loaded.recall(q, 10)[0].track_ids.tolist() == channel.recall(q, 10)[0].track_ids.tolist()

"""The session GNN as a recall channel: fit on a tiny log, recall from the session (or
the recent plays), save -> load -> identical candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import ChannelConfig
from encore.recall import ChannelArtifactError, build_channel, load_channel

from testkit.recall import AS_OF, HOUR, catalog, plays, query, tables

TRACKS = [10, 20, 30, 40, 50, 60]


def tiny_tables():
    rows = []
    for user in range(1, 13):
        # two moods: 10 -> 20 -> 30 and 40 -> 50 -> 60, in separate sessions
        start = AS_OF - (user + 1) * HOUR
        seq = [10, 20, 30] if user % 2 else [40, 50, 60]
        rows += [(user, t, start + i * 60_000) for i, t in enumerate(seq)]
    events = plays(rows)
    events["session_id"] = events["user_id"].astype(str) + "-s"
    cat = catalog(TRACKS)
    cat["valence"] = np.array([0.8, 0.7, 0.9, -0.8, -0.7, -0.9], np.float32)
    cat["arousal"] = np.array([0.5, 0.4, 0.6, -0.5, -0.4, -0.6], np.float32)
    return tables(cat, events)


def gnn(**params):
    base = {"hidden": 8, "epochs": 30, "batch_size": 8, "learning_rate": 0.02}
    return build_channel(ChannelConfig(name="session_gnn", kind="session_gnn", k=3, quota=3,
                                       params={**base, **params}))


@pytest.mark.slow
def test_fit_recall_save_load_identical(tmp_path):
    channel = gnn().fit(tiny_tables())
    queries = [query(session=[10, 20]), query(session=[40, 50]), query(plays=[(40, AS_OF)]), query()]
    first = channel.recall(queries, k=3)
    assert first[0].track_ids[0] == 30 and first[1].track_ids[0] == 60  # the learnt continuation
    assert len(first[2]) == 3  # empty session: falls back to the recent plays (DailyRecommend)
    assert len(first[3]) == 0  # nothing known: no candidates
    channel.save(tmp_path / "gnn")
    loaded = load_channel(tmp_path / "gnn")
    again = loaded.recall(queries, k=3)
    for a, b in zip(first, again):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)
    assert loaded.training["epochs"] == 30 and loaded.training["samples"] == 24  # 12 sessions of 3 plays: 2 pairs each


def test_missing_model_file_is_a_clear_error(tmp_path):
    channel = gnn(epochs=1, hetero=False, emotion=False).fit(tiny_tables())
    channel.save(tmp_path / "gnn")
    (tmp_path / "gnn" / "model.json").unlink()
    with pytest.raises(ChannelArtifactError, match="model.json"):
        load_channel(tmp_path / "gnn")


def test_catalog_without_emotion_is_refused():
    t = tiny_tables()
    bare = t.__class__(tracks=t.tracks.drop(columns=["valence", "arousal"]), events=t.events, as_of_ms=t.as_of_ms)
    with pytest.raises(ValueError, match="valence and arousal"):
        gnn(epochs=1).fit(bare)
    assert isinstance(t.tracks, pd.DataFrame)


def test_predicted_emotion_file_replaces_the_catalog(tmp_path):
    from encore.recall.session.emotion import emotion_from_tracks

    cat = tiny_tables().tracks
    pd.DataFrame({"track_id": [30, 10, 99], "predicted_valence": [0.1, 0.2, 0.3],
                  "predicted_arousal": [-0.1, -0.2, -0.3]}).to_parquet(tmp_path / "track_emotion.parquet")
    table = emotion_from_tracks(cat, f"predicted:{tmp_path / 'track_emotion.parquet'}", np.array(TRACKS))
    # row j + 1 is TRACKS[j]; 99 is not in the catalog, 20 has no prediction
    assert table.shape == (7, 2) and table[0].tolist() == [0, 0]
    np.testing.assert_allclose(table[1], [0.2, -0.2])
    np.testing.assert_allclose(table[3], [0.1, -0.1])
    assert table[2].tolist() == [0, 0]
    truth = emotion_from_tracks(cat, "catalog", np.array(TRACKS))
    np.testing.assert_allclose(truth[1:, 0], cat["valence"].to_numpy())

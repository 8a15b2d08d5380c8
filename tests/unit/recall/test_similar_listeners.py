"""The ``similar_listeners`` channel on a tiny hand-made log (every similarity computed
by hand), its Python neighbour search, save -> load, and the complete-play signal."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import ChannelConfig
from encore.recall import build_channel, load_channel


from testkit.recall import AS_OF, DAY, catalog, plays, query, tables

# Play counts in the window (signal "plays"): log(1 + count), rows L2-normalised.
#   user 1: tracks 1, 2          -> (1, 1) / sqrt 2
#   user 2: tracks 1, 2, 3       -> (1, 1, 1) / sqrt 3
#   user 3: track 1 x3, track 4  -> log 4 = 2 log 2, so (2, 1) / sqrt 5
#   user 4: tracks 5, 6          -> (1, 1) / sqrt 2
#   user 5: tracks 1, 3          -> (1, 1) / sqrt 2
# cosine with user 1: user 2 2/sqrt 6, user 3 2/sqrt 10, user 5 1/2, user 4 0.
COUNTS = {1: {1: 1, 2: 1}, 2: {1: 1, 2: 1, 3: 1}, 3: {1: 3, 4: 1}, 4: {5: 1, 6: 1}, 5: {1: 1, 3: 1}}
S2, S3, S5 = 2 / math.sqrt(6), 2 / math.sqrt(10), 0.5


def log():
    rows = [(u, t, AS_OF - DAY + 60_000 * i) for u, counts in COUNTS.items()
            for t, c in counts.items() for i in range(c)]
    return plays(rows)


def channel(neighbours=3, **params):
    config = ChannelConfig(name="similar_listeners", kind="similar_listeners", k=10, quota=5,
                           params={"signal": "plays", "neighbours": neighbours, **params})
    return build_channel(config).fit(tables(catalog(range(1, 8)), log()))


def test_similar_listeners_are_the_hand_computed_cosines():
    got = channel().similar_listeners(1, k=5)
    assert [u for u, _ in got] == [2, 3, 5]  # user 4 shares nothing; user 1 is not its own neighbour
    np.testing.assert_allclose([s for _, s in got], [S2, S3, S5], rtol=1e-6)
    assert [u for u, _ in channel().similar_listeners(1, k=1)] == [2]
    assert channel().similar_listeners(99) == []
    with pytest.raises(ValueError, match="k must be"):
        channel().similar_listeners(1, k=0)


def test_recall_sums_the_neighbours_similarity_and_names_how_many_finished_it():
    q = query(user_id=1, plays=[(1, AS_OF), (2, AS_OF)])  # the same vector as user 1's row
    [c] = channel().recall([q], k=10)
    # track 3: users 2 and 5; track 4: user 3; heard tracks 1, 2 are never candidates
    assert c.track_ids.tolist() == [3, 4]
    np.testing.assert_allclose(c.scores, [S2 + S5, S3], rtol=1e-6)
    assert [c.text_of(i) for i in range(2)] == ["2 listeners like you finished this",
                                               "A listener like you finished this"]
    assert c.reason_of(0) == "listeners:2"
    # one neighbour: only user 2 votes
    [one] = channel(neighbours=1).recall([q], k=10)
    assert one.track_ids.tolist() == [3] and one.scores[0] == pytest.approx(S2, rel=1e-6)
    # neighbours above min_similarity only (user 5's 0.5 and user 3's 0.632 drop out)
    [strict] = channel(min_similarity=0.7).recall([q], k=10)
    assert strict.track_ids.tolist() == [3] and strict.scores[0] == pytest.approx(S2, rel=1e-6)


def anonymous(**kw):
    return replace(query(**kw), user_id=None, anonymous_id="dev-1")


def test_anonymous_and_empty_queries():
    ch = channel()
    [anon, empty] = ch.recall([anonymous(plays=[(5, AS_OF)]), query(user_id=7)], k=10)
    assert anon.track_ids.tolist() == [6] and anon.scores[0] == pytest.approx(1 / math.sqrt(2), rel=1e-6)
    assert len(empty) == 0
    [(users, sims)] = ch.neighbours([anonymous(plays=[(1, AS_OF), (2, AS_OF)])], k=2)
    assert users.tolist() == [1, 2]  # an anonymous query may match every fitted listener
    np.testing.assert_allclose(sims, [1.0, S2], rtol=1e-6)


def test_completes_signal_counts_only_finished_plays():
    events = plays([(1, 1, AS_OF - DAY, "play_end"), (1, 2, AS_OF - DAY, "play_end"),
                    (2, 1, AS_OF - DAY, "play_end"), (2, 3, AS_OF - DAY, "play_end")])
    events["played_ms"] = pd.array([200_000, 200_000, 200_000, 10_000], dtype="Int64")  # user 2 skipped 3
    config = ChannelConfig(name="sl", kind="similar_listeners", k=10, quota=5)
    ch = build_channel(config).fit(tables(catalog(range(1, 5)), events))
    [(u, s)] = ch.similar_listeners(2, k=5)
    assert u == 1 and s == pytest.approx(1 / math.sqrt(2), rel=1e-6)  # user 2's row is track 1 alone
    [c] = ch.recall([query(user_id=2, plays=[(1, AS_OF)])], k=10)
    assert c.track_ids.tolist() == [2]


def test_save_load_gives_identical_candidates_and_neighbours(tmp_path):
    original = channel()
    original.save(tmp_path / "sl")
    loaded = load_channel(tmp_path / "sl")
    queries = [query(user_id=1, plays=[(1, AS_OF), (2, AS_OF - DAY)]), anonymous(plays=[(5, AS_OF)]),
               query(user_id=3, hearts=[(4, AS_OF)])]
    for a, b in zip(original.recall(queries, k=4), loaded.recall(queries, k=4)):
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.reasons, b.reasons)
        assert a.reason_names == b.reason_names and a.reason_texts == b.reason_texts
    assert loaded.similar_listeners(1, 5) == original.similar_listeners(1, 5)

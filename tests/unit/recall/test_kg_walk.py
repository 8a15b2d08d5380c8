"""The knowledge graph and the ``kg_walk`` channel on a hand-made graph (every reach
probability computed by hand), save -> load, the serving explanation, and the planted
show / season signal of the recall test world."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from encore.platform.config import ChannelConfig, KGWalkParams
from encore.recall import build_channel, load_channel
from encore.recall.kg import KnowledgeGraph, invert_steps
from encore.recall.kg_walk import rank_fusion
from encore.serving.rerank import ChannelAnswer, merge

from testkit.recall import AS_OF, DAY, HOUR, catalog, plays, query, tables

# The hand-made graph. Albums 10 = {1, 2, 3} and 11 = {4, 5} by artist 20 (X), album
# 12 = {6} by artist 21 (Y), album 13 = {7, 8} by artist 22 (Z). Show 0 is the
# soundtrack of tracks 1 and 6; show 1 is a variety season of artists Y and Z.
ALBUM = {1: 10, 2: 10, 3: 10, 4: 11, 5: 11, 6: 12, 7: 13, 8: 13}
ARTIST = {10: 20, 11: 20, 12: 21, 13: 22}
TRIPLES = pd.DataFrame(
    [(f"track:{t}", "in_album", f"album:{a}") for t, a in ALBUM.items()]
    + [(f"album:{a}", "by_artist", f"artist:{r}") for a, r in ARTIST.items()]
    + [("track:1", "soundtrack_of", "show:0"), ("track:6", "soundtrack_of", "show:0"),
       ("artist:21", "appeared_in", "show:1"), ("artist:22", "appeared_in", "show:1"),
       ("track:1", "has_genre", "genre:pop"), ("track:99", "in_album", "album:10")],  # 99: not in the catalog
    columns=["head", "relation", "tail"])
NAMES = pd.DataFrame({"entity": ["show:0", "show:1", "artist:20", "artist:21", "artist:22"],
                      "name": ["Soundtrack 0", "Variety season 1", "Artist X", "Artist Y", "Artist Z"]})
TRACKS = list(range(1, 9))
ALL_PATHS = {"album": 1.0, "artist": 1.0, "soundtrack": 1.0, "season": 1.0}
META_PATHS = KGWalkParams().meta_paths

# Reach_m[s, t] by hand (each step uniform among the neighbours), from tracks 1 and 6:
#   album:      1 -> 10 -> {1, 2, 3}: 1/3 each;                      6 -> 12 -> {6}
#   artist:     1 -> 10 -> 20 -> {10, 11} (1/2) -> 10: 1/3 each of 1, 2, 3 -> 1/6;
#               11: 1/2 each of 4, 5 -> 1/4;                          6 -> 12 -> 21 -> 12 -> 6
#   soundtrack: 1 -> show 0 -> {1, 6}: 1/2 each;                     6: the same
#   season:     1 -> 10 -> 20: appeared nowhere, the walk dies;
#               6 -> 12 -> 21 -> show 1 -> {21, 22} (1/2) -> 21: 12 -> 6 (1/2); 22: 13 -> {7, 8} (1/4 each)
REACH = {
    "album": {1: {1: 1 / 3, 2: 1 / 3, 3: 1 / 3}, 6: {6: 1.0}},
    "artist": {1: {1: 1 / 6, 2: 1 / 6, 3: 1 / 6, 4: 1 / 4, 5: 1 / 4}, 6: {6: 1.0}},
    "soundtrack": {1: {1: 0.5, 6: 0.5}, 6: {1: 0.5, 6: 0.5}},
    "season": {1: {}, 6: {6: 0.5, 7: 0.25, 8: 0.25}},
}


def kg_channel(k=10, **params):
    # the plain reach probabilities, summed over meta-paths, unless a test says otherwise
    params = {"pivot_focus": 1.0, "combine": "sum", "recency_half_life_hours": 24.0, **params}
    config = ChannelConfig(name="kg", kind="kg_walk", k=k, quota=min(k, 5), params=params)
    return build_channel(config).fit(tables(catalog(TRACKS), triples=TRIPLES, entity_names=NAMES))


def answer(candidates):
    return [(int(t), round(float(s), 6), c) for t, s, c in
            zip(candidates.track_ids, candidates.scores, (candidates.reason_of(i) for i in range(len(candidates))))]


def test_graph_types_relations_and_neighbours():
    kg = KnowledgeGraph.from_triples(TRIPLES, np.array(TRACKS))
    assert kg.types == ["album", "artist", "genre", "show", "track"]
    assert (kg.n("track"), kg.n("album"), kg.n("show")) == (8, 4, 2)
    assert len(kg.relations["in_album"].heads) == 8  # the triple of track 99 is dropped
    assert kg.neighbours("track:1", "in_album") == ["album:10"]
    assert kg.neighbours("album:10", "~in_album") == ["track:1", "track:2", "track:3"]
    assert kg.neighbours("show:1", "~appeared_in") == ["artist:21", "artist:22"]
    assert kg.path_types(META_PATHS["season"]) == ["track", "album", "artist", "show"]
    assert invert_steps(META_PATHS["season"]) == ["~appeared_in", "~by_artist", "~in_album"]
    with pytest.raises(ValueError, match="starts at"):
        kg.path_types(["in_album", "in_album"])
    with pytest.raises(KeyError, match="no relation"):
        kg.walk(["sung_by"])


@pytest.mark.parametrize("name", sorted(META_PATHS))
def test_walk_reach_probabilities_match_the_hand_computed_ones(name):
    kg = KnowledgeGraph.from_triples(TRIPLES, np.array(TRACKS))
    steps = META_PATHS[name]
    out, back = kg.walk(steps), kg.walk(invert_steps(steps))
    dense_out = np.zeros((out.n_rows, out.n_cols))
    dense_out[np.repeat(np.arange(out.n_rows), np.diff(out.indptr)), out.indices] = out.data
    dense_back = np.zeros((back.n_rows, back.n_cols))
    dense_back[np.repeat(np.arange(back.n_rows), np.diff(back.indptr)), back.indices] = back.data
    reach = dense_out @ dense_back  # tracks x tracks, columns = catalog order 1..8
    for source, expected in REACH[name].items():
        want = np.zeros(8)
        for t, p in expected.items():
            want[t - 1] = p
        np.testing.assert_allclose(reach[source - 1], want, atol=1e-6)


def test_walk_scores_are_weighted_reach_and_each_candidate_names_its_best_path():
    # normalise="walk": score = sum_m w_m * sum_s a(s) Reach_m[s, t]; one source (1, a = 1):
    # 2, 3 = 1/3 (album) + 1/6 (artist); 6 = 1/2 (soundtrack); 4, 5 = 1/4 (artist); 1 is heard
    channel = kg_channel(normalise="walk", path_weights=ALL_PATHS)
    one, two, empty = channel.recall([query(plays=[(1, AS_OF)]),
                                      # a(1) = 0.5 / 1.5, a(6) = 1 / 1.5 (half-life 24 h)
                                      query(plays=[(1, AS_OF - DAY), (6, AS_OF)]),
                                      query(user_id=2)], k=10)
    assert answer(one) == [(2, 0.5, "album|1|album:10"), (3, 0.5, "album|1|album:10"),
                           (6, 0.5, "soundtrack|1|show:0"), (4, 0.25, "artist|1|artist:20"),
                           (5, 0.25, "artist|1|artist:20")]
    assert one.text_of(2) == "Because you played track 1 from the soundtrack of Soundtrack 0"
    assert one.text_of(0) == "Because you played track 1 from the same album (album 10)"
    assert one.text_of(3) == "Because you played track 1 by Artist X"
    # 2, 3 = 1/3 * 1/2; 7, 8 = 2/3 * 1/4 (season via show 1); 4, 5 = 1/3 * 1/4
    assert answer(two) == [(2, 0.166667, "album|1|album:10"), (3, 0.166667, "album|1|album:10"),
                           (7, 0.166667, "season|6|show:1"), (8, 0.166667, "season|6|show:1"),
                           (4, 0.083333, "artist|1|artist:20"), (5, 0.083333, "artist|1|artist:20")]
    assert two.text_of(2) == "Because you played track 6 by Artist Y, who appeared in Variety season 1 with this artist"
    assert len(empty) == 0 and empty.reasons is not None


def test_path_normalisation_divides_by_the_surviving_walk_mass():
    # normalise="path": the season walk survives only from 6 (mass 2/3), so 7, 8 = (1/6) / (2/3) = 1/4;
    # album, artist and soundtrack walks survive from both sources (mass 1): unchanged
    [two] = kg_channel(path_weights=ALL_PATHS).recall([query(plays=[(1, AS_OF - DAY), (6, AS_OF)])], k=3)
    assert answer(two) == [(7, 0.25, "season|6|show:1"), (8, 0.25, "season|6|show:1"),
                           (2, 0.166667, "album|1|album:10")]
    # configured weights scale each path: soundtrack and season only
    [one] = kg_channel(path_weights={"soundtrack": 2.0, "season": 1.0}).recall([query(plays=[(1, AS_OF)])], k=10)
    assert answer(one) == [(6, 1.0, "soundtrack|1|show:0")]


def test_pivot_focus_sharpens_the_mass_on_each_pivot():
    # a(1) = 1/3, a(6) = 2/3; focus 2: album pivots 10 (1/3) and 12 (2/3) -> 1/9, 4/9, rescaled to
    # total 1 -> 1/5, 4/5, so 2, 3 = 1/5 * 1/3 (album) + 1/5 * 1/6 (artist, pivots 20 and 21 alike) = 1/10;
    # 4, 5 = 1/5 * 1/4; the season walk has one pivot (show 1, 2/3): 7, 8 = 2/3 * 1/4 unchanged
    [two] = kg_channel(normalise="walk", path_weights=ALL_PATHS, pivot_focus=2.0).recall(
        [query(plays=[(1, AS_OF - DAY), (6, AS_OF)])], k=10)
    assert answer(two) == [(7, 0.166667, "season|6|show:1"), (8, 0.166667, "season|6|show:1"),
                           (2, 0.1, "album|1|album:10"), (3, 0.1, "album|1|album:10"),
                           (4, 0.05, "artist|1|artist:20"), (5, 0.05, "artist|1|artist:20")]


def test_hearts_skips_and_the_unheard_filter():
    channel = kg_channel(normalise="walk", path_weights=ALL_PATHS)
    # a heart of 6 weighs like a play (heart_boost 1): a(1) = a(6) = 1/2
    [hearted] = channel.recall([query(plays=[(1, AS_OF)], hearts=[(6, AS_OF)])], k=10)
    assert dict(zip(hearted.track_ids.tolist(), hearted.scores.tolist()))[7] == pytest.approx(0.125)
    i = hearted.track_ids.tolist().index(7)
    assert hearted.text_of(i) == ("Because you hearted track 6 by Artist Y, who appeared in Variety season 1 "
                                  "with this artist")
    # a skip cancels the play of the same track: no source is left
    [skipped] = channel.recall([query(plays=[(1, AS_OF)], skips=[(1, AS_OF)])], k=10)
    assert len(skipped) == 0
    # heard anywhere in the query (session, dislikes, skips) is never a candidate
    q = replace(query(plays=[(1, AS_OF)], skips=[(4, AS_OF - 30 * DAY)], session=[2]), dislike_track_ids=(3,))
    [got] = channel.recall([q], k=10)
    assert set(got.track_ids.tolist()) == {5, 6}
    # tracks outside the catalog are ignored as sources
    [unknown] = channel.recall([query(plays=[(999, AS_OF)])], k=10)
    assert len(unknown) == 0


def discovery_log():
    """Users 1..3 play track 1, then play track 6 to the end: each discovery of 6 is
    reachable only by the soundtrack walk (reach 1/2 of mass 1)."""
    rows = []
    for u in (1, 2, 3):
        t0 = AS_OF - 2 * DAY + u * HOUR
        rows += [(u, 1, t0, "play_start"), (u, 6, t0 + 300_000, "play_start"), (u, 6, t0 + 500_000, "play_end")]
    events = plays(rows)
    events["played_ms"] = pd.array([None, None, 200_000] * 3, dtype="Int64")
    return events


def test_path_weights_are_counted_from_the_log():
    events = discovery_log()
    channel = build_channel(ChannelConfig(name="kg", kind="kg_walk", k=10, quota=5)).fit(
        tables(catalog(TRACKS), events, triples=TRIPLES, entity_names=NAMES))
    # precision: soundtrack 1/2 per unit mass, album and artist 0, season never applies
    assert channel.path_weights == {"album": 0.0, "artist": 0.0, "soundtrack": 1.0, "season": 0.0}
    assert channel.arrays["fit_events"].tolist() == [3]
    np.testing.assert_allclose(channel.arrays["fit_coverage"], [0, 0, 1, 0])
    # no discovery: uniform weights
    assert set(kg_channel().path_weights.values()) == {0.25}


def test_save_load_gives_identical_candidates_and_reasons(tmp_path):
    original = kg_channel(normalise="walk")
    original.save(tmp_path / "kg")
    loaded = load_channel(tmp_path / "kg")
    queries = [query(plays=[(1, AS_OF - DAY), (6, AS_OF)]), query(plays=[(1, AS_OF)], hearts=[(6, AS_OF)]),
               query(user_id=3)]
    for a, b in zip(original.recall(queries, k=4), loaded.recall(queries, k=4)):
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.reasons, b.reasons)
        assert a.reason_names == b.reason_names and a.reason_texts == b.reason_texts
    assert loaded.path_weights == original.path_weights


def test_a_meta_path_over_a_missing_relation_is_empty_and_bad_paths_are_refused():
    channel = kg_channel(meta_paths={"album": ["in_album"], "tag": ["has_tag"]}, path_weights={"album": 1, "tag": 1})
    [got] = channel.recall([query(plays=[(1, AS_OF)])], k=10)
    assert got.track_ids.tolist() == [2, 3]
    with pytest.raises(ValueError, match="from a track to another entity type"):
        kg_channel(meta_paths={"back": ["in_album", "~in_album"]})
    with pytest.raises(ValidationError, match="unknown meta-paths"):
        KGWalkParams(path_weights={"nope": 1.0})
    with pytest.raises(Exception, match="triples are needed"):
        build_channel(ChannelConfig(name="kg", kind="kg_walk")).fit(tables(catalog(TRACKS)))


def test_serving_merge_explains_items_by_their_path():
    [one] = kg_channel(normalise="walk", path_weights=ALL_PATHS).recall([query(plays=[(1, AS_OF)])], k=10)
    merged = merge([ChannelAnswer("kg_walk", one, quota=3, reason="Connected to what you play")],
                   np.array([3]), rrf_k=60.0)
    assert merged.track_ids.tolist() == [2, 6, 4]
    assert merged.reasons.tolist() == ["Because you played track 1 from the same album (album 10)",
                                       "Because you played track 1 from the soundtrack of Soundtrack 0",
                                       "Because you played track 1 by Artist X"]


# -- the planted signal of the recall test world --------------------------------------------
def test_kg_walk_beats_item_cf_on_tracks_tied_only_through_a_show_or_season(recall_world, recall_batch):
    from encore.recall.evaluate import evaluate_channels, holdout_day, last_day
    from encore.recall.graph_bench import graph_only_truth
    from encore.recall.queries import QueryParams

    holdout = holdout_day(recall_world.path, recall_batch, last_day(recall_world.path), params=QueryParams())
    assert holdout.tables.triples is not None and holdout.tables.entity_names is not None
    channels = [build_channel(ChannelConfig(name=n, kind=n, k=500, quota=100)).fit(holdout.tables)  # defaults
                for n in ("item_cf", "kg_walk")]
    graph_only = graph_only_truth(holdout)
    assert sum(len(g) > 0 for g in graph_only) > 50
    tied = evaluate_channels(channels, holdout.queries, graph_only, ks=(50, 200))
    overall = evaluate_channels(channels, holdout.queries, holdout.truth, ks=(200,), new_truth=holdout.new_truth)
    # measured on this world: 0.085 against 0.046 at 50, 0.214 against 0.197 at 200
    assert tied["kg_walk"]["recall@50"] > 1.5 * tied["item_cf"]["recall@50"]
    assert tied["kg_walk"]["recall@200"] > tied["item_cf"]["recall@200"]
    assert overall["kg_walk"]["new_recall@200"] > overall["item_cf"]["new_recall@200"]
    weights = channels[1].path_weights
    assert weights["soundtrack"] > 0.1 and weights["season"] > 0.05
    # every candidate carries a path sentence
    [c] = channels[1].recall(holdout.queries[:1], k=20)
    assert len(c) and all(c.text_of(i).startswith("Because you ") for i in range(len(c)))


def test_rank_fusion_and_interleave_by_hand():
    # candidates (row, col): (0, 0), (0, 1), (0, 2), (1, 0); meta-path 0 weight 1, meta-path 1 weight 0.25
    cols, rows = np.array([0, 1, 2, 0]), np.array([0, 0, 0, 1])
    inverse = np.array([0, 1, 2, 1, 1, 3])
    path = np.array([0, 0, 1, 1, 1, 1])
    value = np.array([0.5, 0.3, 0.2, 0.05, 0.05, 0.7])  # (0, 1) on path 1: 0.1, second after (0, 2)
    weights = np.array([1.0, 0.25])
    # ranks, row 0: path 0: col 0 -> 1, col 1 -> 2; path 1: col 2 -> 1, col 1 -> 2; row 1: path 1: col 0 -> 1
    fused = rank_fusion(cols, rows, inverse, path, value, weights, constant=1.0)
    np.testing.assert_allclose(fused, [1 / 2, 1 / 3 + 0.25 / 3, 0.25 / 2, 0.25 / 2])
    best = rank_fusion(cols, rows, inverse, path, value, weights, constant=1.0, best=True)
    np.testing.assert_allclose(best, [1 / 2, 1 / 3, 0.25 / 2, 0.25 / 2])


def test_interleave_gives_each_meta_path_its_quota_of_the_top():
    # from track 6 (module example): summed, the album/artist walks (reach 1 on track 6, heard) die out and the
    # soundtrack (1: 1/2) and season (7, 8: 1/4) walks remain; with equal quotas each path's best comes first
    one = kg_channel(combine="interleave", share_power=0.0, rank_constant=1.0,
                     path_weights={"album": 1, "artist": 1, "soundtrack": 1, "season": 1}
                     ).recall([query(plays=[(6, AS_OF)])], k=10)[0]
    assert [int(t) for t in one.track_ids] == [1, 7, 8]
    np.testing.assert_allclose(one.scores, [1 / 2, 1 / 2, 1 / 3], rtol=1e-6)

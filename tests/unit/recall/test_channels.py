"""Hand-computed cases for every baseline channel, and save -> load -> same recall."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import ChannelConfig, RecallConfig
from encore.recall import CHANNEL_KINDS, ChannelArtifactError, build_channel, load_channel
from encore.recall.query import Profile

from testkit.recall import AS_OF, DAY, HOUR, catalog, plays, query, tables


def channel(kind, k=10, **params):
    return build_channel(ChannelConfig(name=f"test_{kind}", kind=kind, k=k, quota=min(k, 5), params=params))


def as_lists(candidates):
    return candidates.track_ids.tolist(), candidates.scores.tolist()


# -- item-CF on a 4-track graph ------------------------------------------------------------
GRAPH = pd.DataFrame({
    "src_track_id": [10, 10, 20, 30, 40],
    "dst_track_id": [20, 30, 30, 40, 10],
    "weight": [0.5, 0.25, 1.0, 0.5, 1.0],
})


def item_cf():
    return channel("item_cf", recency_half_life_hours=24.0, heart_boost=1.0, skip_penalty=1.0).fit(
        tables(catalog([10, 20, 30, 40]), item_graph=GRAPH))


def test_item_cf_sums_recency_weighted_associations_hearts_boost_skips_cancel():
    # sources: 10 played now (1.0); 20 played a day ago (0.5) and skipped then (-0.5) -> 0;
    # 30 hearted now (+1.0). Scores: 20 = 1*0.5, 30 = 1*0.25 + 0*1.0, 40 = 1*0.5
    q = query(plays=[(20, AS_OF - DAY), (10, AS_OF)], hearts=[(30, AS_OF)], skips=[(20, AS_OF - DAY)])
    [got] = item_cf().recall([q], k=10)
    assert as_lists(got) == ([20, 40, 30], [0.5, 0.5, 0.25])
    assert got.scores.dtype == np.float32 and got.track_ids.dtype == np.int64


def test_item_cf_without_skip_the_skipped_track_recommends_its_neighbours():
    q = query(plays=[(20, AS_OF - DAY), (10, AS_OF)], hearts=[(30, AS_OF)])
    [got] = item_cf().recall([q], k=2)
    # 30 = 0.25 + 0.5 * 1.0 = 0.75 now leads; k=2 keeps two
    assert as_lists(got) == ([30, 20], [0.75, 0.5])


def test_item_cf_batches_queries_and_gives_nothing_without_history():
    cf = item_cf()
    a, empty, b = cf.recall([query(plays=[(40, AS_OF)]), query(user_id=2), query(plays=[(30, AS_OF)])], k=5)
    assert as_lists(a) == ([10], [1.0]) and len(empty) == 0 and as_lists(b) == ([40], [0.5])


def test_item_cf_ignores_tracks_outside_the_catalog():
    [got] = item_cf().recall([query(plays=[(999, AS_OF), (40, AS_OF)])], k=5)
    assert as_lists(got) == ([10], [1.0])


# -- V-SKNN on 3 sessions ------------------------------------------------------------------
SESSIONS = pd.DataFrame({
    "session_id": ["a", "b", "c"],
    "start_ms": [AS_OF - 3 * HOUR, AS_OF - 2 * HOUR, AS_OF - HOUR],
    "track_ids": [np.array([1, 2, 3]), np.array([2, 4]), np.array([3, 4, 5])],
})


def sknn(**params):
    return channel("session_knn", **params).fit(tables(catalog([1, 2, 3, 4, 5]), sessions=SESSIONS))


def test_vsknn_linear_decay_dot_product_similarity():
    # session [2, 3]: w(2) = 1/2, w(3) = 2/2. sim(a) = 1.5, sim(b) = 0.5, sim(c) = 1.0
    # score(1) = 1.5, (2) = 1.5 + 0.5, (3) = 1.5 + 1.0, (4) = 0.5 + 1.0, (5) = 1.0
    [got] = sknn().recall([query(session=[2, 3])], k=10)
    assert as_lists(got) == ([3, 2, 1, 4, 5], [2.5, 2.0, 1.5, 1.5, 1.0])


def test_vsknn_keeps_the_top_m_neighbours():
    # neighbours a (1.5) and c (1.0)
    [got] = sknn(neighbours=2).recall([query(session=[2, 3])], k=10)
    assert as_lists(got) == ([3, 1, 2, 4, 5], [2.5, 1.5, 1.5, 1.0, 1.0])


def test_vsknn_samples_the_most_recent_sessions_sharing_an_item():
    # the 2 most recent sessions sharing an item are c and b
    [got] = sknn(sample_size=2).recall([query(session=[2, 3])], k=10)
    assert as_lists(got) == ([4, 3, 5, 2], [1.5, 1.0, 1.0, 0.5])


def test_vsknn_repeated_item_keeps_its_latest_weight_and_recent_plays_stand_in():
    # [3, 2, 3]: w(3) = max(1/3, 3/3) = 1, w(2) = 2/3; score(3) = sim(a) + sim(c) = 5/3 + 1
    [rep] = sknn().recall([query(session=[3, 2, 3])], k=1)
    assert rep.track_ids.tolist() == [3] and rep.scores[0] == pytest.approx(5 / 3 + 1, rel=1e-6)
    no_session = query(session=[], plays=[(2, AS_OF - HOUR), (3, AS_OF)])
    [fallback] = sknn().recall([no_session], k=10)
    assert as_lists(fallback) == ([3, 2, 1, 4, 5], [2.5, 2.0, 1.5, 1.5, 1.0])
    [none] = sknn(fallback_to_recent=False).recall([no_session], k=10)
    assert len(none) == 0


# -- popularity / trending / by hour ---------------------------------------------------------
POP_EVENTS = plays([(1, 1, AS_OF - DAY), (2, 1, AS_OF - DAY), (3, 2, AS_OF - DAY), (3, 2, AS_OF - 2 * DAY),
                    (4, 3, AS_OF - 18 * HOUR)])


def test_popularity_decays_counts_with_the_half_life():
    pop = channel("popularity", half_life_hours=24.0).fit(tables(catalog([1, 2, 3]), POP_EVENTS))
    [got] = pop.recall([query()], k=10)
    assert got.track_ids.tolist() == [1, 2, 3]
    np.testing.assert_allclose(got.scores, [1.0, 0.75, 2 ** -0.75], rtol=1e-6)
    long = channel("popularity", half_life_hours=1e6).fit(tables(catalog([1, 2, 3]), POP_EVENTS))
    assert long.recall([query()], k=10)[0].track_ids.tolist() == [1, 2, 3]  # 2 ~ 2 plays: id tie-break


def test_popularity_by_hour_scores_at_the_query_hour():
    pop = channel("popularity", half_life_hours=24.0, by_hour=True, hour_smoothing=0.2).fit(
        tables(catalog([1, 2, 3]), POP_EVENTS))
    total = 1.0 + 0.75 + 2 ** -0.75
    at_six, at_zero = pop.recall([query(hour=6), query(hour=0)], k=10)
    assert at_six.track_ids.tolist() == [3, 1, 2]  # only track 3 was played at 06:00
    np.testing.assert_allclose(at_six.scores, [0.8 + 0.2 * 2 ** -0.75 / total, 0.2 / total, 0.2 * 0.75 / total], rtol=1e-5)
    np.testing.assert_allclose(at_zero.scores[:2], [0.8 / 1.75 + 0.2 / total, 0.8 * 0.75 / 1.75 + 0.2 * 0.75 / total], rtol=1e-5)


# -- profile ------------------------------------------------------------------------------------
PROFILE_TRACKS = catalog([1, 2, 3, 4], genres=["pop", "rock", "rock", "jazz"], languages=["en", "en", "es", "es"])
USERS = pd.DataFrame({"user_id": [1, 2], "age_bucket": ["18-24", "45+"]})


def test_profile_scores_genre_language_artist_taste():
    prof = channel("profile", popularity_weight=0.0).fit(tables(PROFILE_TRACKS))
    p = Profile(genres=("rock",), genre_weights=(1.0,), languages=("es",), language_weights=(1.0,),
                artist_ids=(4,), artist_weights=(1.0,))
    [got] = prof.recall([query(profile=p)], k=10)
    # 3: rock + es = 1.5; 4: es + artist = 1.5; 2: rock = 1.0; 1: nothing
    assert as_lists(got) == ([3, 4, 2], [1.5, 1.5, 1.0])
    assert [got.reason_of(i) for i in range(3)] == ["genre", "artist", "genre"]


def test_profile_new_user_gets_the_genre_prior_of_their_age_bucket():
    events = plays([(1, 4, AS_OF - DAY), (1, 4, AS_OF - DAY), (1, 1, AS_OF - DAY), (2, 2, AS_OF - DAY)])
    prof = channel("profile", popularity_weight=0.0, prior_genres=2).fit(tables(PROFILE_TRACKS, events, users=USERS))
    [young, old, anonymous] = prof.recall(
        [query(user_id=9, profile=Profile(age_bucket="18-24")), query(user_id=8, profile=Profile(age_bucket="45+")),
         query()], k=10)
    # 18-24 played jazz twice, pop once: prior jazz 1.0, pop 0.5
    assert as_lists(young) == ([4, 1], [1.0, 0.5]) and young.reason_of(0) == "age_prior"
    assert as_lists(old) == ([2, 3], [1.0, 1.0])
    assert len(anonymous) == 0  # no profile and no popularity weight: nothing to say


def test_profile_batch_taste_is_each_listeners_own_taste():
    # artists: tracks 1, 2 by artist 7; 3 by 8; 4 by 9
    tracks = catalog([1, 2, 3, 4], genres=["pop", "rock", "rock", "jazz"], languages=["en", "en", "es", "es"],
                     artists=[7, 7, 8, 9])
    events = plays([(1, 4, AS_OF - DAY), (1, 1, AS_OF - DAY)])
    prof = channel("profile", popularity_weight=0.0, prior_genres=2).fit(tables(tracks, events, users=USERS))
    queries = [
        # artist 7 twice (the last weight, 0.25, counts), an unknown artist and an unknown genre
        query(user_id=1, profile=Profile(genres=("metal", "rock"), genre_weights=(1.0, 0.5),
                                         artist_ids=(7, 99, 7), artist_weights=(1.0, 1.0, 0.25))),
        query(user_id=2, profile=Profile(age_bucket="18-24", languages=("es",), language_weights=(1.0,))),
        query(),
        query(user_id=3, profile=Profile(genres=("metal",), genre_weights=(1.0,), age_bucket="18-24")),
    ]
    batch = prof.recall(queries, k=10)
    assert [as_lists(c) for c in batch] == [as_lists(prof.recall([q], k=10)[0]) for q in queries]
    # 1: rock 0.5 (tracks 2, 3) + artist 7 0.25 (tracks 1, 2): 2 -> 0.75, 3 -> 0.5, 1 -> 0.25
    assert as_lists(batch[0]) == ([2, 3, 1], [0.75, 0.5, 0.25])
    # 2: no genres -> prior of 18-24 (jazz 1.0, pop 1.0), es 0.5: 4 -> 1.5, 3 -> 0.5, 1 -> 1.0
    assert as_lists(batch[1]) == ([4, 1, 3], [1.5, 1.0, 0.5]) and batch[1].reason_of(0) == "age_prior"
    assert len(batch[2]) == 0
    assert len(batch[3]) == 0  # an unknown genre is still a genre: no age prior


def test_profile_ties_at_the_kth_go_to_the_smaller_column():
    # four rock tracks of equal score 1.0: k=2 keeps the first two columns (track ids 2, 3)
    tracks = catalog([1, 2, 3, 4, 5], genres=["pop", "rock", "rock", "rock", "rock"])
    prof = channel("profile", popularity_weight=0.0).fit(tables(tracks))
    [got] = prof.recall([query(profile=Profile(genres=("rock",), genre_weights=(1.0,)))], k=2)
    assert as_lists(got) == ([2, 3], [1.0, 1.0])


@pytest.mark.parametrize("distinct_counts, popularity_weight", [(3, 0.5), (200, 0.5), (200, 1e-9)])
def test_profile_list_top_k_equals_the_dense_rule(distinct_counts, popularity_weight):
    """The pop-sorted lists give exactly the dense rule (every track scored, first k by
    score desc and column asc), ties included: few distinct play counts make runs of
    equal pop (kept in column order by the lists); a tiny popularity weight makes
    different pops round to equal scores within a genre (a tie run past the read
    prefix: that row is scored densely)."""
    rng = np.random.default_rng(distinct_counts)
    n = 400
    genres = [f"g{i}" for i in rng.integers(0, 6, n)]
    languages = [f"l{i}" for i in rng.integers(0, 3, n)]
    tracks = catalog(list(range(100, 100 + n)), genres=genres, languages=languages,
                     artists=rng.integers(0, 40, n).tolist())
    counts = rng.integers(0, distinct_counts, n)
    events = plays([(1, 100 + t, AS_OF - HOUR) for t in range(n) for _ in range(int(counts[t]) % 7)])
    users = pd.DataFrame({"user_id": [1], "age_bucket": ["18-24"]})
    prof = channel("profile", prior_genres=2, popularity_weight=popularity_weight).fit(
        tables(tracks, events, users=users))
    queries = [query()]
    for i in range(60):
        gs = tuple(f"g{j}" for j in rng.choice(6, size=int(rng.integers(0, 4)), replace=False))
        arts = tuple(int(a) for a in rng.integers(0, 45, int(rng.integers(0, 4))))
        lang = ("l1",) if i % 3 else ()
        queries.append(query(user_id=i + 2, profile=Profile(
            genres=gs, genre_weights=tuple(1.0 / (r + 1) for r in range(len(gs))),
            languages=lang, language_weights=(1.0,) * len(lang),
            artist_ids=arts, artist_weights=tuple(1.0 / (r + 1) for r in range(len(arts))),
            age_bucket="18-24" if i % 2 else "")))
    for k in (1, 7, 40, 150, 1000):
        got, want = prof.recall(queries, k=k), prof.dense_recall(queries, k=k)
        one_by_one = [prof.recall([q], k=k)[0] for q in queries]  # a request: the small-batch dense cut
        for a, b, c in zip(got, want, one_by_one):
            assert a.track_ids.tolist() == c.track_ids.tolist() and a.scores.tobytes() == c.scores.tobytes()
            assert a.reasons.tolist() == c.reasons.tolist()
            assert a.track_ids.tolist() == b.track_ids.tolist()
            assert a.scores.tobytes() == b.scores.tobytes()
            assert a.reasons.tolist() == b.reasons.tolist()


# -- artifacts -----------------------------------------------------------------------------------
def fitted_channels():
    events = plays([(1, 1, AS_OF - DAY), (1, 2, AS_OF - DAY + 1), (2, 2, AS_OF - 2 * DAY), (2, 3, AS_OF - HOUR)])
    t = tables(catalog([1, 2, 3, 4, 5]), events, users=USERS,
               item_graph=pd.DataFrame({"src_track_id": [1, 2], "dst_track_id": [2, 3], "weight": [0.5, 1.0]}),
               sessions=SESSIONS)
    return [build_channel(c).fit(t) for c in RecallConfig().enabled]


def test_every_configured_kind_is_registered():
    from encore.platform.config import CHANNEL_PARAMS

    assert set(CHANNEL_KINDS) == set(CHANNEL_PARAMS)


@pytest.mark.parametrize("position", range(len(RecallConfig().enabled)))
def test_save_load_gives_identical_recall(tmp_path, position):
    original = fitted_channels()[position]
    original.save(tmp_path / original.name)
    meta = json.loads((tmp_path / original.name / "channel.json").read_text())
    assert meta["kind"] == original.kind and meta["format_version"] == 1
    loaded = load_channel(tmp_path / original.name)
    queries = [query(plays=[(1, AS_OF - HOUR), (2, AS_OF)], session=[2, 3], hour=h,
                     profile=Profile(genres=("pop",), genre_weights=(1.0,), age_bucket="18-24"))
               for h in (0, 23)] + [query(user_id=3, profile=Profile(age_bucket="45+"))]
    for a, b in zip(original.recall(queries, k=4), loaded.recall(queries, k=4)):
        np.testing.assert_array_equal(a.track_ids, b.track_ids)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert (a.reasons is None) == (b.reasons is None)


def test_a_broken_or_foreign_artifact_is_refused(tmp_path):
    channels = fitted_channels()
    channels[0].save(tmp_path / "pop")
    with pytest.raises(ChannelArtifactError, match="not item_cf"):
        CHANNEL_KINDS["item_cf"].load(tmp_path / "pop")
    (tmp_path / "pop" / "arrays.npz").write_bytes(b"junk")
    with pytest.raises(ChannelArtifactError, match="corrupt"):
        load_channel(tmp_path / "pop")
    with pytest.raises(ChannelArtifactError, match="not found"):
        load_channel(tmp_path / "nothing")


def brute_force_vsknn(sessions, start, session_items, n_items, sample_size, neighbours):
    """Dense V-SKNN straight from the definition (one query)."""
    dense = np.zeros((len(sessions), n_items))
    for i, items in enumerate(sessions):
        dense[i, items] = 1.0
    weights = np.zeros(n_items)
    for p, item in enumerate(session_items):
        weights[item] = (p + 1) / len(session_items)
    sims = dense @ weights
    sharing = [i for i in np.flatnonzero(sims > 0)]
    sample = sorted(sharing, key=lambda i: (-start[i], i))[:sample_size]
    top = sorted(sample, key=lambda i: (-sims[i], -start[i]))[:neighbours]
    scores = sims[top] @ dense[top]
    order = sorted(np.flatnonzero(scores > 0), key=lambda t: (-scores[t], t))
    return [int(t) for t in order], [float(scores[t]) for t in order]


def test_vsknn_matches_the_dense_definition_on_random_sessions():
    rng = np.random.default_rng(4)
    n_items, n_sessions = 15, 80
    sessions = [rng.choice(n_items, size=rng.integers(1, 6), replace=False) for _ in range(n_sessions)]
    start = rng.integers(0, 40, size=n_sessions) * HOUR + AS_OF - 50 * HOUR  # many equal starts
    frame = pd.DataFrame({"session_id": [f"s{i}" for i in range(n_sessions)], "start_ms": start,
                          "track_ids": sessions})
    for sample_size, neighbours in ((5, 3), (20, 10), (1000, 100)):
        knn = channel("session_knn", sample_size=sample_size, neighbours=neighbours, k=50).fit(
            tables(catalog(list(range(n_items))), sessions=frame))
        # lengths 1, 2, 4: position weights are binary fractions, so sums (and ties) are exact
        queries = [rng.choice(n_items, size=rng.choice([1, 2, 4])).tolist() for _ in range(10)]
        got = knn.recall([query(session=q) for q in queries], k=50)
        for q, candidates in zip(queries, got):
            ids, scores = brute_force_vsknn(sessions, start, q, n_items, sample_size, neighbours)
            assert candidates.track_ids.tolist() == ids
            np.testing.assert_allclose(candidates.scores, scores, rtol=1e-6)

"""The judges of `encore bench recall-neural`, on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from encore.recall.channel import Candidates
from encore.recall.neural_bench import _interest_coverage, _profile_only, claims

from testkit.recall import query


def test_interest_coverage_weighs_the_interests_touched():
    tracks = pd.DataFrame({"track_id": [1, 2, 3], "artist_id": [10, 20, 30], "genre": ["rock", "pop", "jazz"]})
    interests = pd.DataFrame({"user_id": [7, 7, 8], "weight": [3.0, 1.0, 1.0], "genre": ["rock", "jazz", "pop"],
                              "artist_ids": [[10], [99], [20]]})
    found = [Candidates(np.array([1, 3], np.int64), np.array([0.9, 0.8], np.float32)),
             Candidates(np.array([3], np.int64), np.array([0.5], np.float32))]
    out = _interest_coverage(found, np.array([7, 8]), interests, tracks, k=2)
    # user 7: rock by artist 10 found (weight 3 of 4), jazz by genre only; user 8: nothing
    assert out["artist_coverage@2"] == (0.75 + 0.0) / 2
    assert out["genre_coverage@2"] == (1.0 + 0.0) / 2
    assert out["listeners"] == 2
    assert _interest_coverage(found, np.array([7, 8]), interests, tracks, k=1)["genre_coverage@1"] == 0.75 / 2


def test_profile_only_query_keeps_the_profile_and_drops_every_sequence():
    q = _profile_only(query(plays=[(1, 5)], hearts=[(2, 6)], skips=[(3, 7)], session=[1]))
    assert not q.has_history and not q.skip_track_ids and q.user_id == 1


def test_claims_read_the_numbers():
    report = {
        "recall": {"item_cf": {"recall@200": 0.3}, "youtube_dnn": {"recall@200": 0.35, "recall@500": 0.6},
                   "youtube_dnn_mean_pooling": {"recall@200": 0.36}, "mind": {"recall@200": 0.25}},
        "ablations": {
            "pooling": {},
            "sample_cap": {"youtube_dnn": {"recall@500": 0.6}, "youtube_dnn_no_sample_cap": {"recall@500": 0.55}},
            "sdm_session_protocol": {"gate": {"long_term_gate": {"mean": 0.05}}},
            "profile_only_queries": {"youtube_dnn": {"recall@200": 0.2}, "popularity": {"recall@200": 0.25}},
        },
    }
    out = claims(report)
    assert out["each_neural_channel_beats_item_cf_at_recall_200"] == {"youtube_dnn": True, "mind": False}
    assert out["self_attention_beats_mean_pooling_at_recall_200"] is False
    assert out["sample_cap_helps_regular_listeners_at_recall_500"] is True
    assert out["gated_fusion_starves_the_long_term_part (mean long-term gate < 0.1)"] is True
    assert out["profile_only_youtube_dnn_beats_popularity_at_recall_200"] is False

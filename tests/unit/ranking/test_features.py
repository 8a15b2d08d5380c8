"""The shared feature spec and input pipeline (no TensorFlow model here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.contracts.vocabulary import SCENARIOS
from encore.ranking import inputs
from encore.ranking.features import CANDIDATE, CONTEXT, USER, FeatureSpec, ranking_feature_spec


def test_spec_kinds_and_no_logging_policy_features() -> None:
    spec = ranking_feature_spec()
    assert "position" not in spec.names and "propensity" not in spec.names
    assert set(spec.names_of(USER)) >= {"user_id", "user_plays_30d", "user_plays_today"}
    assert spec.names_of(CONTEXT) == ["scenario", "hour", "day_of_week"]
    assert {"track_id", "artist_id", "genre", "language", "track_plays",
            "user_track_plays_30d"} <= set(spec.names_of(CANDIDATE))
    assert "user_id" not in ranking_feature_spec(use_user_id=False).names


def test_fit_on_training_split_and_json_roundtrip(synth) -> None:
    START, make_catalog, make_samples = synth.START, synth.make_catalog, synth.make_samples
    catalog = inputs.Catalog.from_frame(make_catalog())
    frame = make_samples(make_catalog(), 200, START, seed=1)
    raw = inputs.raw_features(frame, catalog, ranking_feature_spec(min_count=3))
    spec = ranking_feature_spec(min_count=3).fit(raw)
    counts = pd.Series(frame["track_id"]).value_counts()
    assert set(spec["track_id"].vocabulary) == set(counts[counts >= 3].index)
    assert spec["scenario"].vocabulary == SCENARIOS  # the platform vocabulary, not refitted
    assert spec["user_plays_30d"].mean == pytest.approx(np.log1p(frame["user_plays_30d"]).mean(), rel=1e-6)
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec


def test_raw_features_derive_context_and_catalog(synth) -> None:
    START, make_catalog, make_samples = synth.START, synth.make_catalog, synth.make_samples
    cat = make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    frame = make_samples(cat, 50, START, seed=2)
    raw = inputs.raw_features(frame, catalog, ranking_feature_spec())
    assert np.array_equal(raw["hour"], frame["ts"].dt.hour.to_numpy())
    assert np.array_equal(raw["day_of_week"], frame["ts"].dt.dayofweek.to_numpy())
    genres = cat.set_index("track_id").loc[frame["track_id"], "genre"].to_numpy()
    assert list(raw["genre"]) == list(genres)
    assert raw["user_id"][frame["anonymous"].to_numpy()].tolist() == [-1] * int(frame["anonymous"].sum())
    assert raw["track_plays"].dtype == np.float32 and raw["track_id"].dtype == np.int64
    # an unknown track: OOV artist, empty strings, NaN numbers (the mean after normalising)
    unknown = catalog.lookup(np.array([999_999]))
    assert unknown["artist_id"][0] == -1 and unknown["genre"][0] == "" and np.isnan(unknown["valence"][0])


def test_request_features_match_training_rows(synth) -> None:
    START, make_catalog, make_samples = synth.START, synth.make_catalog, synth.make_samples
    cat = make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    frame = make_samples(cat, 6, START, seed=3)
    frame["user_id"] = pd.array([7] * 6, dtype="Int64")
    frame["anonymous"] = False
    spec = ranking_feature_spec()
    first = frame.iloc[0]
    request = {"user_id": 7, "anonymous": False, "scenario": first["scenario"], "ts": first["ts"],
               **{c: int(first[c]) for c in ("user_exposures_30d", "user_plays_30d", "user_completes_30d",
                                              "user_skips_30d", "user_hearts_30d", "user_plays_today")}}
    frame[list(request)[2:]] = pd.DataFrame([request] * 6)[list(request)[2:]].to_numpy()
    candidates = {c: frame[c].to_numpy() for c in ("track_id", "track_plays", "track_listeners",
                                                   "track_completion_rate", "track_skip_rate",
                                                   "track_heart_rate", "user_track_plays_30d")}
    listener, cands = inputs.request_features(spec, catalog, request, candidates)
    rows = inputs.raw_features(frame, catalog, spec)
    for name, values in listener.items():
        assert values.shape == (1,) and values[0] == rows[name][0], name
    for name, values in cands.items():
        assert np.array_equal(values, rows[name]), name
    with pytest.raises(inputs.RankingInputError, match="ts"):
        inputs.request_features(spec, catalog, {k: v for k, v in request.items() if k != "ts"}, candidates)


def test_candidate_table_gives_the_per_request_features(synth) -> None:
    """Candidate features gathered from the table built once equal the per-request
    derivation (catalog lookups, statistics, the listener's own play counts); a track
    outside the table is refused (None) so the caller derives it the slow way."""
    cat = synth.make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    spec = ranking_feature_spec()
    stats = ("track_plays", "track_listeners", "track_completion_rate", "track_skip_rate", "track_heart_rate")
    ids = cat["track_id"].to_numpy()
    rng = np.random.default_rng(5)
    table_stats = {c: rng.random(len(ids)) for c in stats}
    table_stats["track_plays"][3] = np.nan  # a track without statistics
    table = inputs.CandidateTable(spec, catalog, {"track_id": ids[::-1], **{c: v[::-1] for c, v in table_stats.items()}})
    pick = rng.choice(len(ids), size=40)
    plays = rng.integers(0, 4, size=40).astype(np.float64)
    got = table.features(ids[pick], {"user_track_plays_30d": plays})
    want = inputs.raw_features({"track_id": ids[pick], **{c: v[pick] for c, v in table_stats.items()},
                                "user_track_plays_30d": plays}, catalog, spec, (CANDIDATE,))
    assert got is not None and list(got) == spec.candidate_names
    for name in spec.candidate_names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert got[name].dtype == want[name].dtype, name
    assert table.features(np.array([ids[0], 999_999]), {"user_track_plays_30d": np.zeros(2)}) is None

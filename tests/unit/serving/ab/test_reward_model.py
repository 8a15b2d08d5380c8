"""The DR reward model (encore.serving.ab.reward_model): the logistic fit recovers a
planted model, and the count features by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.serving.ab.reward_model import FEATURES, LogisticModel, Profiles


def test_logistic_fit_recovers_a_planted_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 2))
    p = 1 / (1 + np.exp(-(-0.5 + 1.5 * x[:, 0] - 1.0 * x[:, 1])))
    y = (rng.random(len(p)) < p).astype(float)
    model = LogisticModel.fit(x, y, l2=0.0)
    scale = x.std(axis=0)
    # standardised coefficients back on the raw scale
    assert model.coef[1] / scale[0] == pytest.approx(1.5, abs=0.08)
    assert model.coef[2] / scale[1] == pytest.approx(-1.0, abs=0.08)
    assert np.abs(model.predict(x) - p).mean() < 0.02
    assert model.predict(x).mean() == pytest.approx(y.mean(), abs=1e-6)  # the intercept calibrates
    with pytest.raises(ValueError, match="no logged exposures"):
        LogisticModel.fit(np.zeros((0, 2)), np.zeros(0))


def test_profile_features_by_hand():
    catalog = pd.DataFrame({"track_id": [1, 2, 3], "artist_id": [10, 10, 11], "genre": ["rock", "rock", "jazz"],
                            "language": ["en", "en", "zh"], "popularity": [0.5, 0.25, 0.0],
                            "valence": [0.2, 0.0, -0.4], "arousal": [0.1, 0.3, 0.0], "show_id": [np.nan, 7, 7]})
    plays = pd.DataFrame({"user_id": [1, 1, 1, 2], "track_id": [1, 1, 3, 2]})
    exposures = pd.DataFrame({"user_id": [1, 1, 2, 2], "track_id": [1, 3, 2, 3], "reward": [1.0, 0.0, 1.0, 1.0]})
    prof = Profiles.from_events(plays, exposures, catalog, prior=2.0)
    x = prof.features(np.array([1, 2]), np.array([2, 1]), np.array([3, 0]), np.array([6.0, 0.0]))
    f = dict(zip(FEATURES, x.T))
    assert f["position"].tolist() == [3, 0]
    assert f["track_log_plays"].tolist() == pytest.approx([np.log1p(1), np.log1p(2)])  # track 2: 1 play; 1: 2
    # mean reward 0.75; track 2: (1 + 2 * 0.75) / (1 + 2); track 1: (1 + 1.5) / 3
    assert f["track_rate"].tolist() == pytest.approx([2.5 / 3, 2.5 / 3])
    # user 1: 3 plays, 2 rock (track 2 is rock) -> 2/3; user 2: 1 play, rock -> 1
    assert f["genre_share"].tolist() == pytest.approx([2 / 3, 1.0])
    assert f["artist_share"].tolist() == pytest.approx([2 / 3, 1.0])
    assert f["show_share"].tolist() == pytest.approx([1 / 3, 0.0])  # user 1 played show 7's track 3 once
    assert f["familiarity"].tolist() == pytest.approx([0.0, 0.0])
    # user rates: u1 (1 + 0 + 1.5) / (2 + 2) = 0.625; u2 (2 + 1.5) / 4 = 0.875
    assert f["user_rate"].tolist() == pytest.approx([0.625, 0.875])
    # per (user, artist / language) outcome rates smoothed towards the user's rate with 5 pseudo-exposures:
    # u1 on artist 10 (track 2): one exposure of track 1, reward 1 -> (1 + 5 * 0.625) / 6;
    # u2 on artist 10 (track 1): exposure of track 2, reward 1 -> (1 + 5 * 0.875) / 6
    assert f["artist_rate"].tolist() == pytest.approx([(1 + 5 * 0.625) / 6, (1 + 5 * 0.875) / 6])
    # language en: u1 saw track 1 (en, 1); u2 saw track 2 (en, 1)
    assert f["language_rate"].tolist() == pytest.approx([(1 + 5 * 0.625) / 6, (1 + 5 * 0.875) / 6])
    assert f["artist_log_plays"].tolist() == pytest.approx([np.log1p(2), np.log1p(1)])
    assert f["genre_log_plays"].tolist() == pytest.approx([np.log1p(2), np.log1p(1)])
    assert f["language_log_plays"].tolist() == pytest.approx([np.log1p(2), np.log1p(1)])
    assert f["top_artist"].tolist() == [1.0, 1.0]  # each listener's most played artist is 10
    assert f["valence"].tolist() == pytest.approx([0.0, 0.2])
    assert f["valence_sin"][1] == pytest.approx(0.0) and f["arousal_sin"][0] == pytest.approx(0.3)  # 6 h: sin 1


def test_recent_shares_count_only_the_last_days():
    catalog = pd.DataFrame({"track_id": [1, 2], "artist_id": [10, 11], "genre": ["rock", "jazz"], "language": ["en"] * 2,
                            "popularity": [0.1, 0.1], "valence": [0.0, 0.0], "arousal": [0.0, 0.0],
                            "show_id": [np.nan, np.nan]})
    day = 86_400_000
    plays = pd.DataFrame({"user_id": [1, 1, 1, 1], "track_id": [1, 1, 1, 2], "ts_ms": [0, day, 2 * day, 9 * day]})
    exposures = pd.DataFrame({"user_id": [1], "track_id": [1], "reward": [1.0]})
    prof = Profiles.from_events(plays, exposures, catalog, as_of_ms=10 * day, recent_days=2)
    f = dict(zip(FEATURES, prof.features(np.array([1, 1]), np.array([1, 2]), np.zeros(2), np.zeros(2)).T))
    assert f["genre_share"].tolist() == pytest.approx([0.75, 0.25])  # the whole window
    assert f["recent_genre_share"].tolist() == pytest.approx([0.0, 1.0])  # only the jazz play of day 9
    assert f["recent_artist_share"].tolist() == pytest.approx([0.0, 1.0])


def test_top_artist_marks_only_the_most_played():
    catalog = pd.DataFrame({"track_id": [1, 2, 3], "artist_id": [10, 11, 12], "genre": ["rock"] * 3,
                            "language": ["en"] * 3, "popularity": [0.1] * 3, "valence": [0.0] * 3,
                            "arousal": [0.0] * 3, "show_id": [np.nan] * 3})
    plays = pd.DataFrame({"user_id": [1, 1, 1, 2], "track_id": [1, 1, 2, 3]})
    prof = Profiles.from_events(plays, pd.DataFrame({"user_id": [1], "track_id": [1], "reward": [1.0]}), catalog)
    users, artists = np.array([1, 1, 1, 2, 2]), np.array([10, 11, 12, 12, 10])
    assert prof._top_artist(users, artists, top=1).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert prof._top_artist(users, artists, top=2).tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]


def test_season_mood_and_co_listening_features_by_hand():
    # tracks 1, 2 by artist 10 (rock), 3 by 11, 4 by 12 (jazz); artists 10 and 11 appeared in season 5
    catalog = pd.DataFrame({"track_id": [1, 2, 3, 4], "artist_id": [10, 10, 11, 12],
                            "genre": ["rock", "rock", "rock", "jazz"], "language": ["en"] * 4,
                            "popularity": [0.1] * 4, "valence": [0.5, 0.5, -0.5, 0.0],
                            "arousal": [0.0, 0.0, 0.0, 0.8], "show_id": [np.nan] * 4})
    seasons = pd.DataFrame({"artist_id": [10, 11], "show_id": [5, 5]})
    plays = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2, 3], "track_id": [1, 1, 3, 4, 1, 2, 4],
                          "n": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]})
    prof = Profiles.from_events(plays, pd.DataFrame({"user_id": [1], "track_id": [1], "reward": [1.0]}), catalog,
                                seasons=seasons)
    f = dict(zip(FEATURES, prof.features(np.array([1, 1, 3, 9]), np.array([3, 4, 2, 1]), np.zeros(4),
                                         np.zeros(4)).T))
    # u1 played 3 of 4 plays by season 5's artists (tracks 1, 1, 3); track 4's artist appeared in no season
    assert f["season_share"].tolist() == pytest.approx([0.75, 0.0, 0.0, 0.0])
    # u1's mean mood: valence (0.5 + 0.5 - 0.5 + 0) / 4 = 0.125, arousal 0.8 / 4 = 0.2; u9 has no plays -> 1
    assert f["mood_distance"].tolist() == pytest.approx(
        [np.hypot(-0.625, -0.2), np.hypot(-0.125, 0.6), np.hypot(0.5, -0.8), 1.0])
    assert f["recent_mood_distance"].tolist() == [1.0] * 4  # no window end given: no recent plays
    # co-listening (PureSVD): u3 played only jazz track 4; u2 only rock tracks: rock track 2 is closer to
    # u1 (mostly rock) than to u3, and a listener without plays scores 0
    aff = prof.features(np.array([1, 3, 9]), np.array([2, 2, 2]), np.zeros(3), np.zeros(3))[:, FEATURES.index(
        "cf_affinity")]
    assert aff[0] > aff[1] and aff[2] == 0.0

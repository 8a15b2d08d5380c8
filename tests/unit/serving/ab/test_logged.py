"""Logged exposures, their outcomes and inclusion propensities (encore.serving.ab.logged)
on a hand-built event log and policy/slates.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.serving.ab.logged import attach_inclusion, exposures_with_outcomes, logged_for

TRACKS = pd.DataFrame({"track_id": [1, 2, 3], "duration_ms": [100_000, 100_000, 100_000]})


def _events() -> pd.DataFrame:
    rows = [  # user, request, track, action, position, propensity, played_ms, scenario
        (7, "r1", 1, "exposure", 0, 0.5, None, "daily_recommend"),
        (7, "r1", 2, "exposure", 1, 0.4, None, "daily_recommend"),
        (7, "r1", 1, "play_end", None, None, 95_000, "daily_recommend"),  # complete (>= 90%)
        (7, "r1", 1, "heart", None, None, None, "daily_recommend"),
        (7, "r1", 2, "play_end", None, None, 50_000, "daily_recommend"),  # stopped part way
        (8, "r2", 3, "exposure", 0, 0.9, None, "daily_recommend"),
        (8, "r3", 3, "exposure", 0, 0.9, None, "private_radio"),  # another scenario
        (8, "r3", 3, "play_end", None, None, 100_000, "private_radio"),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "request_id", "track_id", "action", "position", "propensity",
                                        "played_ms", "scenario"])
    frame["ts_ms"] = 1_767_571_200_000 + 3_600_000 * 6 + np.arange(len(frame))  # 06:00 UTC
    return frame


def test_outcomes_join_their_exposure_by_request_and_track():
    out = exposures_with_outcomes(_events(), TRACKS, "daily_recommend")
    assert out[["user_id", "request_id", "track_id"]].values.tolist() == [[7, "r1", 1], [7, "r1", 2], [8, "r2", 3]]
    assert out["complete_play"].tolist() == [1.0, 0.0, 0.0]  # r3's complete play is another request
    assert out["heart"].tolist() == [1.0, 0.0, 0.0]
    assert out["hour"].tolist() == pytest.approx([6.0, 6.0, 6.0], abs=1e-3)
    assert len(exposures_with_outcomes(_events(), TRACKS, None)) == 4


def test_inclusion_probabilities_come_from_the_slates_file(tmp_path):
    (tmp_path / "policy").mkdir()
    pd.DataFrame({"request_id": ["r1", "r2"], "shown_track_ids": [[1, 2], [3]],
                  "inclusion_prob": [[0.8, 0.25], [0.5]]}).to_parquet(tmp_path / "policy" / "slates.parquet")
    out = attach_inclusion(tmp_path, exposures_with_outcomes(_events(), TRACKS, "daily_recommend"))
    assert out["inclusion_prob"].tolist() == pytest.approx([0.8, 0.25, 0.5])
    log = logged_for(np.array([8, 7, 9]), out, "complete_play")
    assert log.listener.tolist() == [1, 1, 0] and log.slates.tolist() == [1, 1, 0]
    assert log.propensity.tolist() == pytest.approx([0.8, 0.25, 0.5]) and log.reward.tolist() == [1, 0, 0]
    by_day = logged_for(np.array([7, 7]), out, "complete_play", days=np.array([20458, 20457]))
    assert by_day.listener.tolist() == [0, 0] and by_day.slates.tolist() == [1, 0]  # the log's day is 20458
    with pytest.raises(ValueError, match="once"):
        logged_for(np.array([7, 7]), out, "complete_play")
    with pytest.raises(FileNotFoundError, match="slates.parquet"):
        attach_inclusion(tmp_path / "nowhere", out)

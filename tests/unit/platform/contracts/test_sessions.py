"""The one sessionization rule: hand-computed cases and properties."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encore.platform.contracts.sessions import session_name, sessionize, sessionize_frame

MIN = 60_000
MAX = 90 * MIN
GAP = 30 * MIN


def test_hand_computed_cases():
    radio, search = "private_radio", "search"
    # gap of exactly 30 min stays; 30 min + 1 ms splits
    assert sessionize([0, GAP, 2 * GAP + 1], [radio] * 3, max_session_ms=MAX) == [0, 0, 1]
    # scenario switch splits even without a gap
    assert sessionize([0, 1, 2], [radio, search, search], max_session_ms=MAX) == [0, 1, 1]
    # continuous play every 20 min: at most 90 min from the session's first event
    ts = [i * 20 * MIN for i in range(10)]  # 0, 20, ..., 180 min
    assert sessionize(ts, [radio] * 10, max_session_ms=MAX) == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    # exactly max_session_ms after the start stays in the session
    ts = [0, 30 * MIN, 60 * MIN, MAX, MAX + 1]
    assert sessionize(ts, [radio] * 5, max_session_ms=MAX) == [0, 0, 0, 0, 1]
    assert sessionize([], [], max_session_ms=MAX) == []


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="ordered"):
        sessionize([5, 1], ["a", "a"], max_session_ms=MAX)
    with pytest.raises(ValueError, match="same length"):
        sessionize([1], [], max_session_ms=MAX)


def test_frame_names_sessions_by_key_and_start():
    frame = pd.DataFrame({
        "user": [7, 7, 7, 8, 7],
        "ts": [0, 10 * MIN, 100 * MIN, 5, 10 * MIN + 1],
        "scenario": ["playlist"] * 5,
    }, index=[10, 11, 12, 13, 14])
    names = sessionize_frame(frame, key_col="user", max_session_ms=MAX)
    assert names.to_dict() == {10: "7-0", 11: "7-0", 12: "7-6000000", 13: "8-5", 14: "7-0"}
    assert session_name(7, 0) == "7-0"


def test_sessions_starting_in_the_same_ms_get_distinct_names():
    frame = pd.DataFrame({"user": [1, 1, 1], "ts": [5, 5, 5], "scenario": ["search", "private_radio", "search"]})
    names = sessionize_frame(frame, key_col="user", max_session_ms=MAX).tolist()
    assert names == ["1-5", "1-5~1", "1-5~2"] == [session_name(1, 5, r) for r in range(3)]


def test_frame_accepts_utc_datetimes():
    frame = pd.DataFrame({
        "user": [1, 1], "scenario": ["search", "search"],
        "ts": pd.to_datetime([0, 31 * MIN], unit="ms", utc=True),
    })
    assert sessionize_frame(frame, key_col="user", max_session_ms=MAX).tolist() == ["1-0", "1-1860000"]


events = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 40 * MIN), st.sampled_from(["radio", "search"])),
    min_size=1, max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(events, st.integers(1, 120))
def test_sessions_are_bounded_pure_and_contiguous(raw, max_minutes):
    max_ms = max_minutes * MIN
    frame = pd.DataFrame(raw, columns=["user", "step", "scenario"])
    frame["ts"] = frame.groupby("user")["step"].cumsum()
    names = sessionize_frame(frame, key_col="user", max_session_ms=max_ms, inactivity_gap_ms=GAP)

    for _, group in frame.assign(session=names).groupby("user"):
        group = group.sort_values("ts", kind="stable")
        expected = sessionize(group["ts"].tolist(), group["scenario"].tolist(), max_session_ms=max_ms,
                              inactivity_gap_ms=GAP)
        assert pd.factorize(group["session"])[0].tolist() == expected  # same as the pure rule
        for _, session in group.groupby("session", sort=False):
            assert session["ts"].max() - session["ts"].min() <= max_ms
            assert session["scenario"].nunique() == 1
            assert (session["ts"].diff().dropna() <= GAP).all()
        # contiguous: a session's events are consecutive in time order
        runs = (group["session"] != group["session"].shift()).sum()
        assert runs == group["session"].nunique()

"""Every implementation of the sessionization rule names sessions alike, including the
rare case of several sessions of one user opening in the same millisecond (a scenario
switch between events with equal timestamps): the frame rule, the stream processor's
one-event-at-a-time state, and the Spark job's per-user function."""

from __future__ import annotations

import pandas as pd

from encore.platform.batch.sessionize import _assign_sessions
from encore.platform.contracts.sessions import next_session_name, sessionize_frame
from encore.platform.stream.state import StateParams, StreamEvent, UserState, apply_event

MIN = 60_000
GAP, MAX = 30 * MIN, 90 * MIN
T = 1_767_600_000_000
# Three sessions open at T (scenario switches in the same ms), a fourth after a gap.
EVENTS = pd.DataFrame({
    "event_id": ["e0", "e1", "e2", "e3", "e4"],
    "user_id": [5] * 5,
    "ts_ms": [T, T, T, T + 1_000, T + GAP + 2_000],
    "scenario": ["radio", "search", "playlist", "playlist", "playlist"],
})
EXPECTED = [f"5-{T}", f"5-{T}~1", f"5-{T}~2", f"5-{T}~2", f"5-{T + GAP + 2_000}"]


def test_frame_rule_ranks_sessions_opening_in_the_same_ms() -> None:
    names = sessionize_frame(EVENTS, key_col="user_id", ts_col="ts_ms", max_session_ms=MAX,
                             inactivity_gap_ms=GAP)
    assert names.tolist() == EXPECTED


def test_stream_state_names_sessions_like_the_frame_rule() -> None:
    params = StateParams(inactivity_gap_ms=GAP, max_session_ms=MAX)
    state, names = UserState(user_id=5), []
    for row in EVENTS.itertuples():
        apply_event(state, StreamEvent(event_id=row.event_id, user_id=5, track_id=1,
                                       scenario=row.scenario, action="EXPOSURE", ts_ms=row.ts_ms),
                    params)
        names.append(state.session_id)
    assert names == EXPECTED


def test_spark_job_names_sessions_like_the_frame_rule() -> None:
    assigned = _assign_sessions(MAX, GAP)(EVENTS)
    assert assigned.set_index("event_id").loc[list(EVENTS["event_id"]), "session_id"].tolist() == EXPECTED


def test_next_session_name_carries_the_rank_only_within_one_ms() -> None:
    assert next_session_name(5, T, None, None) == f"5-{T}"
    assert next_session_name(5, T, T, f"5-{T}~1") == f"5-{T}~2"
    assert next_session_name(5, T + 1, T, f"5-{T}~1") == f"5-{T + 1}"

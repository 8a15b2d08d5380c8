"""Hand-computed cases of the pure stream state (encore.platform.stream.state)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

import pandas as pd

from encore.platform.contracts.sessions import opens_session, session_name, sessionize, sessionize_frame
from encore.platform.stream.state import (
    APPLIED,
    DUPLICATE_ID,
    DUPLICATE_OFFSET,
    TOO_LATE,
    StateParams,
    StreamEvent,
    UserState,
    apply_record,
    replay,
)

MIN = 60_000
DAY0 = int(datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
PARAMS = StateParams(
    recent_sequence_length=3, dedupe_retention_days=1, inactivity_gap_ms=30 * MIN,
    max_session_ms=90 * MIN, durations={1: 200_000, 2: 100_000, 3: 300_000},
)


def ev(i, action, track=1, ts=DAY0, scenario="PRIVATE_RADIO", played_ms=0, user=7):
    return StreamEvent(
        event_id=f"e{i}", user_id=user, track_id=track, scenario=scenario,
        action=action, ts_ms=ts, played_ms=played_ms,
    )


def run(events, state=None, params=PARAMS):
    state = state or UserState(user_id=7)
    results = [apply_record(state, e, params, partition_key="t:0",
                            offset=state.offsets.get("t:0", -1) + 1) for e in events]
    return state, results


def test_plays_completes_skips_hearts_counted():
    state, _ = run([
        ev(0, "EXPOSURE", 1),
        ev(1, "PLAY_START", 1, DAY0 + 1000),
        ev(2, "PLAY_END", 1, DAY0 + 201_000, played_ms=180_000),  # 0.9 * 200 s -> complete
        ev(3, "PLAY_START", 2, DAY0 + 202_000),
        ev(4, "SKIP", 2, DAY0 + 212_000, played_ms=10_000),
        ev(5, "PLAY_START", 3, DAY0 + 213_000),
        ev(6, "PLAY_END", 3, DAY0 + 400_000, played_ms=269_999),  # < 0.9 * 300 s
        ev(7, "HEART", 3, DAY0 + 401_000),
        ev(8, "PLAY_END", 99, DAY0 + 402_000, played_ms=10**9),  # unknown duration
    ])
    assert (state.plays_today, state.completes_today, state.skips_today, state.hearts_today) == (3, 1, 1, 1)
    assert state.plays_total == 3
    assert state.counters_day == "2026-01-05"
    assert state.recent_play_track_ids == [1, 2, 3]
    assert state.recent_play_ts_ms == [DAY0 + 1000, DAY0 + 202_000, DAY0 + 213_000]
    assert state.recent_skip_track_ids == [2]
    assert state.recent_skip_ts_ms == [DAY0 + 212_000]
    assert state.recent_skip_at_ms == [10_000]
    assert state.recent_heart_track_ids == [3] and state.recent_heart_ts_ms == [DAY0 + 401_000]
    # the complete-play sequence: only the PLAY_END of track 1 reached 90% of a known duration
    assert state.recent_complete_track_ids == [1] and state.recent_complete_ts_ms == [DAY0 + 201_000]
    assert state.session_id == session_name(7, DAY0) and state.session_start_ms == DAY0
    assert state.session_track_ids == [1, 2, 3]


def test_last_n_truncation_keeps_newest():
    events = [ev(i, "PLAY_START", 10 + i, DAY0 + i * MIN) for i in range(5)]
    completes = [ev(10 + i, "PLAY_END", 1 + i % 3, DAY0 + 10 * MIN + i, played_ms=300_000) for i in range(5)]
    state, _ = run(events + completes)
    assert state.recent_complete_track_ids == [3, 1, 2]  # tracks 1, 2, 3, 1, 2: the newest three
    assert state.recent_complete_ts_ms == [DAY0 + 10 * MIN + i for i in (2, 3, 4)]
    assert state.recent_play_track_ids == [12, 13, 14]
    assert state.recent_play_ts_ms == [DAY0 + 2 * MIN, DAY0 + 3 * MIN, DAY0 + 4 * MIN]
    assert state.session_track_ids == [12, 13, 14]
    assert state.plays_total == 5 and state.plays_today == 5


def test_day_rollover_resets_day_counters_not_total():
    late_evening = DAY0 + 13 * 60 * MIN + 50 * MIN  # 23:50 UTC
    state, _ = run([
        ev(0, "PLAY_START", 1, late_evening),
        ev(1, "HEART", 1, late_evening + MIN),
        ev(2, "SKIP", 1, late_evening + 2 * MIN, played_ms=5000),
        ev(3, "PLAY_START", 2, late_evening + 20 * MIN),  # 00:10 next day
    ])
    assert state.counters_day == "2026-01-06"
    assert (state.plays_today, state.skips_today, state.hearts_today) == (1, 0, 0)
    assert state.plays_total == 2
    # a late event of the previous day: sequences and total, not today's counters
    run([ev(9, "PLAY_START", 3, late_evening + 3 * MIN)], state)
    assert state.plays_today == 1 and state.plays_total == 3
    assert state.recent_play_track_ids == [1, 2, 3]


def test_replayed_offsets_and_duplicate_ids_change_nothing():
    events = [ev(0, "PLAY_START", 1), ev(1, "HEART", 1, DAY0 + 1000)]
    state, results = run(events)
    assert results == [APPLIED, APPLIED]
    before = state.feature_row()
    # the same records again (crash between push and commit): skipped by offset
    again = [apply_record(state, e, PARAMS, partition_key="t:0", offset=i) for i, e in enumerate(events)]
    assert again == [DUPLICATE_OFFSET, DUPLICATE_OFFSET]
    # the same event ids at new offsets (producer re-send): skipped by id
    dup = [apply_record(state, e, PARAMS, partition_key="t:0", offset=10 + i) for i, e in enumerate(events)]
    assert dup == [DUPLICATE_ID, DUPLICATE_ID]
    after = state.feature_row()
    assert {k: v for k, v in after.items() if k != "stream_state"} == {
        k: v for k, v in before.items() if k != "stream_state"}
    assert state.offsets == {"t:0": 11}


def test_a_heavy_listeners_day_sent_again_changes_nothing():
    """Issue 6: 3,000 events of one user in a day, then the whole day re-sent at new
    offsets: every re-sent event is a duplicate, whatever its age within the day
    (a count window of 512 ids re-applied the whole day)."""
    day = [ev(i, "PLAY_START", 1 + i % 3, DAY0 + i * 10_000) for i in range(3000)]
    state, results = run(day)
    assert results == [APPLIED] * 3000 and state.plays_today == 3000
    before = state.feature_row()
    # through the stored row, as the processor does between batches
    state = UserState.from_feature_row(7, before)
    _, again = run(day, state)
    assert again == [DUPLICATE_ID] * 3000
    after = state.feature_row()
    assert {k: v for k, v in after.items() if k != "stream_state"} == {
        k: v for k, v in before.items() if k != "stream_state"}


def test_dedupe_is_bounded_by_the_retention_in_days():
    day_ms = 24 * 60 * MIN
    state, _ = run([ev(0, "PLAY_START", 1, DAY0), ev(1, "PLAY_START", 1, DAY0 + 1)])
    # the next day: the first day is still within the retention (1 day)
    state, results = run([ev(2, "PLAY_START", 1, DAY0 + day_ms), ev(0, "PLAY_START", 1, DAY0)], state)
    assert results == [APPLIED, DUPLICATE_ID]
    assert len(state.seen) == 2
    # two days later: the first day falls out of the state; its events are too late
    state, results = run([ev(3, "PLAY_START", 1, DAY0 + 2 * day_ms),
                          ev(0, "PLAY_START", 1, DAY0), ev(9, "PLAY_START", 1, DAY0 + 5)], state)
    assert results == [APPLIED, TOO_LATE, TOO_LATE]
    assert sorted(state.seen) == [(DAY0 + day_ms) // day_ms, (DAY0 + 2 * day_ms) // day_ms]
    assert state.plays_total == 4
    # the reference replay applies the same rule
    events = [ev(0, "PLAY_START", 1, DAY0), ev(3, "PLAY_START", 1, DAY0 + 2 * day_ms),
              ev(9, "PLAY_START", 1, DAY0 + 5)]
    assert replay(7, events, PARAMS).plays_total == 2


def test_state_encoding_is_compact():
    state, _ = run([ev(i, "PLAY_START", 1, DAY0 + i) for i in range(1000)])
    # 8 bytes an event, base64: under 12 bytes an event in the stored JSON
    assert len(state.stream_state_json()) < 12 * 1000 + 200
    assert UserState.from_feature_row(7, state.feature_row()).seen == state.seen


def test_version_1_state_is_read_back():
    import json

    from encore.platform.stream.state import event_key

    state, _ = run([ev(0, "PLAY_START", 1, DAY0)])
    row = state.feature_row()
    meta = json.loads(row["stream_state"])
    meta.update(v=1, ids=[format(event_key("e0"), "016x")])
    row["stream_state"] = json.dumps(meta)
    back = UserState.from_feature_row(7, row)
    assert apply_record(back, ev(0, "PLAY_START", 1, DAY0), PARAMS) == DUPLICATE_ID


def test_state_round_trips_through_the_feature_row():
    state, _ = run([ev(0, "PLAY_START", 1), ev(1, "SKIP", 1, DAY0 + 5, played_ms=3),
                    ev(2, "HEART", 2, DAY0 + 9), ev(3, "PLAY_END", 2, DAY0 + 100_000, played_ms=100_000)])
    assert state.recent_complete_track_ids == [2]
    state.next_push_timestamp()
    back = UserState.from_feature_row(7, state.feature_row())
    assert back == state
    assert UserState.from_feature_row(7, None) == UserState(user_id=7)


def test_unheart_removes_the_track_from_hearts():
    state, _ = run([ev(0, "HEART", 1), ev(1, "HEART", 2, DAY0 + 1), ev(2, "HEART", 1, DAY0 + 2),
                    ev(3, "UNHEART", 1, DAY0 + 3)])
    assert state.recent_heart_track_ids == [2]
    assert state.recent_heart_ts_ms == [DAY0 + 1]
    assert state.hearts_today == 3  # heart actions of the day


def test_dislikes_are_appended_bounded_and_untouched_by_unheart():
    state, results = run([
        ev(1, "DISLIKE", 11, DAY0), ev(2, "HEART", 12, DAY0 + 1), ev(3, "DISLIKE", 12, DAY0 + 2),
        ev(4, "DISLIKE", 13, DAY0 + 3), ev(5, "UNHEART", 12, DAY0 + 4), ev(6, "DISLIKE", 14, DAY0 + 5),
    ])
    assert results == [APPLIED] * 6
    # window 3 keeps the newest three, in order; the unheart of 12 leaves its dislike
    assert state.recent_dislike_track_ids == [12, 13, 14]
    assert state.recent_heart_track_ids == []
    assert (state.plays_today, state.skips_today, state.hearts_today) == (0, 0, 1)
    back = UserState.from_feature_row(7, state.feature_row())
    assert back.recent_dislike_track_ids == [12, 13, 14]
    # a row stored before the column existed reads back with no dislikes
    old = {k: v for k, v in state.feature_row().items() if k != "recent_dislike_track_ids"}
    assert UserState.from_feature_row(7, old).recent_dislike_track_ids == []


def test_sessions_split_by_scenario_gap_and_duration():
    state, _ = run([ev(0, "PLAY_START", 1, DAY0)])
    first = state.session_id
    run([ev(1, "PLAY_START", 2, DAY0 + 30 * MIN)], state)  # gap of exactly 30 min: same
    assert state.session_id == first and state.session_track_ids == [1, 2]
    run([ev(2, "PLAY_START", 3, DAY0 + 30 * MIN, scenario="SEARCH")], state)  # scenario switch
    assert state.session_id == session_name(7, DAY0 + 30 * MIN)
    assert state.session_track_ids == [3]
    run([ev(3, "EXPOSURE", 4, DAY0 + 61 * MIN, scenario="SEARCH")], state)  # gap 31 min
    assert state.session_id == session_name(7, DAY0 + 61 * MIN) and state.session_track_ids == []


def test_push_timestamp_strictly_increases():
    state, _ = run([ev(0, "PLAY_START", 1, DAY0)])
    t1 = state.next_push_timestamp()
    t2 = state.next_push_timestamp()
    assert t1 == datetime.fromtimestamp(DAY0 / 1000, tz=timezone.utc) and t2 > t1


def test_anonymous_event_has_no_user():
    from encore.protos.encore.v1 import event_pb2

    proto = event_pb2.Event(event_id="x", anonymous_id="dev-1", track_id=3,
                            scenario=event_pb2.PRIVATE_RADIO, action=event_pb2.SKIP, played_ms=4)
    proto.timestamp.FromMilliseconds(DAY0)
    view = StreamEvent.from_proto(proto)
    assert view.user_id is None and view.anonymous_id == "dev-1"
    assert (view.action, view.scenario, view.ts_ms, view.played_ms) == ("SKIP", "PRIVATE_RADIO", DAY0, 4)


def test_replay_counts_each_event_id_once():
    events = [ev(0, "PLAY_START", 1), ev(0, "PLAY_START", 1), ev(1, "PLAY_START", 2, DAY0 + 1)]
    assert replay(7, events, PARAMS).plays_total == 2


@settings(max_examples=150, deadline=None)
@given(st.lists(
    st.tuples(st.integers(0, 100 * MIN), st.sampled_from(["DAILY_RECOMMEND", "SEARCH", "PLAYLIST"])),
    min_size=1, max_size=40,
))
# two sessions opening in the same ms: the second is named with the same-ms rank (~1)
@example(steps=[(0, "DAILY_RECOMMEND"), (0, "SEARCH")])
def test_incremental_sessions_agree_with_sessionize(steps):
    ts, t = [], DAY0
    for delta, _ in steps:
        t += delta
        ts.append(t)
    scenarios = [s for _, s in steps]
    expected = sessionize(ts, scenarios, max_session_ms=90 * MIN, inactivity_gap_ms=30 * MIN)
    # the incremental step directly
    got, session, start, last, last_sc = [], -1, None, 0, ""
    for t, s in zip(ts, scenarios):
        if opens_session(start, last, last_sc, t, s, max_session_ms=90 * MIN, inactivity_gap_ms=30 * MIN):
            session, start = session + 1, t
        got.append(session)
        last, last_sc = t, s
    assert got == expected
    # and the state machine, one event per batch through the feature-row round trip
    state, names = UserState(user_id=7), []
    for i, (t, s) in enumerate(zip(ts, scenarios)):
        state = UserState.from_feature_row(7, state.feature_row()) if i else state
        apply_record(state, ev(i, "EXPOSURE", 1, t, scenario=s), PARAMS, partition_key="t:0", offset=i)
        names.append(state.session_id)
    # the names of the vectorised rule (the world's and Spark's), same-ms ranks included
    frame = pd.DataFrame({"user": 7, "ts": ts, "scenario": scenarios})
    assert names == list(sessionize_frame(frame, key_col="user", max_session_ms=90 * MIN,
                                          inactivity_gap_ms=30 * MIN))

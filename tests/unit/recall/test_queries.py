"""The one Query builder: the same listener at the same moment gives the same Query from
the Feast online row (the stream's own state, replayed) and from the event log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encore.platform.stream.state import StateParams, StreamEvent, replay
from encore.recall.queries import QueryParams, queries_from_log, queries_from_online
from encore.recall.query import Profile

from testkit.recall import AS_OF, DAY, HOUR

MIN = 60_000
PARAMS = QueryParams(history_length=3, stream_window=3, max_session_ms=90 * MIN, inactivity_gap_ms=30 * MIN)


def log(rows):
    """(user_id or None, session_id, scenario, track, action, ts_ms, played_ms) rows."""
    frame = pd.DataFrame(rows, columns=["user_id", "session_id", "scenario", "track_id", "action", "ts_ms", "played_ms"])
    frame = frame.sort_values("ts_ms", kind="mergesort").reset_index(drop=True)
    frame["event_id"] = [f"20260105-{i:08d}" for i in range(len(frame))]
    frame["user_id"] = frame["user_id"].astype("Int64")
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True)
    return frame.drop(columns="ts_ms")


T = AS_OF + 8 * HOUR
EVENTS = log([
    (7, "x", "private_radio", 1, "play_start", T, None),
    (7, "x", "private_radio", 1, "heart", T + 1 * MIN, None),
    (7, "x", "private_radio", 1, "play_end", T + 1 * MIN + 30_000, 180_000),  # 90% of 200 s: complete
    (7, "x", "private_radio", 2, "play_start", T + 2 * MIN, None),
    (7, "x", "private_radio", 2, "skip", T + 3 * MIN, 15_000),
    (7, "x", "private_radio", 2, "dislike", T + 3 * MIN + 30_000, None),
    (7, "x", "private_radio", 11, "dislike", T + 4 * MIN + 30_000, None),
    (7, "x", "private_radio", 12, "dislike", T + 6 * MIN + 30_000, None),
    (7, "x", "private_radio", 13, "dislike", T + 7 * MIN + 30_000, None),  # 4 dislikes > window 3
    (7, "x", "private_radio", 3, "play_start", T + 4 * MIN, None),
    (7, "x", "private_radio", 3, "heart", T + 5 * MIN, None),
    (7, "x", "private_radio", 4, "heart", T + 6 * MIN, None),
    (7, "x", "private_radio", 5, "heart", T + 7 * MIN, None),  # 4 hearts > window 3
    (7, "x", "private_radio", 4, "unheart", T + 8 * MIN, None),  # -> the exact slow path
    (7, "x", "private_radio", 3, "play_end", T + 4 * MIN + 20_000, 100_000),  # 100 of 300 s: not complete
    (7, "x", "private_radio", 6, "play_start", T + 9 * MIN, None),
    (7, "x", "private_radio", 6, "play_end", T + 9 * MIN + 30_000, 250_000),  # complete
    (7, "x", "private_radio", 99, "play_end", T + 9 * MIN + 40_000, 10**9),  # unknown duration: never
    (7, "x", "search", 7, "exposure", T + 10 * MIN, None),  # scenario switch: new session
    (7, "x", "search", 7, "play_start", T + 11 * MIN, None),
    (7, "x", "search", 8, "play_start", T + 2 * HOUR, None),  # after a gap: new session
    (7, "x", "search", 8, "skip", T + 2 * HOUR + MIN, 3_000),
    (8, "y", "playlist", 9, "play_start", T + 30 * MIN, None),
    (None, "anon-1-1", "private_radio", 9, "play_start", T + 3 * MIN, None),
    (9, "z", "playlist", 1, "heart", T, None),  # few hearts: the vectorised unheart path
    (9, "z", "playlist", 2, "heart", T + MIN, None),
    (9, "z", "playlist", 1, "unheart", T + 2 * MIN, None),
    (9, "z", "playlist", 1, "dislike", T + 2 * MIN + 1, None),  # disliked right after the unheart
    (9, "z", "playlist", 1, "heart", T + 3 * MIN, None),
    (None, "anon-1-1", "private_radio", 3, "play_start", T + 5 * MIN, None),
])


DURATIONS = {1: 200_000, 3: 300_000, 6: 250_000, 8: 100_000}
TRACKS = pd.DataFrame({"track_id": list(DURATIONS), "duration_ms": list(DURATIONS.values()),
                       "genre": "rock", "artist_id": 1})


def stream_events(events: pd.DataFrame, user_id: int, before_ms: int) -> list[StreamEvent]:
    rows = events[(events["user_id"] == user_id)]
    ts = (rows["ts"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]").astype("int64"))
    rows = rows.assign(ts_ms=ts)[ts < before_ms].sort_values(["ts_ms", "event_id"], kind="mergesort")
    return [StreamEvent(event_id=r.event_id, user_id=user_id, track_id=int(r.track_id),
                        scenario=r.scenario.upper(), action=r.action.upper(), ts_ms=int(r.ts_ms),
                        played_ms=0 if pd.isna(r.played_ms) else int(r.played_ms))
            for r in rows.itertuples()]


def online_queries(events, requests, params, profiles=None, durations=None):
    state_params = StateParams(recent_sequence_length=params.stream_window,
                               inactivity_gap_ms=params.inactivity_gap_ms, max_session_ms=params.max_session_ms,
                               durations=durations)
    out = []
    for (user_id, at, scenario), profile in zip(requests, profiles or [None] * len(requests)):
        state = replay(user_id, stream_events(events, user_id, at), state_params)
        row = state.feature_row() if state.session_id else {}
        row = {**row, **(profile or {})}
        out.extend(queries_from_online({user_id: row}, request_ms=at, scenario=scenario, params=params))
    return out


REQUESTS = [
    (7, T + 1, None), (7, T + 5 * MIN, "private_radio"), (7, T + 8 * MIN + 1, "private_radio"),
    (7, T + 10 * MIN, "private_radio"),  # the search exposure at T+10 is not strictly before
    (7, T + 12 * MIN, "search"), (7, T + 12 * MIN, "private_radio"),  # switching would open a session
    (7, T + 3 * HOUR, "search"), (8, T, "playlist"), (8, T + DAY, None),
    (9, T + 2 * MIN, None), (9, T + 2 * MIN + 1, None), (9, T + DAY, None),
]


def test_log_and_online_builders_give_equal_queries():
    at = pd.DataFrame(REQUESTS, columns=["user_id", "request_ms", "scenario"])
    from_log = queries_from_log(EVENTS, at, tracks=pd.DataFrame(), users=None, params=PARAMS)
    assert from_log == online_queries(EVENTS, REQUESTS, PARAMS)
    assert all(q.complete_track_ids == () for q in from_log)  # no durations: nothing completes (as the stream)
    # with the catalog's durations both builders see the same complete plays
    with_durations = queries_from_log(EVENTS, at, tracks=TRACKS, users=None, params=PARAMS)
    assert with_durations == online_queries(EVENTS, REQUESTS, PARAMS, durations=DURATIONS)
    first, early, after_unheart, radio_at_10, *_ = with_durations
    assert first.complete_track_ids == () and early.complete_track_ids == (1,)
    assert early.complete_ts_ms == (T + 1 * MIN + 30_000,)
    assert after_unheart.complete_track_ids == (1,)  # track 3 ended at 100 of 300 s
    assert radio_at_10.complete_track_ids == (1, 6)  # track 99 has no known duration
    assert radio_at_10.complete_ts_ms == (T + 1 * MIN + 30_000, T + 9 * MIN + 30_000)


def test_log_builder_follows_stream_semantics_by_hand():
    at = pd.DataFrame(REQUESTS, columns=["user_id", "request_ms", "scenario"])
    q = queries_from_log(EVENTS, at, tracks=pd.DataFrame(), users=None, params=PARAMS)
    first, _, after_unheart, radio_at_10, search, switch, gap, before_any, next_day, *nine = q
    assert [x.heart_track_ids for x in nine] == [(1, 2), (2,), (2, 1)]
    assert first.play_track_ids == (1,) and first.session.track_ids == (1,)
    # window 3: hearts 1,3,4,5 -> [3,4,5] after truncation; unheart 4 -> [3,5] (1 does not come back)
    assert after_unheart.heart_track_ids == (3, 5)
    assert after_unheart.play_track_ids == (1, 2, 3) and after_unheart.skip_track_ids == (2,)
    assert after_unheart.skip_at_ms == (15_000,)
    # dislikes 2, 11, 12, 13 -> the newest three; the unheart of 4 touches none of them
    assert after_unheart.dislike_track_ids == (11, 12, 13)
    assert q[1].dislike_track_ids == (2, 11) and first.dislike_track_ids == ()
    assert [x.dislike_track_ids for x in nine] == [(), (), (1,)]  # strictly before the request
    assert radio_at_10.session.track_ids == (2, 3, 6)[-3:] and radio_at_10.session.scenario == "private_radio"
    assert search.session.track_ids == (7,) and search.session.session_id == f"7-{T + 10 * MIN}"
    assert switch.session.track_ids == () and switch.context.scenario == "private_radio"
    assert gap.session.track_ids == () and gap.skip_track_ids == (2, 8) and gap.play_track_ids == (6, 7, 8)
    assert before_any.play_track_ids == () and before_any.session.session_id == ""
    assert next_day.session.track_ids == () and next_day.play_track_ids == (9,)
    assert first.context.local_hour == 8


def test_anonymous_listener_is_keyed_by_its_session():
    at = pd.DataFrame({"user_id": pd.array([None], dtype="Int64"), "anonymous_id": ["anon-1-1"],
                       "request_ms": [T + 6 * MIN], "scenario": ["private_radio"]})
    [q] = queries_from_log(EVENTS, at, tracks=pd.DataFrame(), users=None, params=PARAMS)
    assert q.is_anonymous and q.anonymous_id == "anon-1-1"
    assert q.session.track_ids == (9, 3) and q.play_track_ids == (9, 3) and q.profile == Profile()


def test_profile_rows_follow_the_materialize_rule():
    tracks = pd.DataFrame({"track_id": [1, 2, 3, 4, 5, 6, 7, 8, 9], "artist_id": [10, 10, 20, 20, 30, 30, 40, 40, 50],
                           "genre": ["rock", "rock", "jazz", "jazz", "pop", "pop", "folk", "folk", "rock"]})
    users = pd.DataFrame({"user_id": [7, 8, 9], "signup_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2026-01-06"]).date,
                          "age_bucket": ["18-24", "45+", "13-17"], "region": ["EU", "US", "EU"],
                          "home_language": ["en", "es", "en"]})
    at = pd.DataFrame({"user_id": [7, 7, 8, 9], "request_ms": [T + DAY, T, T + DAY, T + 2 * DAY]})
    q = queries_from_log(EVENTS, at, tracks=tracks, users=users, params=PARAMS)
    # user 7 on the next day: plays of day 0: tracks 1,2,3,6,7,8 -> rock 2, folk 2, jazz 1, pop 1
    assert q[0].profile.genres == ("folk", "rock", "jazz") and q[0].profile.genre_weights == (1.0, 0.5, 1 / 3)
    assert q[0].profile.artist_ids == (10, 40, 20, 30)
    assert (q[0].profile.plays_30d, q[0].profile.active_days_30d) == (6, 1)
    assert q[0].profile.skip_rate_30d == pytest.approx(2 / 6) and q[0].profile.languages == ("en",)
    # on day 0 itself the snapshot is of the day before: demographics only
    assert q[1].profile == Profile(languages=("en",), language_weights=(1.0,), age_bucket="18-24", region="EU")
    assert q[2].profile.genres == ("rock",) and q[2].profile.region == "US"
    # a user who signed up on day 1 has a snapshot on day 2 (of day 1), without plays
    assert q[3].profile.age_bucket == "13-17" and q[3].profile.genres == ()


def test_generated_world_log_equals_stream_replay(recall_world):
    events = recall_world.events()
    rng = np.random.default_rng(3)
    known = events[events["user_id"].notna()]
    users = rng.choice(known["user_id"].unique(), size=12, replace=False)
    ts = known["ts"].astype("datetime64[ms, UTC]").astype("int64")
    lo, hi = int(ts.min()), int(ts.max())
    requests = [(int(u), int(rng.integers(lo, hi)), str(rng.choice(["private_radio", "playlist"]))) for u in users]
    # also exactly at an event of the user (not strictly before) and one ms after it
    row = known.iloc[len(known) // 2]
    ev_ms = int(pd.Timestamp(row["ts"]).value // 1_000_000)
    requests += [(int(row["user_id"]), ev_ms, row["scenario"]), (int(row["user_id"]), ev_ms + 1, row["scenario"])]
    params = QueryParams(history_length=20, stream_window=30)
    at = pd.DataFrame(requests, columns=["user_id", "request_ms", "scenario"])
    from_log = queries_from_log(events, at, tracks=recall_world.tracks, users=None, params=params)
    tracks = recall_world.tracks
    durations = dict(zip(tracks["track_id"].astype(int), tracks["duration_ms"].astype(int)))
    from_online = online_queries(events, requests, params, durations=durations)
    for a, b in zip(from_log, from_online):
        for f in ("play_track_ids", "heart_track_ids", "skip_track_ids", "dislike_track_ids", "complete_track_ids",
                  "complete_ts_ms", "session", "context"):
            assert getattr(a, f) == getattr(b, f), (a.user_id, f)
    assert from_log == from_online
    assert sum(len(q.play_track_ids) for q in from_log) > 0 and any(q.session.track_ids for q in from_log)
    assert sum(len(q.complete_track_ids) for q in from_log) > 0


def test_online_user_with_a_profile_but_no_stream_state():
    from encore.feature_store.schema import USER_PROFILE, USER_REALTIME

    row = {name: None for name in USER_PROFILE.feature_names + USER_REALTIME.feature_names}
    row.update(top_genres=["rock", "pop"], top_artist_ids=[3], home_language="en", age_bucket="18-24",
               region="EU", plays_30d=4, skip_rate_30d=0.25, active_days_30d=2)
    [q] = queries_from_online({5: row}, request_ms=T, scenario="daily_recommend", params=PARAMS)
    assert q.user_id == 5 and not q.has_history and q.session.session_id == ""
    assert q.profile == Profile(genres=("rock", "pop"), genre_weights=(1.0, 0.5), languages=("en",),
                                language_weights=(1.0,), artist_ids=(3,), artist_weights=(1.0,),
                                age_bucket="18-24", region="EU", plays_30d=4, skip_rate_30d=0.25,
                                active_days_30d=2)
    [unknown] = queries_from_online({6: {name: None for name in row}}, request_ms=T, params=PARAMS)
    assert unknown.profile == Profile() and unknown.context.scenario == ""


@pytest.mark.parametrize("history, window", [(2, 3), (5, 3)])
def test_log_builder_cuts_the_stream_window_to_the_history_as_the_core_does(history, window):
    """The log builder slices the last min(window, history) rows straight from its
    arrays; the online path cuts the stream's window in ``assemble_query``: equal."""
    params = QueryParams(history_length=history, stream_window=window, max_session_ms=90 * MIN,
                         inactivity_gap_ms=30 * MIN)
    at = pd.DataFrame(REQUESTS, columns=["user_id", "request_ms", "scenario"])
    from_log = queries_from_log(EVENTS, at, tracks=TRACKS, users=None, params=params)
    assert from_log == online_queries(EVENTS, REQUESTS, params, durations=DURATIONS)
    assert max(len(q.dislike_track_ids) for q in from_log) == min(history, window)


def test_categorical_action_and_scenario_give_the_same_queries():
    """The batch read hands ``action`` / ``scenario`` as categoricals (codes compared,
    not strings): the Queries equal those of the object columns."""
    at = pd.DataFrame(REQUESTS, columns=["user_id", "request_ms", "scenario"])
    cat = EVENTS.astype({"action": "category", "scenario": "category"})
    assert queries_from_log(cat, at, tracks=TRACKS, users=None, params=PARAMS) == \
        queries_from_log(EVENTS, at, tracks=TRACKS, users=None, params=PARAMS)


def test_take_rows_keeps_every_dtype_and_the_order():
    from encore.recall.queries import _take_rows

    frame = pd.DataFrame({
        "a": pd.Categorical(["x", "y", None]), "b": np.array([1.5, 2.5, 3.5]), "c": [None, "s", None],
        "d": pd.array([1, None, 3], dtype="Int64"), "e": pd.to_datetime([1, 2, 3], unit="ms", utc=True)})
    out = _take_rows(frame, np.array([2, 0, 1]))
    expected = frame.take([2, 0, 1]).reset_index(drop=True)
    pd.testing.assert_frame_equal(out, expected)
    assert out["c"].tolist() == [None, None, "s"]  # object Nones stay None (no inference)


def test_equality_codes_and_is_value():
    from encore.recall.queries import _equality_codes, _is_value

    cat = pd.Series(pd.Categorical(["a", "b", "b", "a"]))
    codes = _equality_codes(cat)
    assert (codes[1:] != codes[:-1]).tolist() == [True, False, True]
    with_null = pd.Series(pd.Categorical(["a", None, None]))
    neighbours = _equality_codes(with_null)
    assert (neighbours[1:] != neighbours[:-1]).tolist() == [True, True]  # NaN != NaN, as between objects
    assert _is_value(cat, "b").tolist() == [False, True, True, False]
    assert _is_value(cat, "z").tolist() == [False] * 4
    assert _is_value(pd.Series(["a", "b"], dtype=object), "a").tolist() == [True, False]

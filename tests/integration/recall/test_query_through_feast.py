"""The Query a server builds from the real Feast online store (the stream's state, pushed
through the processor's own store adapter and read back by the serving FeatureClient)
equals the one built point in time from the event log, for the same listener and moment."""

from __future__ import annotations

import pandas as pd
import pytest

from encore.feature_store.client import FeatureClient
from encore.feature_store.store import apply_repo, open_store
from encore.platform.config import FeatureStoreConfig
from encore.platform.stream.online_state import FeastUserStateStore
from encore.platform.stream.state import StateParams, StreamEvent, replay
from encore.recall.queries import QueryParams, queries_from_log, queries_from_online

pytestmark = pytest.mark.integration

MIN = 60_000
T = 1_767_607_200_000  # 2026-01-05 10:00 UTC
PARAMS = QueryParams(history_length=3, stream_window=3, max_session_ms=90 * MIN, inactivity_gap_ms=30 * MIN)
ROWS = [  # (user, session, scenario, track, action, ts_ms, played_ms)
    (7, "s", "private_radio", 1, "play_start", T, None),
    (7, "s", "private_radio", 1, "heart", T + MIN, None),
    (7, "s", "private_radio", 1, "play_end", T + MIN + 1, 190_000),  # 190 of 200 s: a complete play
    (7, "s", "private_radio", 2, "play_start", T + 2 * MIN, None),
    (7, "s", "private_radio", 2, "skip", T + 3 * MIN, 15_000),
    (7, "s", "private_radio", 2, "dislike", T + 3 * MIN + 1, None),
    (7, "s", "private_radio", 3, "play_start", T + 4 * MIN, None),
    (7, "s", "private_radio", 3, "play_end", T + 4 * MIN + 1, 20_000),  # not complete
    (7, "s", "private_radio", 4, "play_start", T + 5 * MIN, None),
    (7, "s", "private_radio", 5, "play_start", T + 6 * MIN, None),  # 5 plays > window 3
    (7, "s", "search", 6, "play_start", T + 7 * MIN, None),  # scenario switch: a new session
    (8, "u", "playlist", 9, "play_start", T + 30 * MIN, None),
    (8, "u", "playlist", 9, "heart", T + 31 * MIN, None),
    (8, "u", "playlist", 9, "play_end", T + 32 * MIN, 200_000),
]
DURATIONS = {1: 200_000, 3: 200_000, 9: 200_000}
REQUESTS = [(7, T + 20 * MIN, "search"), (7, T + 20 * MIN, "daily_recommend"), (8, T + 40 * MIN, "playlist")]


def _log() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["user_id", "session_id", "scenario", "track_id", "action", "ts_ms", "played_ms"])
    frame["event_id"] = [f"e{i}" for i in range(len(frame))]
    frame["user_id"] = frame["user_id"].astype("Int64")
    frame["ts"] = pd.to_datetime(frame["ts_ms"], unit="ms", utc=True)
    return frame.drop(columns="ts_ms")


def _stream_events(user_id: int) -> list[StreamEvent]:
    return [StreamEvent(event_id=f"e{i}", user_id=u, track_id=track, scenario=scenario.upper(),
                        action=action.upper(), ts_ms=ts, played_ms=played or 0)
            for i, (u, _, scenario, track, action, ts, played) in enumerate(ROWS) if u == user_id]


def test_feast_online_query_equals_the_point_in_time_query(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ENCORE_FEATURES_OFFLINE_DIR", raising=False)
    settings = FeatureStoreConfig().under(tmp_path / "features")  # the SQLite online store
    store = open_store(settings)
    apply_repo(store)
    state_params = StateParams(recent_sequence_length=PARAMS.stream_window,
                               inactivity_gap_ms=PARAMS.inactivity_gap_ms, max_session_ms=PARAMS.max_session_ms,
                               durations=DURATIONS)
    rows = []
    for user_id in (7, 8):  # every event is before every request, so one state per user
        state = replay(user_id, _stream_events(user_id), state_params)
        rows.append({**state.feature_row(), "event_timestamp": state.next_push_timestamp()})
    FeastUserStateStore(store).push(rows)

    client = FeatureClient(store, item_cache_size=10, item_cache_ttl_s=60)
    online = []
    for user_id, at, scenario in REQUESTS:
        online += queries_from_online(client.user_features([user_id]), request_ms=at, scenario=scenario,
                                      params=PARAMS)
    at = pd.DataFrame(REQUESTS, columns=["user_id", "request_ms", "scenario"])
    tracks = pd.DataFrame({"track_id": list(DURATIONS), "duration_ms": list(DURATIONS.values())})
    from_log = queries_from_log(_log(), at, tracks=tracks, users=None, params=PARAMS)

    assert online == from_log
    radio = from_log[0]
    assert radio.play_track_ids == (4, 5, 6) and radio.skip_track_ids == (2,) and radio.dislike_track_ids == (2,)
    assert radio.session.scenario == "search" and radio.session.track_ids == (6,)
    assert radio.complete_track_ids == (1,) and radio.complete_ts_ms == (T + MIN + 1,)  # through Feast too
    assert from_log[2].complete_track_ids == (9,)
    assert from_log[1].session.track_ids == ()  # a daily_recommend request would open a new session

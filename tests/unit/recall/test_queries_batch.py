"""The one Query builder, batched: Queries built for many listeners in one call equal,
field by field, the Queries built one listener at a time from that listener's own events
(the per-listener path of a request or a naive loop); and the prepared log's sessions
equal the one sessionization rule applied to the whole log."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from encore.platform.contracts.sessions import sessionize_frame
from encore.recall.queries import QueryParams, queries_from_log
from encore.recall.tables import sessions_from_events, with_ts_ms

PARAMS = QueryParams(history_length=20, stream_window=30)


def fields(value, prefix=""):
    """(dotted field name, value) of a Query, nested dataclasses flattened."""
    if not dataclasses.is_dataclass(value):
        return [(prefix, value)]
    out = []
    for f in dataclasses.fields(value):
        out += fields(getattr(value, f.name), f"{prefix}.{f.name}" if prefix else f.name)
    return out


def requests(world, rng):
    """Known users at random moments and at the day starts of the log (a profile
    snapshot each), a second after a play (inside its session), two anonymous sessions,
    one anonymous session that has no events."""
    events = with_ts_ms(world.events())
    ts = events["ts_ms"].to_numpy()
    known = events["user_id"].dropna().astype(np.int64).unique()
    users = rng.choice(known, size=40, replace=False)
    day0 = int(ts.min()) // 86_400_000 * 86_400_000
    moments = np.r_[rng.integers(int(ts.min()), int(ts.max()), size=20), day0 + 86_400_000 * np.arange(1, 21)]
    anon = events.loc[events["user_id"].isna(), "session_id"].unique()[:2].tolist()
    rows = [(int(u), None, int(m), str(rng.choice(["private_radio", "playlist", None])))
            for u, m in zip(users, moments)]
    plays = events[events["user_id"].notna() & (events["action"] == "play_start")]
    for _, play in plays.iloc[rng.choice(len(plays), size=8, replace=False)].iterrows():
        rows.append((int(play["user_id"]), None, int(play["ts_ms"]) + 1000, str(play["scenario"])))
    rows += [(None, a, int(ts.max()) + 1, None) for a in anon] + [(None, "anon-none", int(ts.max()), "search")]
    at = pd.DataFrame(rows, columns=["user_id", "anonymous_id", "request_ms", "scenario"])
    at["user_id"] = at["user_id"].astype("Int64")
    return at


@pytest.mark.slow
def test_batch_path_equals_the_per_listener_path_field_by_field(recall_world):
    events, tracks, users = recall_world.events(), recall_world.tracks, recall_world.users
    at = requests(recall_world, np.random.default_rng(11))
    batched = queries_from_log(events, at, tracks=tracks, users=users, params=PARAMS)
    for i in range(len(at)):
        request = at.iloc[i:i + 1]
        uid = request["user_id"].iloc[0]
        own = (events[events["user_id"] == uid] if not pd.isna(uid)
               else events[events["session_id"] == request["anonymous_id"].iloc[0]])
        alone = queries_from_log(own, request, tracks=tracks, users=users, params=PARAMS)[0]
        for (name, got), (_, want) in zip(fields(batched[i]), fields(alone)):
            assert got == want, (i, name)
    assert sum(bool(q.play_track_ids) for q in batched) > 30  # the world gives the listeners histories
    assert sum(bool(q.profile.genres) for q in batched) > 20 and any(q.session.track_ids for q in batched)
    assert batched[-1].anonymous_id == "anon-none" and batched[-1].play_track_ids == ()


@pytest.mark.slow
def test_prepared_sessions_follow_the_one_rule(recall_world):
    events = with_ts_ms(recall_world.events())
    got = sessions_from_events(events, PARAMS)
    # the rule on the whole log: known listeners sessionized, anonymous ones by their id
    ev = events.drop_duplicates("event_id").sort_values(["ts_ms", "event_id"], kind="mergesort")
    known = ev["user_id"].notna()
    sid = ev["session_id"].astype(object).copy()
    sid[known] = sessionize_frame(ev[known].assign(user_id=ev.loc[known, "user_id"].astype(np.int64)),
                                  key_col="user_id", ts_col="ts_ms", max_session_ms=PARAMS.max_session_ms,
                                  inactivity_gap_ms=PARAMS.inactivity_gap_ms)
    ev = ev.assign(sid=sid)
    start = ev.groupby("sid")["ts_ms"].min()
    plays = ev[ev["action"] == "play_start"]
    want = {s: (int(start[s]), part["track_id"].tolist()) for s, part in plays.groupby("sid")}
    assert len(got) == len(want) > 100
    assert got["session_id"].tolist() == sorted(want)
    for s, ms, tracks in zip(got["session_id"], got["start_ms"], got["track_ids"]):
        assert (int(ms), tracks.tolist()) == want[s], s

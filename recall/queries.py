"""The one place Queries are built: from Feast online rows (serving) and point-in-time
from the event log (training, offline evaluation), through one shared core.

Both builders first bring a listener to the same two intermediate rows, then call
:func:`assemble_query`:

* a *realtime* row with the ``user_realtime`` columns of
  :mod:`encore.feature_store.schema` (session id / start / track ids, recent play,
  heart, skip and dislike sequences) plus the open session's last event ms and scenario (the
  stream keeps those in ``stream_state``; read through the stream's own parser
  :meth:`encore.platform.stream.state.UserState.from_feature_row`);
* a *profile* row with the ``user_profile`` columns (or None).

``queries_from_online(features, ...)`` takes what ``FeatureClient.user_features``
returns (user id -> every feature of ``user_profile`` and ``user_realtime``).

``queries_from_log(events, at, ...)`` computes the same rows from the event log with
array operations (no loop over events): only events *strictly before* each request's
``request_ms`` count, ordered by (ts, event_id), duplicates by event_id dropped; the
realtime row follows the stream semantics of :mod:`encore.platform.stream.state`
(sequences keep the last ``stream_window`` entries in order; an unheart removes the
track from the heart window; a complete play is a ``play_end`` reaching the
:mod:`encore.platform.contracts.labels` fraction of the track's ``duration_ms`` from
``tracks``, as the stream judges it with the catalog's durations; sessions by
:func:`encore.platform.contracts.sessions.sessionize_frame`);
the profile row follows the ``materialize_features`` job: the snapshot of the UTC day
before the request (users signed up by then; over the ``profile_window_days`` days
ending that day: play_starts, skips, active days, the 3 most played genres and the 5
most played artists, ties by name / id). Anonymous listeners (``user_id`` null) are
keyed by their session id and have no profile. One exact-but-slow path: a listener
with more than ``stream_window`` hearts and an unheart before the request has the
heart window replayed with the stream's own ``apply_event`` (hearts are rare).

The core (:func:`assemble_query`) then applies, identically for both: truncation to
``history_length``; the current session only if the request would not open a new one
(:func:`encore.platform.contracts.sessions.opens_session` with the request's ms and scenario);
profile weights ``1 / rank``; the home language as the one language (weight 1);
local hour = (UTC hour + ``utc_offset_hours``) mod 24; scenarios in lower case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from encore.platform.config import RecallConfig, SessionsConfig, StreamConfig
from encore.platform.contracts.sessions import epoch_ms, opens_session, sessionize_frame
from encore.recall.query import Context, Profile, Query, Session

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
TOP_GENRES = 3
TOP_ARTISTS = 5


@dataclass(frozen=True)
class QueryParams:
    """How Queries are cut: ``history_length`` (``recall.history_length``),
    ``stream_window`` (``stream.recent_sequence_length``: the stream's own window, which
    the log builder must mirror), the sessionization rule and the profile window."""

    history_length: int = RecallConfig().history_length
    stream_window: int = StreamConfig().recent_sequence_length
    max_session_ms: int = SessionsConfig().max_session_ms
    inactivity_gap_ms: int = SessionsConfig().inactivity_gap_ms
    profile_window_days: int = 30
    utc_offset_hours: int = 0

    @classmethod
    def from_config(cls, config: Any) -> "QueryParams":
        """From an ``EncoreConfig``: recall, stream and sessions sections."""
        return cls(
            history_length=config.recall.history_length,
            stream_window=config.stream.recent_sequence_length,
            max_session_ms=config.sessions.max_session_ms,
            inactivity_gap_ms=config.sessions.inactivity_gap_ms,
        )


# -- the shared core ---------------------------------------------------------------------

def _ints(values: Any, limit: int) -> tuple[int, ...]:
    if values is None:
        return ()
    values = list(values)
    return tuple(int(v) for v in values[max(0, len(values) - limit):])


def _profile(row: Mapping[str, Any] | None) -> Profile:
    if not row:
        return Profile()
    genres = tuple(str(g) for g in (row.get("top_genres") or ()))
    artists = tuple(int(a) for a in (row.get("top_artist_ids") or ()))
    language = row.get("home_language")
    skip_rate = row.get("skip_rate_30d")
    return Profile(
        genres=genres, genre_weights=tuple(1.0 / (i + 1) for i in range(len(genres))),
        languages=(str(language),) if language else (),
        language_weights=(1.0,) if language else (),
        artist_ids=artists, artist_weights=tuple(1.0 / (i + 1) for i in range(len(artists))),
        age_bucket=str(row.get("age_bucket") or ""), region=str(row.get("region") or ""),
        plays_30d=int(row.get("plays_30d") or 0),
        skip_rate_30d=float(np.float32(skip_rate or 0.0)),
        active_days_30d=int(row.get("active_days_30d") or 0),
    )


def assemble_query(
    *,
    user_id: int | None,
    anonymous_id: str | None,
    realtime: Mapping[str, Any] | None,
    profile: Mapping[str, Any] | None,
    request_ms: int,
    scenario: str | None,
    params: QueryParams,
) -> Query:
    """THE core both builders share: a realtime row (``user_realtime`` columns plus
    ``session_last_ms`` and ``session_scenario``) and a ``user_profile`` row -> Query."""
    rt = realtime or {}
    n = params.history_length
    session_scenario = str(rt.get("session_scenario") or "").lower()
    request_scenario = (scenario or session_scenario).lower()
    session = Session()
    session_id = rt.get("session_id") or ""
    if session_id and not opens_session(
        int(rt.get("session_start_ms") or 0), int(rt.get("session_last_ms") or 0), session_scenario,
        int(request_ms), request_scenario,
        max_session_ms=params.max_session_ms, inactivity_gap_ms=params.inactivity_gap_ms,
    ):
        session = Session(session_id=str(session_id), scenario=session_scenario,
                          start_ms=int(rt.get("session_start_ms") or 0),
                          track_ids=_ints(rt.get("session_track_ids"), n))
    hour = int((request_ms // HOUR_MS + params.utc_offset_hours) % 24)
    return Query(
        context=Context(request_ms=int(request_ms), local_hour=hour, scenario=request_scenario),
        user_id=None if user_id is None else int(user_id),
        anonymous_id=anonymous_id,
        play_track_ids=_ints(rt.get("recent_play_track_ids"), n),
        play_ts_ms=_ints(rt.get("recent_play_ts_ms"), n),
        heart_track_ids=_ints(rt.get("recent_heart_track_ids"), n),
        heart_ts_ms=_ints(rt.get("recent_heart_ts_ms"), n),
        skip_track_ids=_ints(rt.get("recent_skip_track_ids"), n),
        skip_ts_ms=_ints(rt.get("recent_skip_ts_ms"), n),
        skip_at_ms=_ints(rt.get("recent_skip_at_ms"), n),
        dislike_track_ids=_ints(rt.get("recent_dislike_track_ids"), n),
        complete_track_ids=_ints(rt.get("recent_complete_track_ids"), n),
        complete_ts_ms=_ints(rt.get("recent_complete_ts_ms"), n),
        session=session,
        profile=_profile(profile) if user_id is not None else Profile(),
    )


# -- serving: Feast online rows ----------------------------------------------------------

def realtime_row_from_online(user_id: int, features: Mapping[str, Any]) -> dict[str, Any] | None:
    """The realtime row of one online ``user_realtime`` read (None: no pushes yet)."""
    if not features or not features.get("stream_state"):
        return None
    from encore.platform.stream.state import UserState

    state = UserState.from_feature_row(user_id, features)
    row = {name: getattr(state, name) for name in _REALTIME_COLUMNS}
    row["session_last_ms"] = state.session_last_ms
    row["session_scenario"] = state.session_scenario
    return row


_REALTIME_COLUMNS = (
    "session_id", "session_start_ms", "session_track_ids",
    "recent_play_track_ids", "recent_play_ts_ms", "recent_heart_track_ids", "recent_heart_ts_ms",
    "recent_skip_track_ids", "recent_skip_ts_ms", "recent_skip_at_ms", "recent_dislike_track_ids",
    "recent_complete_track_ids", "recent_complete_ts_ms",
)


def queries_from_online(
    features: Mapping[int, Mapping[str, Any]],
    *,
    request_ms: int | Sequence[int],
    scenario: str | Sequence[str | None] | None = None,
    params: QueryParams,
) -> list[Query]:
    """Queries for the users of ``features`` (user id -> the ``user_profile`` and
    ``user_realtime`` features, as ``FeatureClient.user_features`` returns; None values
    for what the store lacks), in the mapping's order. ``request_ms`` / ``scenario``:
    one value for all or one per user."""
    users = list(features)
    times = [request_ms] * len(users) if isinstance(request_ms, (int, np.integer)) else list(request_ms)
    scenarios = [scenario] * len(users) if scenario is None or isinstance(scenario, str) else list(scenario)
    if len(times) != len(users) or len(scenarios) != len(users):
        raise ValueError("request_ms / scenario must be one value or one per user")
    queries = []
    for user_id, ms, scen in zip(users, times, scenarios):
        row = features[user_id] or {}
        has_profile = any(row.get(k) is not None for k in ("age_bucket", "region", "home_language", "top_genres"))
        queries.append(assemble_query(
            user_id=int(user_id), anonymous_id=None,
            realtime=realtime_row_from_online(int(user_id), row),
            profile=row if has_profile else None,
            request_ms=int(ms), scenario=scen, params=params,
        ))
    return queries


# -- offline: point in time from the event log -------------------------------------------

def _listener_keys(user_id: pd.Series, anonymous_id: pd.Series) -> np.ndarray:
    known = user_id.notna().to_numpy()
    keys = np.where(known, "u:" + user_id.astype("Int64").astype(str), "a:" + anonymous_id.astype(str))
    return keys.astype(object)


def prepare_log(events: pd.DataFrame, params: QueryParams, tracks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The event log in the form the point-in-time builder searches: duplicates by
    event_id dropped, ``key`` (``u:<user>`` / ``a:<session>``), ``ts_ms``, the session
    of every event by the one rule, ``complete`` (a play_end reaching the complete-play
    fraction of the track's ``duration_ms`` in ``tracks``; none without durations, as
    the stream without a catalog), ordered by (key, ts_ms, event_id). Compute it once
    and pass it to :func:`queries_from_log` for many calls."""
    from encore.platform.contracts.labels import is_complete_play

    ev = events.drop_duplicates("event_id").copy()
    if tracks is not None and "duration_ms" in tracks and len(tracks):
        duration = ev["track_id"].map(tracks.drop_duplicates("track_id").set_index("track_id")["duration_ms"])
        played = pd.to_numeric(ev["played_ms"], errors="coerce")
        ev["complete"] = ((ev["action"] == "play_end") & duration.gt(0)
                          & is_complete_play(played, duration).fillna(False)).to_numpy(dtype=bool)
    else:
        ev["complete"] = False
    ev["ts_ms"] = epoch_ms(ev["ts"]) if "ts_ms" not in ev else ev["ts_ms"].astype(np.int64)
    ev["key"] = _listener_keys(ev["user_id"], ev["session_id"])
    ev = ev.sort_values(["key", "ts_ms", "event_id"], kind="mergesort").reset_index(drop=True)
    known = ev["user_id"].notna()
    ev["sid"] = ev["session_id"].astype(object)
    if known.any():
        users = ev.loc[known, ["user_id", "ts_ms", "scenario"]]
        users = users.assign(user_id=users["user_id"].astype(np.int64))
        ev.loc[known, "sid"] = sessionize_frame(
            users, key_col="user_id", ts_col="ts_ms",
            max_session_ms=params.max_session_ms, inactivity_gap_ms=params.inactivity_gap_ms)
    ev["sid_start_ms"] = ev.groupby("sid", sort=False)["ts_ms"].transform("min")
    ev.attrs["prepared"] = True
    return ev


class _Searcher:
    """Rows of one action, sorted by (listener code, ts): for each request the range of
    the listener's rows strictly before the request, by two ``searchsorted`` calls."""

    def __init__(self, codes: np.ndarray, ts: np.ndarray, t0: int, span: int):
        self.key = codes.astype(np.int64) * span + (ts - t0)
        self.t0, self.span = t0, span

    def ranges(self, codes: np.ndarray, at_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        base = codes.astype(np.int64) * self.span
        lo = np.searchsorted(self.key, base, side="left")
        hi = np.searchsorted(self.key, base + np.clip(at_ms - self.t0, 0, self.span - 1), side="left")
        return lo, hi


def queries_from_log(
    events: pd.DataFrame,
    at: pd.DataFrame,
    *,
    tracks: pd.DataFrame,
    users: pd.DataFrame | None,
    params: QueryParams,
) -> list[Query]:
    """Point-in-time Queries, one per row of ``at`` (in its order).

    ``events``: the event log (world ``EVENTS`` columns: event_id, ts, user_id (null =
    anonymous), session_id, scenario, track_id, action, played_ms; or the output of
    :func:`prepare_log`). ``at``: ``user_id`` (null for anonymous), ``anonymous_id``
    (the anonymous session id; optional when every row has a user), ``request_ms``
    (epoch ms) and optionally ``scenario``. ``tracks``: catalog (track_id, genre,
    artist_id) for the profile; ``users``: users table (user_id, signup_date, age_bucket,
    region, home_language), None for no profiles.
    """
    ev = events if events.attrs.get("prepared") else prepare_log(events, params, tracks)
    at = at.reset_index(drop=True)
    anon = at["anonymous_id"] if "anonymous_id" in at else pd.Series([None] * len(at))
    q_keys = _listener_keys(at["user_id"], anon)
    q_ms = at["request_ms"].to_numpy(dtype=np.int64)
    realtime = _realtime_rows(ev, q_keys, q_ms, params)
    profiles = _profile_rows(ev, at, q_ms, tracks, users, params)
    scenarios = at["scenario"].tolist() if "scenario" in at else [None] * len(at)
    user_ids = at["user_id"].astype("Int64").tolist()
    anon_ids = anon.tolist()
    return [
        assemble_query(
            user_id=None if pd.isna(uid) else int(uid),
            anonymous_id=str(aid) if pd.isna(uid) else None,
            realtime=rt, profile=pr, request_ms=int(ms),
            scenario=None if sc is None or (isinstance(sc, float) and np.isnan(sc)) else sc,
            params=params)
        for uid, aid, rt, pr, ms, sc in zip(user_ids, anon_ids, realtime, profiles, q_ms, scenarios)
    ]


def _realtime_rows(ev: pd.DataFrame, q_keys: np.ndarray, q_ms: np.ndarray,
                   params: QueryParams) -> list[dict[str, Any] | None]:
    n = params.stream_window
    all_keys = pd.Index(pd.unique(np.concatenate([ev["key"].to_numpy(dtype=object), q_keys])))
    ev_codes = all_keys.get_indexer(ev["key"].to_numpy(dtype=object))
    q_codes = all_keys.get_indexer(q_keys)
    ts = ev["ts_ms"].to_numpy(dtype=np.int64)
    t0 = int(min(ts.min(initial=0), q_ms.min(initial=0)))
    span = int(max(ts.max(initial=0), q_ms.max(initial=0)) - t0 + 2)
    action = ev["action"].to_numpy(dtype=object)
    track = ev["track_id"].fillna(-1).to_numpy(dtype=np.int64)
    played = ev["played_ms"].fillna(0).to_numpy(dtype=np.int64)
    sid = ev["sid"].to_numpy(dtype=object)
    sid_start = ev["sid_start_ms"].to_numpy(dtype=np.int64)
    scenario = ev["scenario"].to_numpy(dtype=object)

    def subset(name: str) -> tuple[np.ndarray, _Searcher]:
        rows = np.flatnonzero(action == name)
        return rows, _Searcher(ev_codes[rows], ts[rows], t0, span)

    all_rows = np.arange(len(ev))
    everything = _Searcher(ev_codes, ts, t0, span)
    plays, play_search = subset("play_start")
    skips, skip_search = subset("skip")
    hearts, heart_search = subset("heart")
    unhearts, _ = subset("unheart")
    dislikes, dislike_search = subset("dislike")
    completes = np.flatnonzero(ev["complete"].to_numpy(dtype=bool)) if "complete" in ev else np.zeros(0, np.int64)
    complete_search = _Searcher(ev_codes[completes], ts[completes], t0, span)

    lo, hi = everything.ranges(q_codes, q_ms)
    p_lo, p_hi = play_search.ranges(q_codes, q_ms)
    s_lo, s_hi = skip_search.ranges(q_codes, q_ms)
    h_lo, h_hi = heart_search.ranges(q_codes, q_ms)
    d_lo, d_hi = dislike_search.ranges(q_codes, q_ms)
    c_lo, c_hi = complete_search.ranges(q_codes, q_ms)
    # the open session: that of the last event before the request; its plays start at
    # the first play at or after the session's start
    last = np.where(hi > lo, hi - 1, 0)
    sess_start = sid_start[last] if len(ev) else np.zeros(len(q_ms), np.int64)
    ps_lo = np.searchsorted(play_search.key, q_codes.astype(np.int64) * span + (sess_start - t0), side="left")
    heart_alive = _hearts_alive(ev_codes, track, hearts, unhearts, h_lo, h_hi, q_ms, ts, n)
    unheart_before = _count_before(ev_codes[unhearts], ts[unhearts], q_codes, q_ms)

    rows: list[dict[str, Any] | None] = []
    for i in range(len(q_keys)):
        if hi[i] <= lo[i]:
            rows.append(None)
            continue
        e = last[i]
        p = plays[max(p_lo[i], p_hi[i] - n):p_hi[i]]
        s = skips[max(s_lo[i], s_hi[i] - n):s_hi[i]]
        sp = plays[max(ps_lo[i], p_hi[i] - n):p_hi[i]]
        d = dislikes[max(d_lo[i], d_hi[i] - n):d_hi[i]]
        c = completes[max(c_lo[i], c_hi[i] - n):c_hi[i]]
        if h_hi[i] - h_lo[i] > n and unheart_before[i]:
            h_ids, h_ts = _replay_hearts(ev, all_rows[lo[i]:hi[i]], n)
        else:
            h = hearts[max(h_lo[i], h_hi[i] - n):h_hi[i]]
            h = h[heart_alive[i]] if len(h) else h
            h_ids, h_ts = track[h].tolist(), ts[h].tolist()
        rows.append({
            "session_id": sid[e], "session_start_ms": int(sid_start[e]),
            "session_last_ms": int(ts[e]), "session_scenario": scenario[e],
            "session_track_ids": track[sp].tolist(),
            "recent_play_track_ids": track[p].tolist(), "recent_play_ts_ms": ts[p].tolist(),
            "recent_heart_track_ids": h_ids, "recent_heart_ts_ms": h_ts,
            "recent_skip_track_ids": track[s].tolist(), "recent_skip_ts_ms": ts[s].tolist(),
            "recent_skip_at_ms": played[s].tolist(),
            "recent_dislike_track_ids": track[d].tolist(),
            "recent_complete_track_ids": track[c].tolist(), "recent_complete_ts_ms": ts[c].tolist(),
        })
    return rows


def _count_before(codes: np.ndarray, ts: np.ndarray, q_codes: np.ndarray, q_ms: np.ndarray) -> np.ndarray:
    """Per request: how many of these rows (sorted by code, ts) the listener has before it."""
    if not len(codes):
        return np.zeros(len(q_codes), dtype=np.int64)
    t0 = int(min(ts.min(), q_ms.min()))
    span = int(max(ts.max(), q_ms.max()) - t0 + 2)
    key = codes.astype(np.int64) * span + (ts - t0)
    base = q_codes.astype(np.int64) * span
    return np.searchsorted(key, base + (q_ms - t0), side="left") - np.searchsorted(key, base, side="left")


def _hearts_alive(ev_codes, track, hearts, unhearts, h_lo, h_hi, q_ms, ts, n) -> list[np.ndarray]:
    """For each request, a mask over its last ``n`` hearts: True unless the same listener
    unhearted that track after the heart and before the request (vectorised over all
    (request, heart) pairs)."""
    start = np.maximum(h_lo, h_hi - n)
    counts = h_hi - start
    total = int(counts.sum())
    if total == 0:
        return [np.zeros(0, dtype=bool)] * len(h_lo)
    q_of_pair = np.repeat(np.arange(len(h_lo)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_heart = hearts[np.repeat(start, counts) + offsets]
    alive = np.ones(total, dtype=bool)
    if len(unhearts):
        # the first unheart of the same (listener, track) after the heart (a larger row:
        # a listener's rows are in (ts, event_id) order) removes it if it is before the request
        n_tracks = np.int64(track.max()) + 2
        n_rows = np.int64(len(track)) + 1
        u_pair = ev_codes[unhearts].astype(np.int64) * n_tracks + track[unhearts] + 1
        order = np.lexsort((unhearts, u_pair))
        u_pair, u_row = u_pair[order], unhearts[order]
        h_pair = ev_codes[pair_heart].astype(np.int64) * n_tracks + track[pair_heart] + 1
        nxt = np.searchsorted(u_pair * n_rows + u_row, h_pair * n_rows + pair_heart + 1)
        ok = nxt < len(u_row)
        nxt = np.minimum(nxt, len(u_row) - 1)
        alive = ~(ok & (u_pair[nxt] == h_pair) & (ts[u_row[nxt]] < q_ms[q_of_pair]))
    return np.split(alive, np.cumsum(counts)[:-1])


def _replay_hearts(ev: pd.DataFrame, rows: np.ndarray, n: int) -> tuple[list[int], list[int]]:
    """The heart window by the stream's own logic (the rare exact-but-slow path)."""
    from encore.platform.stream.state import StateParams, StreamEvent, UserState, apply_event

    part = ev.iloc[rows]
    part = part[part["action"].isin(["heart", "unheart"])]
    state, params = UserState(user_id=0), StateParams(recent_sequence_length=n)
    for r in part.itertuples():
        apply_event(state, StreamEvent(event_id=r.event_id, user_id=0, track_id=int(r.track_id),
                                       scenario="X", action=r.action.upper(), ts_ms=int(r.ts_ms)), params)
    return list(state.recent_heart_track_ids), list(state.recent_heart_ts_ms)


def _utc_date(ms: np.ndarray) -> np.ndarray:
    return (ms // DAY_MS).astype("datetime64[D]")


def _profile_rows(ev: pd.DataFrame, at: pd.DataFrame, q_ms: np.ndarray, tracks: pd.DataFrame,
                  users: pd.DataFrame | None, params: QueryParams) -> list[dict[str, Any] | None]:
    """The ``user_profile`` snapshot of the day before each request (materialize_features
    rule), one loop step per distinct snapshot day, each a vectorised groupby."""
    out: list[dict[str, Any] | None] = [None] * len(at)
    if users is None:
        return out
    known = at["user_id"].notna().to_numpy()
    if not known.any():
        return out
    snapshot_day = _utc_date(q_ms) - np.timedelta64(1, "D")
    users = users.drop_duplicates("user_id").set_index("user_id")
    signup_of = dict(zip(users.index.tolist(),
                         pd.to_datetime(users["signup_date"]).to_numpy(dtype="datetime64[D]")))
    static = {col: dict(zip(users.index.tolist(), users[col].tolist()))
              for col in ("age_bucket", "region", "home_language")}
    ev_known = ev.loc[ev["user_id"].notna(), ["user_id", "ts_ms", "action", "track_id"]]
    ev_day = _utc_date(ev_known["ts_ms"].to_numpy(dtype=np.int64))
    meta = tracks.set_index("track_id")[["genre", "artist_id"]]
    q_users = at["user_id"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
    for day in np.unique(snapshot_day[known]):
        lo = day - np.timedelta64(params.profile_window_days - 1, "D")
        recent = ev_known[(ev_day >= lo) & (ev_day <= day)]
        recent_day = _utc_date(recent["ts_ms"].to_numpy(dtype=np.int64))
        uid = recent["user_id"].astype(np.int64)
        is_play = (recent["action"] == "play_start").to_numpy()
        activity = pd.DataFrame({
            "user_id": uid.to_numpy(), "play": is_play, "skip": (recent["action"] == "skip").to_numpy(),
            "day": recent_day,
        }).groupby("user_id").agg(plays=("play", "sum"), skips=("skip", "sum"), days=("day", "nunique"))
        plays_of = dict(zip(activity.index.tolist(), activity["plays"].tolist()))
        skips_of = dict(zip(activity.index.tolist(), activity["skips"].tolist()))
        days_of = dict(zip(activity.index.tolist(), activity["days"].tolist()))
        played = recent[is_play].join(meta, on="track_id", rsuffix="_t")
        played = played.assign(user_id=played["user_id"].astype(np.int64))
        top_genres = _top(played, "genre", TOP_GENRES)
        top_artists = _top(played, "artist_id", TOP_ARTISTS)
        rows_here = np.flatnonzero(known & (snapshot_day == day))
        for i in rows_here:
            user = int(q_users[i])
            if user not in signup_of or signup_of[user] > day:
                continue
            plays = int(plays_of.get(user, 0))
            skips = int(skips_of.get(user, 0))
            out[i] = {
                "age_bucket": static["age_bucket"][user], "region": static["region"][user],
                "home_language": static["home_language"][user],
                "top_genres": top_genres.get(user), "top_artist_ids": top_artists.get(user),
                "plays_30d": plays, "skip_rate_30d": skips / plays if plays else 0.0,
                "active_days_30d": int(days_of.get(user, 0)),
            }
    return out


def _top(played: pd.DataFrame, col: str, n: int) -> dict[int, list]:
    """user -> the ``n`` most played values of ``col`` (ties: smaller value first)."""
    counted = played.dropna(subset=[col]).groupby(["user_id", col]).size().rename("n").reset_index()
    counted = counted.sort_values(["user_id", "n", col], ascending=[True, False, True], kind="mergesort")
    counted = counted.groupby("user_id").head(n)
    user_ids = counted["user_id"].to_numpy(dtype=np.int64)
    values = counted[col].tolist()
    if not len(user_ids):
        return {}
    starts = np.flatnonzero(np.r_[True, user_ids[1:] != user_ids[:-1]])
    ends = np.r_[starts[1:], len(user_ids)]
    return {int(user_ids[a]): [v.item() if hasattr(v, "item") else v for v in values[a:b]]
            for a, b in zip(starts.tolist(), ends.tolist())}

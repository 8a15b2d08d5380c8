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
from encore.platform.contracts.sessions import epoch_ms, opens_session, same_ms_ranks, session_name, session_starts
from encore.recall.query import Context, Profile, Query, Session

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
TOP_GENRES = 3
TOP_ARTISTS = 5
SMALL_TAKE = 50_000  # rows below which prepare_log takes the frame whole (see _take_rows)


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

def _user_floats(user_id: pd.Series) -> np.ndarray:
    """A user id column (float with NaN, nullable Int64 or object) as float64, NaN = anonymous."""
    return pd.to_numeric(user_id, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _complete_plays(ev: pd.DataFrame, tracks: pd.DataFrame | None) -> np.ndarray:
    """Per event: a play_end reaching the complete-play fraction of the track's duration."""
    from encore.platform.contracts.labels import is_complete_play

    if tracks is None or "duration_ms" not in tracks or not len(tracks) or not len(ev):
        return np.zeros(len(ev), dtype=bool)
    duration = ev["track_id"].map(tracks.drop_duplicates("track_id").set_index("track_id")["duration_ms"])
    played = pd.to_numeric(ev["played_ms"], errors="coerce")
    return ((ev["action"] == "play_end") & duration.gt(0)
            & is_complete_play(played, duration).fillna(False)).to_numpy(dtype=bool)


def prepare_log(events: pd.DataFrame, params: QueryParams, tracks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The event log in the form the point-in-time builder searches: duplicates by
    event_id dropped, ``ts_ms``, ``code`` (int64 listener code: the user id, or a
    negative code per anonymous session), ordered by (code, ts_ms, event_id), and the
    session of every event by the one rule (:func:`session_starts`): ``sno`` (int64
    session number, increasing down the frame), ``sid_start_ms`` and ``sid_rank`` (the
    same-ms rank of :func:`session_name`); :func:`session_ids` names them. Anonymous
    listeners' sessions are their own session ids; ``complete`` (a play_end reaching
    the complete-play fraction of the track's ``duration_ms`` in ``tracks``; none without
    durations, as the stream without a catalog). Compute it once and pass it to
    :func:`queries_from_log` for many calls.

    Integer keys and one lexsort (event ids compared only among a listener's events of
    the same ms): no string keys, no per-session strings. An integer ``event_id``
    column is taken as the ids' order (e.g. the dense rank of the id strings, as
    :func:`encore.recall.batch_read.events_of` gives it: no string sort)."""
    if len(events):
        dup = events["event_id"].duplicated().to_numpy()
        ev = events[~dup] if dup.any() else events  # the batch read has none: no 3 M-row frame copy
    else:
        ev = events
    ts = epoch_ms(ev["ts"]) if "ts_ms" not in ev else ev["ts_ms"].to_numpy(dtype=np.int64)
    uid = _user_floats(ev["user_id"])
    known = ~np.isnan(uid)
    code = np.zeros(len(ev), dtype=np.int64)
    code[known] = uid[known].astype(np.int64)
    if not known.all():
        _, inverse = np.unique(ev["session_id"].to_numpy(dtype=object)[~known].astype(str), return_inverse=True)
        code[~known] = -1 - inverse.astype(np.int64)
    order = np.lexsort((ts, code))
    c, t = code[order], ts[order]
    same = (c[1:] == c[:-1]) & (t[1:] == t[:-1])
    if same.any():  # ties of (listener, ms): ordered by event_id, only those rows
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        rows = np.flatnonzero(tied)
        ids = ev["event_id"].to_numpy()[order[rows]]
        if np.issubdtype(ids.dtype, np.integer):  # already ranks (encore.recall.batch_read): no string sort
            id_rank = ids
        else:
            _, id_rank = np.unique(ids.astype(object).astype(str), return_inverse=True)
        order[rows] = order[rows][np.lexsort((id_rank, t[rows], c[rows]))]
    ev = _take_rows(ev, order)
    ts, code = ts[order], code[order]
    starts = session_starts(code, ts, _equality_codes(ev["scenario"]), max_session_ms=params.max_session_ms,
                            inactivity_gap_ms=params.inactivity_gap_ms)
    anon = code < 0  # an anonymous session is one session: breaks only where the code changes
    if anon.any():
        starts[anon] = np.r_[True, code[1:] != code[:-1]][anon]
    sno = np.cumsum(starts) - 1
    start_rows = np.flatnonzero(starts)
    # ev is a new frame (take): set the columns in place rather than copy it again (assign)
    ev["ts_ms"], ev["code"], ev["sno"] = ts, code, sno
    ev["sid_start_ms"] = ts[start_rows][sno]
    ev["sid_rank"] = same_ms_ranks(code[start_rows], ts[start_rows])[sno]
    ev["complete"] = _complete_plays(ev, tracks)
    ev.attrs["prepared"] = True
    return ev


def _take_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``frame.take(rows)`` with a fresh RangeIndex, built column by column: a
    categorical takes its int codes (no per-row Python object), every other column its
    numpy array (pandas' block take re-copies whole blocks)."""
    index = pd.RangeIndex(len(rows))
    if len(rows) < SMALL_TAKE:  # one listener's events (a request): pandas' take has less overhead
        out = frame.take(rows)
        out.index = index
        return out
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            values: Any = pd.Categorical.from_codes(col.cat.codes.to_numpy()[rows], dtype=col.dtype)
        elif isinstance(col.dtype, np.dtype):
            values = col.to_numpy()[rows]
        else:  # extension dtypes (nullable Int64, string, ...): their own take
            values = col.array.take(rows)
        # the dtype given: no inference over object values; copy=False: no block consolidation
        columns[name] = pd.Series(values, index=index, dtype=col.dtype, copy=False)
    return pd.DataFrame(columns, index=index, copy=False)


def _equality_codes(column: pd.Series) -> np.ndarray:
    """A column as an array whose ``!=`` between neighbours is that of its object values:
    a categorical's int codes (one code per distinct value), unless it has nulls (NaN !=
    NaN between objects, equal codes), then the objects."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.array.codes  # the Categorical's ndarray (no Series built)
        if not (codes < 0).any():
            return codes
    return column.to_numpy(dtype=object)


def _is_value(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` as a bool array (a categorical compares its codes)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        found = np.flatnonzero(column.dtype.categories == value)
        if not len(found):
            return np.zeros(len(column), dtype=bool)
        return column.array.codes == found[0]
    return column.to_numpy(dtype=object) == value


def _values_at(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``column`` at ``rows`` as an object array (a categorical takes its codes first)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.array.take(rows), dtype=object)
    return column.to_numpy(dtype=object)[rows]


def session_ids(ev: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The session ids (as :func:`sessionize_frame` names them) of rows of a
    :func:`prepare_log` frame, object (len(rows),)."""
    rows = np.asarray(rows, dtype=np.int64)
    code = ev["code"].to_numpy(dtype=np.int64)[rows]
    start = ev["sid_start_ms"].to_numpy(dtype=np.int64)[rows]
    rank = ev["sid_rank"].to_numpy(dtype=np.int64)[rows]
    own = ev["session_id"].to_numpy(dtype=object)[rows]
    return np.array([own[i] if code[i] < 0 else session_name(int(code[i]), int(start[i]), int(rank[i]))
                     for i in range(len(rows))], dtype=object)


def _query_codes(ev: pd.DataFrame, user_id: pd.Series, anonymous_id: pd.Series) -> np.ndarray:
    """The listener code of each request (user id; an anonymous session's code in ``ev``,
    or a fresh code below every code of ``ev`` when it has no events)."""
    uid = _user_floats(user_id)
    known = ~np.isnan(uid)
    codes = np.zeros(len(uid), dtype=np.int64)
    codes[known] = uid[known].astype(np.int64)
    if not known.all():
        ev_code = ev["code"].to_numpy(dtype=np.int64)
        anon_rows = np.flatnonzero(ev_code < 0)
        code_of = dict(zip(ev["session_id"].to_numpy(dtype=object)[anon_rows].astype(str).tolist(),
                           ev_code[anon_rows].tolist()))
        fresh = int(ev_code.min(initial=0)) - 1
        asked = anonymous_id.to_numpy(dtype=object)[~known].astype(str)
        out = []
        for i, a in enumerate(asked):
            out.append(code_of.get(a, fresh - i))
        codes[~known] = out
    return codes


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
    q_codes = _query_codes(ev, at["user_id"], anon)
    q_ms = at["request_ms"].to_numpy(dtype=np.int64)
    profiles = _profile_rows(ev, at, q_ms, tracks, users, params)
    scenarios = at["scenario"].tolist() if "scenario" in at else [None] * len(at)
    return _log_queries(ev, q_codes, q_ms, at["user_id"].astype("Int64").tolist(), anon.tolist(), scenarios,
                        profiles, params)


def _log_queries(ev: pd.DataFrame, q_codes: np.ndarray, q_ms: np.ndarray, user_ids: list, anon_ids: list,
                 scenarios: list, profiles: list[dict[str, Any] | None], params: QueryParams) -> list[Query]:
    """The Queries of the requests (codes, ms (R,)) straight from the prepared log's
    arrays: each sequence a slice of one per-action array (its last
    ``min(stream_window, history_length)`` rows before the request: the stream's window
    cut to the history as :func:`assemble_query` cuts it), the session and the rest as
    :func:`assemble_query` builds them from a realtime row (no per-listener row dict)."""
    n, hl = params.stream_window, params.history_length
    m = min(n, hl)
    ev_codes = ev["code"].to_numpy(dtype=np.int64)
    ts = ev["ts_ms"].to_numpy(dtype=np.int64)
    t0 = int(min(ts.min(initial=0), q_ms.min(initial=0)))
    span = int(max(ts.max(initial=0), q_ms.max(initial=0)) - t0 + 2)
    track = ev["track_id"].fillna(-1).to_numpy(dtype=np.int64)
    played = ev["played_ms"].fillna(0).to_numpy(dtype=np.int64)
    sid_start = ev["sid_start_ms"].to_numpy(dtype=np.int64)
    action = ev["action"]

    def subset(name: str) -> tuple[np.ndarray, _Searcher]:
        rows = np.flatnonzero(_is_value(action, name))
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

    has_events = hi > lo
    sid = np.empty(len(q_ms), dtype=object)
    sid[has_events] = session_ids(ev, last[has_events])
    last_scenario = np.empty(len(q_ms), dtype=object)
    last_scenario[has_events] = _values_at(ev["scenario"], last[has_events])
    # per action, its rows' values in row order: a listener's window is a contiguous slice
    play_track, play_ts = track[plays], ts[plays]
    skip_track, skip_ts, skip_at = track[skips], ts[skips], played[skips]
    heart_track, heart_ts = track[hearts], ts[hearts]
    dislike_track = track[dislikes]
    complete_track, complete_ts = track[completes], ts[completes]
    p_from = np.maximum(p_lo, p_hi - m)
    s_from = np.maximum(s_lo, s_hi - m)
    d_from = np.maximum(d_lo, d_hi - m)
    c_from = np.maximum(c_lo, c_hi - m)
    sp_from = np.maximum(np.maximum(ps_lo, p_hi - n), p_hi - hl)
    h_from = np.maximum(h_lo, h_hi - n)
    lists = [x.tolist() for x in (lo, hi, p_from, p_hi, s_from, s_hi, d_from, d_hi, c_from, c_hi, sp_from, h_from,
                                  h_hi, h_lo, unheart_before, q_ms, sess_start, ts[last] if len(ev) else sess_start)]
    hours = ((q_ms // HOUR_MS + params.utc_offset_hours) % 24).tolist()
    queries = []
    for i, (e_lo, e_hi, pf, ph, sf, sh, df, dh, cf, ch, spf, hf, hh, hlo, unh, ms, s_start, s_last) in \
            enumerate(zip(*lists)):
        uid = user_ids[i]
        anonymous = pd.isna(uid)
        sc = scenarios[i]
        sc = None if sc is None or (isinstance(sc, float) and np.isnan(sc)) else sc
        if e_hi <= e_lo:  # no events before the request: the empty realtime row
            session_scenario = ""
            request_scenario = (sc or "").lower()
            queries.append(Query(
                context=Context(request_ms=ms, local_hour=hours[i], scenario=request_scenario),
                user_id=None if anonymous else int(uid), anonymous_id=str(anon_ids[i]) if anonymous else None,
                profile=Profile() if anonymous else _profile(profiles[i])))
            continue
        if hh - hlo > n and unh:
            h_ids, h_ts = _replay_hearts(ev, all_rows[e_lo:e_hi], n)
            h_ids, h_ts = h_ids[max(0, len(h_ids) - hl):], h_ts[max(0, len(h_ts) - hl):]
        else:
            alive = heart_alive[i]
            h_ids = heart_track[hf:hh][alive] if len(alive) else heart_track[hf:hh]
            h_ts = heart_ts[hf:hh][alive] if len(alive) else heart_ts[hf:hh]
            h_ids, h_ts = h_ids[max(0, len(h_ids) - hl):].tolist(), h_ts[max(0, len(h_ts) - hl):].tolist()
        session_scenario = str(last_scenario[i] or "").lower()
        request_scenario = (sc or session_scenario).lower()
        session_id = sid[i] or ""
        session = Session()
        if session_id and not opens_session(
                s_start, s_last, session_scenario, ms, request_scenario,
                max_session_ms=params.max_session_ms, inactivity_gap_ms=params.inactivity_gap_ms):
            session = Session(session_id=str(session_id), scenario=session_scenario, start_ms=s_start,
                              track_ids=tuple(play_track[spf:ph].tolist()))
        queries.append(Query(
            context=Context(request_ms=ms, local_hour=hours[i], scenario=request_scenario),
            user_id=None if anonymous else int(uid), anonymous_id=str(anon_ids[i]) if anonymous else None,
            play_track_ids=tuple(play_track[pf:ph].tolist()), play_ts_ms=tuple(play_ts[pf:ph].tolist()),
            heart_track_ids=tuple(h_ids), heart_ts_ms=tuple(h_ts),
            skip_track_ids=tuple(skip_track[sf:sh].tolist()), skip_ts_ms=tuple(skip_ts[sf:sh].tolist()),
            skip_at_ms=tuple(skip_at[sf:sh].tolist()),
            dislike_track_ids=tuple(dislike_track[df:dh].tolist()),
            complete_track_ids=tuple(complete_track[cf:ch].tolist()),
            complete_ts_ms=tuple(complete_ts[cf:ch].tolist()),
            session=session, profile=Profile() if anonymous else _profile(profiles[i])))
    return queries


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
        apply_event(state, StreamEvent(event_id=str(r.event_id), user_id=0, track_id=int(r.track_id),
                                       scenario="X", action=r.action.upper(), ts_ms=int(r.ts_ms)), params)
    return list(state.recent_heart_track_ids), list(state.recent_heart_ts_ms)


def _utc_date(ms: np.ndarray) -> np.ndarray:
    return (ms // DAY_MS).astype("datetime64[D]")


def _profile_rows(ev: pd.DataFrame, at: pd.DataFrame, q_ms: np.ndarray, tracks: pd.DataFrame,
                  users: pd.DataFrame | None, params: QueryParams) -> list[dict[str, Any] | None]:
    """The ``user_profile`` snapshot of the day before each request (materialize_features
    rule), one loop step per distinct snapshot day, each a few numpy passes over the
    window's events of known listeners (grouped by the sorted ``code``)."""
    out: list[dict[str, Any] | None] = [None] * len(at)
    if users is None:
        return out
    q_uid = _user_floats(at["user_id"])
    known = ~np.isnan(q_uid)
    if not known.any():
        return out
    q_users = np.where(known, q_uid, -1).astype(np.int64)
    snapshot_day = _utc_date(q_ms) - np.timedelta64(1, "D")
    users = users.drop_duplicates("user_id")
    user_index = pd.Index(users["user_id"].to_numpy(dtype=np.int64))
    signup = pd.to_datetime(users["signup_date"]).to_numpy(dtype="datetime64[D]")
    static = {col: users[col].tolist() for col in ("age_bucket", "region", "home_language")}
    q_user_row = user_index.get_indexer(q_users)
    # the known listeners' events (a contiguous block: codes >= 0 come last)
    first_known = int(np.searchsorted(ev["code"].to_numpy(dtype=np.int64), 0, side="left"))
    code = ev["code"].to_numpy(dtype=np.int64)[first_known:]
    ts = ev["ts_ms"].to_numpy(dtype=np.int64)[first_known:]
    action = ev["action"].iloc[first_known:]
    ev_day = (ts // DAY_MS).astype(np.int64)
    is_play_all, is_skip_all = _is_value(action, "play_start"), _is_value(action, "skip")
    # catalog lookups of every event's track: genre code (genres sorted by name) and artist
    track_row = pd.Index(tracks["track_id"].to_numpy(dtype=np.int64)).get_indexer(
        ev["track_id"].fillna(-1).to_numpy(dtype=np.int64)[first_known:])
    genre_codes, genre_names = pd.factorize(tracks["genre"], sort=True)
    artists = pd.to_numeric(tracks["artist_id"], errors="coerce").to_numpy(dtype=np.float64)
    ev_genre = np.where(track_row >= 0, genre_codes[np.maximum(track_row, 0)], -1)
    ev_artist = np.where(track_row >= 0, artists[np.maximum(track_row, 0)], np.nan)
    for day in np.unique(snapshot_day[known]):
        day_no = int(day.astype(np.int64))
        window = (ev_day >= day_no - (params.profile_window_days - 1)) & (ev_day <= day_no)
        w_code, w_day = code[window], ev_day[window]
        listeners, w_listener = np.unique(w_code, return_inverse=True)
        n_listeners = len(listeners)
        plays = np.bincount(w_listener, weights=is_play_all[window], minlength=n_listeners)
        skips = np.bincount(w_listener, weights=is_skip_all[window], minlength=n_listeners)
        # rows are in (code, ts) order: a new active day is a change of (code, day)
        new_day = np.r_[True, (w_code[1:] != w_code[:-1]) | (w_day[1:] != w_day[:-1])] if len(w_code) else w_code
        days = np.bincount(w_listener[new_day.astype(bool)], minlength=n_listeners)
        played = window & is_play_all
        top_genres = _top(code[played], ev_genre[played].astype(np.float64), TOP_GENRES)
        top_artists = _top(code[played], ev_artist[played], TOP_ARTISTS)
        listener_at = pd.Index(listeners)
        for i in np.flatnonzero(known & (snapshot_day == day)):
            r = q_user_row[i]
            if r < 0 or signup[r] > day:
                continue
            user = int(q_users[i])
            j = listener_at.get_loc(user) if user in listener_at else -1
            n_plays = int(plays[j]) if j >= 0 else 0
            n_skips = int(skips[j]) if j >= 0 else 0
            genres = top_genres.get(user)
            artist_ids = top_artists.get(user)
            out[i] = {
                "age_bucket": static["age_bucket"][r], "region": static["region"][r],
                "home_language": static["home_language"][r],
                "top_genres": None if genres is None else [genre_names[int(g)] for g in genres],
                "top_artist_ids": None if artist_ids is None else [int(a) for a in artist_ids],
                "plays_30d": n_plays, "skip_rate_30d": n_skips / n_plays if n_plays else 0.0,
                "active_days_30d": int(days[j]) if j >= 0 else 0,
            }
    return out


def _top(user: np.ndarray, value: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """user -> the ``n`` most frequent values (ties: smaller value first; NaN / negative
    genre codes ignored). ``user`` int64 (P,), ``value`` float64 (P,)."""
    keep = ~np.isnan(value) & (value >= 0) if len(value) else np.zeros(0, dtype=bool)
    user, value = user[keep], value[keep]
    if not len(user):
        return {}
    value = value.astype(np.int64)
    width = np.int64(value.max()) + 1
    pairs, counts = np.unique(user * width + value, return_counts=True)
    p_user, p_value = pairs // width, pairs % width
    order = np.lexsort((p_value, -counts, p_user))
    p_user, p_value = p_user[order], p_value[order]
    starts = np.flatnonzero(np.r_[True, p_user[1:] != p_user[:-1]])
    ends = np.r_[starts[1:], len(p_user)]
    return {int(p_user[a]): p_value[a:min(b, a + n)] for a, b in zip(starts.tolist(), ends.tolist())}

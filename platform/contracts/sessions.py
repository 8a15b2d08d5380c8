"""The one sessionization rule of Encore, shared by the simulator, the stream processor
and the Spark jobs.

The rule, for the time-ordered events of one key (a user id; for an anonymous listener,
the client's own session id):

1. The first event of a key opens a session.
2. Every later event opens a new session when any of these holds, checked against the
   event just before it (of the same key):
   - its scenario differs from the previous event's scenario (scenario switch);
   - ``ts - previous_ts > inactivity_gap`` (strictly more than the gap; a gap of exactly
     ``inactivity_gap`` stays in the session);
   - ``ts - session_start > max_session_duration``, where ``session_start`` is the ts of
     the first event of the current session (so a session never spans more than
     ``max_session_duration``; an always-on player's continuous play is cut into
     consecutive sessions of at most that span).
3. Events with equal ts keep their given order.

Anonymous events (no user id) carry the session id their client gave them; that id is
already the session and is used as it is (the simulator keeps anonymous sessions to one
scenario and within ``max_session_duration``).

A session is named ``f"{key}-{session_start_ms}"`` (``key`` as given, ``session_start_ms``
the epoch milliseconds of its first event), so any processor that sees the same events
names the same sessions without shared counters. In the rare case that several sessions
of a key start in the same millisecond (scenario switches within one ms), the second
and later ones get a suffix ``~1``, ``~2``, ... in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from encore.platform.config import SessionsConfig

DEFAULT_INACTIVITY_GAP_MS = SessionsConfig().inactivity_gap_ms


def sessionize(
    ts_ms: Sequence[int],
    scenarios: Sequence[str],
    *,
    max_session_ms: int,
    inactivity_gap_ms: int = DEFAULT_INACTIVITY_GAP_MS,
) -> list[int]:
    """Session index (0, 1, 2, ...) of each event of ONE key, in the given order.

    ``ts_ms`` must be non-decreasing (epoch ms); ``scenarios`` has one entry per event.
    This is the reference form of the rule; a streaming processor keeps
    (session_start, previous_ts, previous_scenario) per key and applies
    :func:`opens_session` to each new event.
    """
    if len(ts_ms) != len(scenarios):
        raise ValueError("ts_ms and scenarios must have the same length")
    indices: list[int] = []
    session = -1
    previous_ts = 0
    session_start: int | None = None
    previous_scenario = ""
    for ts, scenario in zip(ts_ms, scenarios):
        if session_start is not None and ts < previous_ts:
            raise ValueError("events must be ordered by ts")
        if opens_session(session_start, previous_ts, previous_scenario, ts, scenario,
                         max_session_ms=max_session_ms, inactivity_gap_ms=inactivity_gap_ms):
            session += 1
            session_start = ts
        indices.append(session)
        previous_ts, previous_scenario = ts, scenario
    return indices


def opens_session(
    open_start_ms: int | None,
    last_ms: int,
    last_scenario: str,
    ts_ms: int,
    scenario: str,
    *,
    max_session_ms: int,
    inactivity_gap_ms: int = DEFAULT_INACTIVITY_GAP_MS,
) -> bool:
    """The incremental step of the rule (what a streaming processor keeps per key):
    True when an event (``ts_ms``, ``scenario``) opens a new session after the open
    session that started at ``open_start_ms`` (None: no session yet) and whose last
    event was (``last_ms``, ``last_scenario``)."""
    return (
        open_start_ms is None
        or scenario != last_scenario
        or ts_ms - last_ms > inactivity_gap_ms
        or ts_ms - open_start_ms > max_session_ms
    )


def session_name(key: object, session_start_ms: int, same_ms_rank: int = 0) -> str:
    """The id of a session: its key and the epoch ms of its first event (plus ``~rank``
    for the later of several sessions of the key starting in the same ms)."""
    suffix = f"~{same_ms_rank}" if same_ms_rank else ""
    return f"{key}-{session_start_ms}{suffix}"


def next_session_name(key: object, session_start_ms: int, previous_start_ms: int | None,
                      previous_name: str | None) -> str:
    """The id of the key's session opening at ``session_start_ms`` right after the session
    ``previous_name`` (which started at ``previous_start_ms``; None: the key's first):
    :func:`session_name` with the same-ms rank carried on, as :func:`sessionize_frame`
    numbers it, for code that opens sessions one event at a time."""
    rank = 0
    if previous_name and previous_start_ms == session_start_ms:
        _, _, suffix = previous_name.partition("~")
        rank = int(suffix or 0) + 1
    return session_name(key, session_start_ms, rank)


def sessionize_frame(
    events: pd.DataFrame,
    *,
    key_col: str,
    ts_col: str = "ts",
    scenario_col: str = "scenario",
    max_session_ms: int,
    inactivity_gap_ms: int = DEFAULT_INACTIVITY_GAP_MS,
) -> pd.Series:
    """Session id of every row of a whole table (the vectorised form of the rule).

    Rows may come in any order; they are ordered by (key, ts, original row order) first.
    ``ts_col`` holds epoch-ms integers or datetimes. Returns a string Series aligned
    with ``events.index``. The breaks: :func:`session_starts`.
    """
    if events.empty:
        return pd.Series([], index=events.index, dtype=object)
    ts = epoch_ms(events[ts_col])
    order = np.lexsort((np.arange(len(events)), ts, pd.factorize(events[key_col])[0]))
    key = events[key_col].to_numpy()[order]
    ts_sorted = ts[order]
    scenario = events[scenario_col].to_numpy()[order]
    starts = session_starts(key, ts_sorted, scenario, max_session_ms=max_session_ms,
                            inactivity_gap_ms=inactivity_gap_ms)

    start_rows = np.flatnonzero(starts)
    first_key, first_ts = key[start_rows], ts_sorted[start_rows]
    same_ms_rank = same_ms_ranks(first_key, first_ts)
    session_names = np.array(
        [session_name(k, t, r) for k, t, r in zip(first_key, first_ts, same_ms_rank)], dtype=object)
    names = session_names[np.cumsum(starts) - 1]
    result = np.empty(len(order), dtype=object)
    result[order] = names
    return pd.Series(result, index=events.index, name="session_id")


def session_starts(key: np.ndarray, ts: np.ndarray, scenario: np.ndarray, *, max_session_ms: int,
                   inactivity_gap_ms: int = DEFAULT_INACTIVITY_GAP_MS) -> np.ndarray:
    """THE rule on rows already ordered by (key, ts): True where a row opens a session
    (a new key, a scenario change, a gap over ``inactivity_gap_ms``, or the first row
    more than ``max_session_ms`` after its session's start). ``key`` / ``scenario``:
    arrays of any comparable dtype, shape (N,); ``ts``: int64 epoch ms (N,).

    The gap and scenario breaks are found in one vectorised pass. The duration break
    depends on where the previous break fell, so it is resolved by repeating one
    vectorised step as many times as the longest session must be cut."""
    starts = np.ones(len(ts), dtype=bool)
    if len(ts) == 0:
        return starts
    starts[1:] = (
        (key[1:] != key[:-1])
        | (scenario[1:] != scenario[:-1])
        | (ts[1:] - ts[:-1] > inactivity_gap_ms)
    )
    # only the rows of sessions longer than max_session_ms can be cut: repeat on those
    session_no = np.cumsum(starts) - 1
    start_rows = np.flatnonzero(starts)
    end_ts = ts[np.r_[start_rows[1:] - 1, len(ts) - 1]]
    rows = np.flatnonzero(((end_ts - ts[start_rows]) > max_session_ms)[session_no])
    if not len(rows):
        return starts
    sub_ts, sub_starts = ts[rows], starts[rows].copy()
    positions = np.arange(len(rows))
    while True:
        session_start_ts = sub_ts[np.maximum.accumulate(np.where(sub_starts, positions, 0))]
        too_long = (sub_ts - session_start_ts > max_session_ms) & ~sub_starts
        if not too_long.any():
            break
        first_too_long = too_long & ~_previous_in_session_flagged(too_long, np.cumsum(sub_starts))
        sub_starts |= first_too_long
    starts[rows] = sub_starts
    return starts


def same_ms_ranks(first_key: np.ndarray, first_ts: np.ndarray) -> np.ndarray:
    """For sessions ordered by (key, start ms): how many earlier sessions of the same key
    started in the same ms (the ``~rank`` of :func:`session_name`), shape (S,)."""
    if len(first_ts) == 0:
        return np.zeros(0, dtype=np.int64)
    new_run = np.ones(len(first_ts), dtype=bool)
    new_run[1:] = (first_key[1:] != first_key[:-1]) | (first_ts[1:] != first_ts[:-1])
    rows = np.arange(len(first_ts))
    return rows - np.maximum.accumulate(np.where(new_run, rows, 0))

def _previous_in_session_flagged(flags: np.ndarray, session_no: np.ndarray) -> np.ndarray:
    """True where an earlier row of the same session already has a flag set."""
    flagged_count = np.cumsum(flags)
    first_row = np.r_[True, session_no[1:] != session_no[:-1]]
    count_before_session = np.maximum.accumulate(
        np.where(first_row, flagged_count - flags, 0)
    )
    return (flagged_count - flags - count_before_session) > 0


def epoch_ms(column: pd.Series) -> np.ndarray:
    """Epoch milliseconds of a column of datetimes (naive = UTC, or tz-aware) or of
    integers already in ms."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return column.to_numpy(dtype=np.int64)

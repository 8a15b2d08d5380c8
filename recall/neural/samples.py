"""Training samples of the neural recall channels: complete plays with the Query the
listener would have sent just before each.

Where they come from:

* ``tables.recall_samples`` (the ``recall_samples`` batch table, read by
  :func:`encore.recall.tables.load_recall_tables`): the rows with ``label == 1``. The
  batch job has already applied the per-listener cap (``sampling``).
* otherwise the fitted log, by the same rules: a play is a ``play_start``, its outcome
  the next ``play_end`` or ``skip`` of the same (session, track)
  (:mod:`encore.platform.batch.plays`), complete by
  :func:`encore.platform.contracts.labels.is_complete_play`; with ``sample_cap`` the
  plays are capped by :func:`encore.platform.contracts.sampling.cap_samples_per_user`
  (per user-day and the token-bucket budget), as the batch job does. Without the cap
  every complete play counts (the ablation against bots and always-on players).

Each sample's Query is built by :func:`encore.recall.queries.queries_from_log` at the
play's own timestamp (strictly before it), exactly as a request at that moment would
be: there is no separate training feature path.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from encore.platform.config import SamplingConfig
from encore.platform.contracts.labels import is_complete_play
from encore.platform.contracts.sampling import cap_samples_per_user
from encore.platform.contracts.vocabulary import PLAY_END, PLAY_START, SKIP
from encore.recall.queries import QueryParams, prepare_log, queries_from_log
from encore.recall.query import Query
from encore.recall.tables import with_ts_ms

log = logging.getLogger(__name__)

QUERY_CHUNK = 20_000


@dataclass(frozen=True)
class TrainingSamples:
    """N samples: the Query before each complete play and the played track."""

    queries: list[Query]
    target_track_ids: np.ndarray  # (N,) int64
    user_ids: np.ndarray  # (N,) int64, -1 for anonymous listeners

    def __len__(self) -> int:
        return len(self.queries)


def plays_from_log(events: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per ``play_start`` (event_id, user_id, session_id, scenario, ts, ts_ms,
    track_id) with ``label`` = 1 when its outcome is a complete play_end."""
    ev = events[events["action"].isin([PLAY_START, PLAY_END, SKIP])]
    ev = ev.merge(tracks[["track_id", "duration_ms"]], on="track_id", how="left")
    ev = ev.sort_values(["session_id", "track_id", "ts_ms", "event_id"], kind="mergesort").reset_index(drop=True)
    complete = is_complete_play(ev["played_ms"].astype("float64"), ev["duration_ms"].astype("float64"))
    outcome = pd.Series(np.where(ev["action"] == PLAY_END, complete.fillna(False).astype(float),
                                 np.where(ev["action"] == SKIP, 0.0, np.nan)), index=ev.index)
    group = (ev["session_id"].astype(str) + "|" + ev["track_id"].astype(str))
    # the next outcome at or after each row within its (session, track)
    next_outcome = outcome.groupby(group.to_numpy()).bfill()
    plays = ev[ev["action"] == PLAY_START].assign(label=next_outcome[ev["action"] == PLAY_START].fillna(0)
                                                  .astype(np.int64))
    return plays[["event_id", "user_id", "session_id", "scenario", "ts", "ts_ms", "track_id", "label"]]


def _capped(plays: pd.DataFrame, sampling: SamplingConfig, seed: int) -> pd.DataFrame:
    budget = sampling.budget
    kw = {} if budget is None else {"rate": budget.rate, "burst": budget.burst, "horizon_days": budget.horizon_days}
    return cap_samples_per_user(plays, sampling.max_samples_per_user_per_day, seed,
                                user_col="user_id", ts_col="ts", id_col="event_id", **kw)


def sample_points(tables, *, sampling: SamplingConfig, sample_cap: bool, seed: int) -> pd.DataFrame:
    """The complete plays to learn from: user_id (Int64, null = anonymous),
    anonymous_id, request_ms, scenario, target_track_id (see the module docstring)."""
    table = getattr(tables, "recall_samples", None)
    if table is not None and sample_cap:
        rows = with_ts_ms(table[table["label"] == 1]).rename(columns={"target_track_id": "track_id"})
        rows = rows[rows["ts_ms"] < tables.as_of_ms]
    else:
        plays = plays_from_log(tables.events, tables.tracks)
        if sample_cap:
            plays = _capped(plays, sampling, seed)
        rows = plays[plays["label"] == 1]
    return pd.DataFrame({"user_id": rows["user_id"].astype("Int64").array,
                         "anonymous_id": rows["session_id"].to_numpy(),
                         "request_ms": rows["ts_ms"].to_numpy(np.int64), "scenario": rows["scenario"].to_numpy(),
                         "target_track_id": rows["track_id"].to_numpy(np.int64)})


def training_samples(tables, *, params: QueryParams, sampling: SamplingConfig, sample_cap: bool = True,
                     max_samples: int | None = None, seed: int = 0) -> TrainingSamples:
    """Sample points (at most ``max_samples``, seeded) with their point-in-time Queries;
    kept in ``tables.derived`` so channels fitted on the same tables share them."""
    key = ("training_samples", params, sample_cap, max_samples, seed, getattr(tables, "recall_samples", None) is not None)
    cache = getattr(tables, "derived", None)
    if cache is not None and key in cache:
        return cache[key]
    samples = _training_samples(tables, params=params, sampling=sampling, sample_cap=sample_cap,
                                max_samples=max_samples, seed=seed)
    if cache is not None:
        cache[key] = samples
    return samples


def _training_samples(tables, *, params: QueryParams, sampling: SamplingConfig, sample_cap: bool,
                      max_samples: int | None, seed: int) -> TrainingSamples:
    points = sample_points(tables, sampling=sampling, sample_cap=sample_cap, seed=seed)
    if max_samples is not None and len(points) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(points), size=max_samples, replace=False))
        points = points.iloc[keep].reset_index(drop=True)
    log.info("building %d training queries point in time", len(points))
    started = time.perf_counter()
    prepared = prepare_log(tables.events, params, tables.tracks)
    queries: list[Query] = []
    for lo in range(0, len(points), QUERY_CHUNK):
        queries.extend(queries_from_log(prepared, points.iloc[lo:lo + QUERY_CHUNK], tracks=tables.tracks,
                                        users=tables.users, params=params))
        done, elapsed = len(queries), time.perf_counter() - started
        log.info("queries %d/%d (%.0f/s, ETA %.0fs)", done, len(points), done / max(elapsed, 1e-9),
                 (len(points) - done) * elapsed / max(done, 1))
    users = points["user_id"].fillna(-1).to_numpy(np.int64)
    return TrainingSamples(queries=queries, target_track_ids=points["target_track_id"].to_numpy(np.int64),
                           user_ids=users)

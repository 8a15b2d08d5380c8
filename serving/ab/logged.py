"""The logged exposures of the world's logging policy and their propensities, in the
form the estimators read (:class:`encore.serving.ab.offpolicy.LoggedExposures`).

What the world logs (see :mod:`encore.platform.world.policy`): every ``exposure`` event
carries its ``request_id``, ``position`` and ``propensity`` (the conditional
Plackett-Luce probability of the track at that position given the tracks above it);
``policy/slates.parquet`` holds, per request, the pool, the scores and, per shown track,
``inclusion_prob``: P(the logging policy puts the track anywhere in the slate | pool).
The item-level estimators reweight by ``inclusion_prob`` (a list's reward is the sum
of its items'). Outcomes are joined to their exposure by (request_id, track_id): a
``play_end`` that reaches 90% of the track (:mod:`encore.platform.contracts.labels`) is
a complete play; a ``heart`` is a heart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from encore.platform.contracts.labels import is_complete_play
from encore.serving.ab.offpolicy import LoggedExposures

OUTCOMES = ("complete_play", "heart")


def exposures_with_outcomes(events: pd.DataFrame, tracks: pd.DataFrame, scenario: str | None) -> pd.DataFrame:
    """One row per logged ``exposure`` of ``scenario`` (None: every one) by a known listener: user_id,
    request_id, track_id, position, propensity, ts_ms, hour (UTC, fractional) and the outcomes
    (0/1) of OUTCOMES. ``events`` need ``ts_ms`` (encore.recall.tables.read_events)."""
    ev = events[events["user_id"].notna() & events["request_id"].notna()]
    exp = ev[(ev["action"] == "exposure") & ((ev["scenario"] == scenario) if scenario else True)]
    out = pd.DataFrame({"user_id": exp["user_id"].to_numpy(np.int64), "request_id": exp["request_id"].to_numpy(),
                        "track_id": exp["track_id"].to_numpy(np.int64),
                        "position": exp["position"].to_numpy(np.int64),
                        "propensity": exp["propensity"].to_numpy(np.float64),
                        "ts_ms": exp["ts_ms"].to_numpy(np.int64),
                        "hour": (exp["ts_ms"].to_numpy(np.int64) % 86_400_000) / 3_600_000})
    ends = ev[ev["action"] == "play_end"].merge(tracks[["track_id", "duration_ms"]], on="track_id")
    done = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
    for name, rows in (("complete_play", done), ("heart", ev[ev["action"] == "heart"])):
        keys = rows[["request_id", "track_id"]].drop_duplicates().assign(**{name: 1.0})
        out = out.merge(keys, on=["request_id", "track_id"], how="left")
        out[name] = out[name].fillna(0.0)
    return out


def attach_inclusion(world_dir: Path | str, exposures: pd.DataFrame) -> pd.DataFrame:
    """``exposures`` with ``inclusion_prob`` from the world's ``policy/slates.parquet``
    (rows whose request is not there are dropped; a missing file is an error naming it)."""
    path = Path(world_dir) / "policy" / "slates.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the logging policy's propensities are missing (regenerate the world)")
    if exposures.empty:
        return exposures.assign(inclusion_prob=np.zeros(0))
    wanted = sorted(exposures["request_id"].unique().tolist())
    table = pq.read_table(path, columns=["request_id", "shown_track_ids", "inclusion_prob"],
                          filters=[("request_id", "in", wanted)]).to_pandas()
    long = table.explode(["shown_track_ids", "inclusion_prob"]).dropna()
    long = pd.DataFrame({"request_id": long["request_id"].to_numpy(),
                         "track_id": long["shown_track_ids"].to_numpy(np.int64),
                         "inclusion_prob": long["inclusion_prob"].to_numpy(np.float64)})
    out = exposures.merge(long.drop_duplicates(["request_id", "track_id"]), on=["request_id", "track_id"],
                          how="inner")
    return out[out["inclusion_prob"] > 0].reset_index(drop=True)


def logged_for(listeners: Sequence[int] | np.ndarray, exposures: pd.DataFrame, outcome: str,
               days: Sequence[int] | np.ndarray | None = None) -> LoggedExposures:
    """The estimators' view of ``exposures`` (with inclusion_prob) for ``listeners``
    (user ids, in the order of the compared lists). With several held-out days a
    listener has one request per day: ``days`` (UTC day numbers, ``ts_ms // 86_400_000``,
    one per listener) then matches each exposure to the listener's request of its day.
    Each (listener, day) must appear once."""
    users = np.asarray(listeners, np.int64)
    day_of = np.zeros(len(users), np.int64) if days is None else np.asarray(days, np.int64)
    keys = users * 1_000_000 + day_of
    if len(np.unique(keys)) != len(keys):
        raise ValueError("each listener (and day) may appear once")
    exp_days = (exposures["ts_ms"].to_numpy(np.int64) // 86_400_000 if days is not None
                else np.zeros(len(exposures), np.int64))
    exp_keys = exposures["user_id"].to_numpy(np.int64) * 1_000_000 + exp_days
    keep = np.isin(exp_keys, keys)
    rows = exposures[keep]
    order = np.argsort(keys)
    index = order[np.searchsorted(keys[order], exp_keys[keep])]
    slates = pd.Series(rows["request_id"].to_numpy()).groupby(index).nunique()
    return LoggedExposures(
        listener=index.astype(np.int64), track=rows["track_id"].to_numpy(np.int64),
        position=rows["position"].to_numpy(np.int64), propensity=rows["inclusion_prob"].to_numpy(np.float64),
        reward=rows[outcome].to_numpy(np.float64),
        slates=slates.reindex(np.arange(len(keys)), fill_value=0).to_numpy(np.int64),
        hour=rows["hour"].to_numpy(np.float64))

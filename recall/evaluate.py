"""Offline evaluation of recall channels: ``evaluate_channels`` (recall@K) and the
held-out-day protocol behind ``encore eval recall``.

recall@K of a query = |top-K candidates ∩ truth| / |truth|, averaged over the queries
with a non-empty truth. ``truth`` is what the listener then completed; ``new_truth``
(optional) the part of it they had not played before, so repeat and discovery are
measured apart (docs/design.md, "Repeat consumption").

Held-out day (:func:`holdout_day`): channels are fitted on the ``window_days`` days
before ``test_day`` (the item graph of the day before it); for every known, non-bot
listener who completes at least one play on ``test_day`` one Query is built point in
time at their first event of that day (its scenario as the request's; bots, known from
the world's truth file, are not judged); the truth is the
set of tracks they complete that day (:mod:`encore.platform.contracts.labels`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from encore.platform.config import SamplingConfig
from encore.platform.contracts.labels import is_complete_play
from encore.recall.channel import Channel
from encore.recall.queries import QueryParams, queries_from_log
from encore.recall.query import Query
from encore.recall.tables import RecallTables, day_start_ms, load_recall_tables, read_events

DEFAULT_KS = (50, 200, 500)


def evaluate_channels(channels: Sequence[Channel], queries: Sequence[Query], truth: Sequence[np.ndarray],
                      ks: Sequence[int] = DEFAULT_KS, new_truth: Sequence[np.ndarray] | None = None,
                      batch_size: int = 512) -> dict[str, dict[str, Any]]:
    """Per channel name: ``recall@K`` (and ``new_recall@K`` with ``new_truth``) for each K,
    ``queries`` (with non-empty truth), ``mean_candidates`` at the largest K and
    ``ms_per_query`` (wall time of ``recall`` over the batches; informational)."""
    if len(truth) != len(queries):
        raise ValueError("one truth per query")
    k_max = max(ks)
    results: dict[str, dict[str, Any]] = {}
    for channel in channels:
        started = time.perf_counter()
        found = []
        for lo in range(0, len(queries), batch_size):
            found.extend(channel.recall(list(queries[lo:lo + batch_size]), k_max))
        elapsed = time.perf_counter() - started
        row: dict[str, Any] = {"queries": int(sum(len(t) > 0 for t in truth))}
        for label, targets in (("recall", truth), ("new_recall", new_truth)):
            if targets is None:
                continue
            for k in ks:
                row[f"{label}@{k}"] = _mean_recall(found, targets, k)
        row["mean_candidates"] = float(np.mean([len(c) for c in found])) if found else 0.0
        row["ms_per_query"] = 1000 * elapsed / max(len(queries), 1)
        results[channel.name] = row
    return results


def _mean_recall(found, targets, k: int) -> float:
    scores = [np.isin(t, c.track_ids[:k]).mean() for c, t in zip(found, targets) if len(t)]
    return float(np.mean(scores)) if scores else 0.0


@dataclass(frozen=True)
class Holdout:
    """A held-out day: fitting tables, one Query per listener, and their truths."""

    tables: RecallTables
    queries: list[Query]
    truth: list[np.ndarray]
    new_truth: list[np.ndarray]
    test_day: date


def holdout_day(world_dir: Path | str, batch_dir: Path | str | None, test_day: date, *,
                params: QueryParams, window_days: int = 30, max_queries: int | None = None,
                seed: int = 0, sampling: SamplingConfig | None = None) -> Holdout:
    """Fitting tables, queries and truths of ``test_day`` (see the module docstring)."""
    tables = load_recall_tables(world_dir, batch_dir, until=test_day, window_days=window_days,
                                query_params=params, sampling=sampling)
    day = read_events(Path(world_dir), [test_day])
    day = day[day["user_id"].notna()]
    day = day[~day["user_id"].isin(bot_ids(world_dir))]
    ends = day[day["action"] == "play_end"].merge(tables.tracks[["track_id", "duration_ms"]], on="track_id")
    completes = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
    truth = unique_tracks_by_user(completes)
    users = np.array(sorted(truth), dtype=np.int64)
    if max_queries is not None and len(users) > max_queries:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_queries, replace=False))
    first = day.sort_values(["ts_ms", "event_id"]).groupby("user_id").first().loc[users]
    at = pd.DataFrame({"user_id": pd.array(users.astype(np.int64), dtype="Int64"),
                       "request_ms": first["ts_ms"].to_numpy(dtype=np.int64),
                       "scenario": first["scenario"].to_numpy()})
    queries = queries_from_log(tables.events, at, tracks=tables.tracks, users=tables.users, params=params)
    past = unique_tracks_by_user(tables.events[tables.events["action"] == "play_start"])
    truths = [truth[u] for u in users]
    new = [t[~np.isin(t, past.get(u, np.zeros(0, np.int64)))] for u, t in zip(users, truths)]
    return Holdout(tables=tables, queries=queries, truth=truths, new_truth=new, test_day=test_day)


def bot_ids(world_dir: Path | str) -> np.ndarray:
    """The world's bots (the judge reads the truth file; no model does), or none."""
    kinds = Path(world_dir) / "truth" / "user_kinds.parquet"
    if not kinds.is_file():
        return np.zeros(0, np.int64)
    table = pd.read_parquet(kinds, columns=["user_id", "kind"])
    return table.loc[table["kind"] == "bot", "user_id"].to_numpy(np.int64)


def unique_tracks_by_user(rows: pd.DataFrame) -> dict[int, np.ndarray]:
    """user id -> the sorted distinct track ids of ``rows`` (user_id, track_id)."""
    rows = rows[rows["user_id"].notna()]
    pairs = np.unique(np.stack([rows["user_id"].to_numpy(dtype=np.int64),
                                rows["track_id"].to_numpy(dtype=np.int64)], axis=1), axis=0)
    users, starts = np.unique(pairs[:, 0], return_index=True)
    return dict(zip(users.tolist(), np.split(pairs[:, 1], starts[1:])))


def last_day(world_dir: Path | str) -> date:
    dates = sorted(p.name.split("=", 1)[1] for p in (Path(world_dir) / "events").glob("date=*"))
    if not dates:
        raise FileNotFoundError(f"no event partitions under {world_dir}/events")
    return date.fromisoformat(dates[-1])


def previous_day(day: date) -> date:
    return day - timedelta(days=1)


__all__ = ["DEFAULT_KS", "Holdout", "evaluate_channels", "holdout_day", "last_day", "day_start_ms"]

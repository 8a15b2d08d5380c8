"""Behaviour sequences for the sequence rankers (DIN, DIEN), from the one Query builder.

A sequence ranker reads, per exposure, the listener's recent play / heart / skip track
ids strictly before it (``<b>_track_ids`` columns: ``encore.ranking.inputs``). At
serving the Pipeline takes them from the request's ``Query`` (built from Feast by
``encore.recall.queries.queries_from_online``); for training and offline evaluation
:func:`log_behaviours` builds the very same Query fields point in time from the event
log with ``encore.recall.queries.queries_from_log``, so both read one definition
(the stream window, ``recall.history_length``, unhearts removing hearts).

The ranking part cannot import the Query builder (``encore.recall``); this module (the
serving part may import both) supplies it as a ``BehaviourSource``
(``encore.ranking.train``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from encore.platform.contracts.sessions import epoch_ms
from encore.recall.query import Query
from encore.recall.queries import QueryParams, prepare_log, queries_from_log

BEHAVIOUR_FIELDS: dict[str, str] = {"play": "play_track_ids", "heart": "heart_track_ids", "skip": "skip_track_ids",
                                    "complete": "complete_track_ids"}
"""Behaviour -> the Query field holding its track ids (also the ranker's column name)."""
BEHAVIOUR_TS_FIELDS: dict[str, str] = {"play": "play_ts_ms", "heart": "heart_ts_ms", "skip": "skip_ts_ms",
                                       "complete": "complete_ts_ms"}
"""Behaviour -> the Query field holding its epoch ms (the session ranker's sessions)."""


def query_behaviours(queries: Sequence[Query], behaviours: Sequence[str] = tuple(BEHAVIOUR_FIELDS)
                     ) -> dict[str, list[tuple[int, ...]]]:
    """``<b>_track_ids`` and ``<b>_ts_ms`` columns (one tuple per Query, oldest first)."""
    fields = [BEHAVIOUR_FIELDS[b] for b in behaviours] + [BEHAVIOUR_TS_FIELDS[b] for b in behaviours]
    return {f: [getattr(q, f) for q in queries] for f in fields}


def _event_dates(world_dir: Path) -> list[date]:
    return sorted(date.fromisoformat(p.name.split("=", 1)[1]) for p in (Path(world_dir) / "events").glob("date=*"))


def log_behaviours(world_dir: Path | str, params: QueryParams,
                   behaviours: Sequence[str] = tuple(BEHAVIOUR_FIELDS)) -> Callable[[pd.DataFrame], dict[str, Any]]:
    """A ``BehaviourSource`` over the world's event log (every ``events/date=`` partition,
    read on the first call): sample rows (``user_id`` (null: anonymous), ``session_id``,
    ``ts`` or ``ts_ms``) -> their ``<b>_track_ids`` as ``queries_from_log`` gives them at
    the row's time (complete plays judged by the world catalog's ``duration_ms``). Rows
    of one listener and millisecond (a slate) share one Query."""
    from encore.recall.tables import read_events

    state: dict[str, pd.DataFrame] = {}

    def source(frame: pd.DataFrame) -> dict[str, Any]:
        if "log" not in state:
            days = _event_dates(Path(world_dir))
            if not days:
                raise FileNotFoundError(f"no event partitions under {world_dir}/events")
            # the catalog's durations judge complete plays, as the stream processor does
            catalog = Path(world_dir) / "catalog" / "tracks.parquet"
            if not catalog.is_file() and "complete" in behaviours:
                raise FileNotFoundError(f"complete-play sequences need the catalog's durations: no {catalog}")
            tracks = pd.read_parquet(catalog, columns=["track_id", "duration_ms"]) if catalog.is_file() else None
            state["log"] = prepare_log(read_events(Path(world_dir), days), params, tracks)
        ms = (frame["ts_ms"].to_numpy(dtype=np.int64) if "ts_ms" in frame
              else np.asarray(epoch_ms(frame["ts"]), dtype=np.int64))
        user = frame["user_id"].astype("Int64")
        anon = frame["session_id"].astype(str).where(user.isna(), None)
        keys = pd.DataFrame({"u": user.fillna(-1).astype(np.int64).to_numpy(), "a": anon.fillna("").to_numpy(),
                             "ms": ms})
        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(keys))
        first = pd.Series(np.arange(len(keys))).groupby(codes).first().to_numpy()
        at = pd.DataFrame({"user_id": user.iloc[first].reset_index(drop=True),
                           "anonymous_id": anon.iloc[first].reset_index(drop=True),
                           "request_ms": ms[first]})
        queries = queries_from_log(state["log"], at, tracks=pd.DataFrame(columns=["track_id", "genre", "artist_id"]),
                                   users=None, params=params)
        columns = query_behaviours(queries, behaviours)
        return {c: [values[i] for i in codes] for c, values in columns.items()}

    return source


def request_behaviours(query: Query) -> Mapping[str, tuple[int, ...]]:
    """The ranker's behaviour inputs of one serving request: its Query's sequences
    (track ids and epoch ms)."""
    return {field: getattr(query, field) for field in (*BEHAVIOUR_FIELDS.values(), *BEHAVIOUR_TS_FIELDS.values())}


def behaviours_for_config(world_dir: Path | str, config: Any, behaviours: Sequence[str]) -> Callable[
        [pd.DataFrame], dict[str, Any]]:
    """:func:`log_behaviours` with the Query parameters of an ``EncoreConfig`` (the
    factory the CLI registers with ``encore.ranking.cli.set_behaviour_factory``)."""
    return log_behaviours(world_dir, QueryParams.from_config(config), tuple(behaviours) or tuple(BEHAVIOUR_FIELDS))

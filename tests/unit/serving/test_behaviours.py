"""Behaviour sequences for training come from the one Query builder: ``log_behaviours``
gives each sample row exactly the Query fields ``queries_from_log`` builds at the row's
time (plays strictly before it), which is what the serving Pipeline hands the ranker
from its Query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from encore.recall.queries import QueryParams, queries_from_log
from encore.serving.behaviours import BEHAVIOUR_FIELDS, log_behaviours, request_behaviours
from testkit import serving as kit


def _write_world(root: Path) -> pd.DataFrame:
    ev = kit.events()
    for day, part in ev.groupby(ev["ts"].dt.strftime("%Y-%m-%d")):
        folder = root / "events" / f"date={day}"
        folder.mkdir(parents=True)
        part.drop(columns=["ts_ms"]).to_parquet(folder / "part-00000.parquet")
    (root / "catalog").mkdir()
    kit.catalog().to_parquet(root / "catalog" / "tracks.parquet")
    return ev


def test_log_behaviours_are_the_point_in_time_query_fields(tmp_path: Path) -> None:
    ev = _write_world(tmp_path)
    params = QueryParams(history_length=4)
    first_play = int(ev.loc[(ev["user_id"] == 3) & (ev["action"] == "play_start"), "ts_ms"].min())
    third_play = first_play + 2 * 200_000
    rows = pd.DataFrame({  # user 3 before any play, at its third play (two before it), later; anonymous
        "user_id": pd.array([3, 3, 3, 3, None], dtype="Int64"),
        "session_id": ["3-s", "3-s", "3-s", "3-s", "anon-1"],
        "ts_ms": np.array([first_play, third_play, third_play, kit.AS_OF, kit.AS_OF], np.int64),
    })
    got = log_behaviours(tmp_path, params)(rows)
    assert set(got) == set(BEHAVIOUR_FIELDS.values()) | {"play_ts_ms", "heart_ts_ms", "skip_ts_ms", "complete_ts_ms"}
    plays = got["play_track_ids"]
    tracks = kit.user_tracks(3)
    assert plays[0] == () and plays[4] == ()  # nothing strictly before; an unknown listener
    assert plays[1] == tuple(tracks[:2]) and plays[2] == plays[1]  # strictly before ts; one slate, one Query
    assert plays[3] == tuple(tracks[-4:])  # the last history_length plays, oldest first
    assert got["play_ts_ms"][1] == (first_play, first_play + 200_000)
    at = pd.DataFrame({"user_id": pd.array([3], dtype="Int64"), "request_ms": [kit.AS_OF]})
    query = queries_from_log(ev, at, tracks=kit.catalog(), users=None, params=params)[0]
    assert request_behaviours(query)["play_track_ids"] == plays[3]  # what serving reads from its Query
    # complete plays (play_end at 190 of 200 s), judged by the catalog's durations, as the Query has them
    assert got["complete_track_ids"][3] == query.complete_track_ids == tuple(tracks[-4:])
    assert request_behaviours(query)["complete_ts_ms"] == got["complete_ts_ms"][3]
    assert got["complete_track_ids"][1] == tuple(tracks[:2])  # both plays before ended complete

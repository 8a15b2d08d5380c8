"""The batch recall window reader: only the window's days, known listeners, the asked
listeners' rows, ts as epoch ms, the builder's columns (categoricals for action and
scenario, event ids as their ranks); the same Queries as the full pandas read (ties of
one ms ordered by the id strings); one read per process and job."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from encore.recall import batch_read
from encore.recall.batch_read import cached_window, events_of, read_window, window_files
from encore.recall.queries import QueryParams, queries_from_log


def _write(folder, day: str, rows: list[tuple]) -> None:
    part = folder / f"date={day}"
    part.mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["event_id", "ts", "user_id", "session_id", "scenario", "track_id", "action",
                                        "played_ms"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").astype("datetime64[ms, UTC]")
    frame["user_id"] = frame["user_id"].astype("Int64")
    frame["played_ms"] = frame["played_ms"].astype("Int64")
    frame.to_parquet(part / "part-0.parquet", index=False)


def _log(tmp_path):
    events = tmp_path / "events"
    _write(events, "2026-01-01", [("a", "2026-01-01T10:00:00.123Z", 1, "s1", "radio", 5, "play_start", None),
                                  ("b", "2026-01-01T10:03:00Z", 1, "s1", "radio", 5, "play_end", 180000),
                                  ("c", "2026-01-01T11:00:00Z", None, "anon", "radio", 6, "play_start", None),
                                  ("d", "2026-01-01T12:00:00Z", 2, "s2", "search", 7, "heart", None)])
    _write(events, "2026-01-02", [("e", "2026-01-02T09:00:00Z", 2, "s3", "search", 8, "play_start", None),
                                  ("e", "2026-01-02T09:00:00Z", 2, "s3", "search", 8, "play_start", None),
                                  # same ms: ordered by event id as strings ("e10" < "e9")
                                  ("e9", "2026-01-02T09:30:00Z", 2, "s3", "search", 6, "play_start", None),
                                  ("e10", "2026-01-02T09:30:00Z", 2, "s3", "search", 7, "play_start", None)])
    _write(events, "2025-12-01", [("z", "2025-12-01T09:00:00Z", 1, "s0", "radio", 9, "play_start", None)])
    return events


def test_reads_the_window_of_known_listeners_with_epoch_ms(tmp_path) -> None:
    events = _log(tmp_path)
    files = window_files(events, [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)])
    assert [f.split("/")[-2] for f in files] == ["date=2026-01-01", "date=2026-01-02"]  # 01-03 absent
    frame = events_of(read_window(files), np.array([1]))
    assert frame["event_id"].tolist() == [1, 2]  # ranks of "a" < "b" among the rows read
    assert frame["ts_ms"].tolist() == [1767261600123, 1767261780000]  # 2026-01-01T10:00:00.123Z
    assert isinstance(frame["action"].dtype, pd.CategoricalDtype) and frame["session_id"].isna().all()
    assert events_of(read_window(files), None)["user_id"].tolist() == [1, 1, 2, 2, 2, 2, 2]  # no anonymous row


def test_gives_the_same_queries_as_the_full_read(tmp_path) -> None:
    events = _log(tmp_path)
    files = window_files(events, [date(2026, 1, 1), date(2026, 1, 2)])
    full = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    full["ts_ms"] = full["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64)
    at = pd.DataFrame({"user_id": pd.array([1, 2, 3], dtype="Int64"), "request_ms": 1767398400000,
                       "scenario": "daily_recommend"})
    tracks = pd.DataFrame({"track_id": [5, 6, 7, 8], "genre": ["pop"] * 4, "artist_id": [1, 1, 2, 2]})
    want = queries_from_log(full, at, tracks=tracks, users=None, params=QueryParams())
    got = queries_from_log(events_of(read_window(files), None), at, tracks=tracks, users=None, params=QueryParams())
    assert got == want and want[1].play_track_ids == (8, 7, 6)  # the duplicate of "e" dropped; e10 before e9


def test_the_window_is_read_once_per_process_and_job(tmp_path, monkeypatch) -> None:
    files = window_files(_log(tmp_path), [date(2026, 1, 1)])
    reads = []
    monkeypatch.setattr(batch_read, "read_window", lambda f: reads.append(f) or object())
    first = cached_window("job1", files)
    assert cached_window("job1", files) is first and len(reads) == 1
    cached_window("job2", files)
    assert len(reads) == 2


def test_spilled_window_gives_the_same_events_as_the_parquet_read(tmp_path):
    from encore.recall.batch_read import open_spilled, spill_window

    files = window_files(_log(tmp_path), [date(2026, 1, 1), date(2026, 1, 2)])
    path = spill_window(files, tmp_path / "spill" / "w.arrow")
    spilled = open_spilled(str(path))
    assert spilled.schema.field("event_id").type == "int64"  # ranked once, by the driver
    for users in (None, np.array([1]), np.array([2, 1])):
        pd.testing.assert_frame_equal(events_of(spilled, users), events_of(read_window(files), users))


def test_cached_window_maps_the_spilled_file_when_given(tmp_path, monkeypatch):
    files = window_files(_log(tmp_path), [date(2026, 1, 1)])
    opened = []
    monkeypatch.setattr(batch_read, "read_window", lambda f: pytest.fail("the parquet window was read"))
    monkeypatch.setattr(batch_read, "open_spilled", lambda p: opened.append(p) or object())
    first = cached_window("job3", files, "/spill/w.arrow")
    assert cached_window("job3", files, "/spill/w.arrow") is first and opened == ["/spill/w.arrow"]

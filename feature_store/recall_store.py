"""The online recall table: precomputed top-K recall per (channel, user), written by
``encore batch recall --push`` (encore.recall.batch) and read by serving for channels
configured ``precomputed: true`` (encore.serving.pipeline; a miss is answered live).

A dedicated SQLite table, not a Feast view: a row is one listener's whole candidate
list of one channel (k ids and scores), read by key only, never joined or
materialised point in time, and Feast's online read would turn every list into a
proto of k values per read. Layout: ``recall(channel TEXT, user_id INTEGER, date
TEXT, version TEXT, track_ids BLOB, scores BLOB, PRIMARY KEY (channel, user_id))``;
``track_ids`` are little-endian int64 bytes, ``scores`` little-endian float32 bytes,
read back with ``numpy.frombuffer`` (no pickle anywhere). A write keeps the row of
the newer ``date`` (a backfill of an old day never overwrites a newer list). WAL
journal, so a server reads while a batch job writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recall (
    channel TEXT NOT NULL, user_id INTEGER NOT NULL, date TEXT NOT NULL, version TEXT NOT NULL,
    track_ids BLOB NOT NULL, scores BLOB NOT NULL, PRIMARY KEY (channel, user_id))
"""
_UPSERT = """
INSERT INTO recall (channel, user_id, date, version, track_ids, scores) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (channel, user_id) DO UPDATE SET date = excluded.date, version = excluded.version,
    track_ids = excluded.track_ids, scores = excluded.scores
WHERE excluded.date >= recall.date
"""
_MAX_VARS = 500  # user ids per SELECT ... IN (...), under SQLite's variable limit


@dataclass(frozen=True)
class StoredRecall:
    """One listener's precomputed list of one channel: ``track_ids`` int64 (n,),
    ``scores`` float32 (n,), best first; the ``date`` it was computed for and the
    channel's registry ``version``."""

    track_ids: np.ndarray
    scores: np.ndarray
    date: str
    version: str


class RecallStore:
    """The online recall table in one SQLite file (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one connection per thread (serving's recall pool)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30)
            self._local.db = db
        return db

    def write(self, channel: str, date: str, version: str,
              rows: Iterable[tuple[int, Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]]) -> int:
        """Upsert ``rows`` of (user id, track ids, scores) of ``channel`` computed for
        ``date`` (YYYY-MM-DD) by its registry ``version``; returns rows offered."""
        batch = [(channel, int(user), date, version,
                  np.asarray(ids, dtype="<i8").tobytes(), np.asarray(scores, dtype="<f4").tobytes())
                 for user, ids, scores in rows]
        db = self._connection()
        with db:
            db.executemany(_UPSERT, batch)
        return len(batch)

    def get(self, channel: str, user_ids: Sequence[int]) -> dict[int, StoredRecall]:
        """The stored lists of ``channel`` for those of ``user_ids`` that have one."""
        found: dict[int, StoredRecall] = {}
        ids = sorted({int(u) for u in user_ids})
        db = self._connection()
        for lo in range(0, len(ids), _MAX_VARS):
            part = ids[lo:lo + _MAX_VARS]
            marks = ",".join("?" * len(part))
            for user, date, version, tracks, scores in db.execute(
                f"SELECT user_id, date, version, track_ids, scores FROM recall "  # noqa: S608 - marks only
                f"WHERE channel = ? AND user_id IN ({marks})", [channel, *part]):
                found[int(user)] = StoredRecall(np.frombuffer(tracks, dtype="<i8").astype(np.int64),
                                                np.frombuffer(scores, dtype="<f4").astype(np.float32),
                                                str(date), str(version))
        return found

    def count(self, channel: str | None = None) -> int:
        db = self._connection()
        if channel is None:
            return int(db.execute("SELECT COUNT(*) FROM recall").fetchone()[0])
        return int(db.execute("SELECT COUNT(*) FROM recall WHERE channel = ?", [channel]).fetchone()[0])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

"""Next-item data of the session models: SR-GNN-format pairs, the Nowplaying split and the
world's sessions.

* :class:`SessionPairs`: ``sequences`` (prefixes, each a list of item ids >= 1) and
  ``labels`` (the next item of each): the ``(sequences, labels)`` pickle format of SR-GNN's
  ``train.txt`` / ``test.txt``. :func:`load_pairs` reads one with the restricted unpickler
  of :mod:`encore.platform.data.nowplaying` (no global is ever resolved, so a pickle can
  build only lists, tuples and ints and can never run code) and validates it;
  :func:`write_pairs` writes one (plain lists only).
* :func:`nowplaying_split`: the Nowplaying training sessions split by order, the last
  ``valid_fraction`` validating; validation pairs whose target never occurs in the
  training part are dropped (as SR-GNN's preprocessing drops unseen test items).
* :func:`world_sessions`: the play_start sequences of a generated world's sessions
  (oldest first), track ids shifted by one (item = track_id + 1, so 0 pads), the
  listener of each (-1 anonymous) and the day.
"""

from __future__ import annotations

import io
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encore.platform.data.common import DataFileError, read_bytes
from encore.platform.data.nowplaying import _PlainUnpickler as PlainUnpickler


@dataclass(frozen=True)
class SessionPairs:
    """SR-GNN next-item pairs: ``sequences[i]`` predicts ``labels[i]``."""

    sequences: list[list[int]]
    labels: np.ndarray  # int64 (n,)

    def __post_init__(self) -> None:
        if len(self.sequences) != len(self.labels):
            raise ValueError(f"{len(self.sequences)} sequences but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def max_item(self) -> int:
        seq_max = max((max(s) for s in self.sequences), default=0)
        return int(max(seq_max, int(self.labels.max(initial=0))))

    def subset(self, index: np.ndarray) -> "SessionPairs":
        return SessionPairs([self.sequences[i] for i in index], self.labels[index])

    @classmethod
    def from_sessions(cls, sessions: Sequence[Sequence[int]]) -> "SessionPairs":
        """Every prefix of every session predicts its next item (SR-GNN)."""
        seqs: list[list[int]] = []
        labels: list[int] = []
        for s in sessions:
            s = list(s)
            for t in range(1, len(s)):
                seqs.append(s[:t])
                labels.append(s[t])
        return cls(seqs, np.asarray(labels, dtype=np.int64))


def pair_batches(pairs: SessionPairs, batch_size: int, say: Callable[[str], None], what: str,
                 every_s: float = 60.0) -> Iterator[tuple[list[list[int]], np.ndarray]]:
    """(sequences, labels) batches of ``pairs`` in order, saying the progress (pairs/s,
    ETA) through ``say`` at most every ``every_s`` seconds."""
    start = last = time.perf_counter()
    for i in range(0, len(pairs), batch_size):
        yield pairs.sequences[i:i + batch_size], pairs.labels[i:i + batch_size]
        now = time.perf_counter()
        if now - last >= every_s:
            done = min(i + batch_size, len(pairs))
            rate = done / (now - start)
            say(f"  {what}: {done}/{len(pairs)} pairs, {rate:.0f} pairs/s, ETA {(len(pairs) - done) / rate:.0f} s")
            last = now


def load_pairs(path: Path | str) -> SessionPairs:
    """Read and validate an SR-GNN ``(sequences, labels)`` pickle (restricted unpickler)."""
    path = Path(path)
    raw = read_bytes(path)
    try:
        loaded = PlainUnpickler(io.BytesIO(raw)).load()
    except Exception as err:  # a corrupt pickle fails in many ways; all mean "malformed"
        raise DataFileError(path, f"not a pickle of plain lists of ints: {err}") from err
    if not isinstance(loaded, (tuple, list)) or len(loaded) != 2:
        raise DataFileError(path, "expected a (sequences, labels) pair, found "
                            f"{type(loaded).__name__} of length {len(loaded) if hasattr(loaded, '__len__') else '?'}")
    sequences, labels = loaded
    if not isinstance(sequences, list) or not isinstance(labels, (list, tuple)):
        raise DataFileError(path, "sequences and labels must be lists")
    if len(sequences) != len(labels):
        raise DataFileError(path, f"{len(sequences)} sequences but {len(labels)} labels")
    if not sequences:
        raise DataFileError(path, "holds no pairs")
    for i, seq in enumerate(sequences):
        if not isinstance(seq, (list, tuple)) or not seq:
            raise DataFileError(path, "expected a non-empty list of item ids", f"sequence {i}")
        if any(type(v) is not int or v < 1 for v in seq):
            raise DataFileError(path, "expected positive int item ids", f"sequence {i}")
    if any(type(v) is not int or v < 1 for v in labels):
        bad = next(i for i, v in enumerate(labels) if type(v) is not int or v < 1)
        raise DataFileError(path, f"expected a positive int label, found {labels[bad]!r}", f"label {bad}")
    return SessionPairs([list(s) for s in sequences], np.asarray(labels, dtype=np.int64))


def write_pairs(pairs: SessionPairs, path: Path | str) -> Path:
    """Write ``pairs`` as an SR-GNN pickle of plain lists (protocol 3)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(([list(map(int, s)) for s in pairs.sequences], [int(v) for v in pairs.labels]), f, protocol=3)
    return path


@dataclass(frozen=True)
class SessionSplit:
    """Training sessions (for the graphs and kNN) and pairs, and validation pairs."""

    train_sessions: list[list[int]]
    train: SessionPairs
    valid: SessionPairs
    num_items: int  # items are 1..num_items
    users: np.ndarray | None = None  # (len(train_sessions),) listener per session, -1 anonymous
    dropped_unseen: int = 0


def split_sessions(sessions: Sequence[Sequence[int]], valid_fraction: float, num_items: int,
                   users: np.ndarray | None = None) -> SessionSplit:
    """The last ``valid_fraction`` of ``sessions`` (in order) validate; validation pairs
    whose target is not in the training part are dropped."""
    from encore.platform.data.nowplaying import split_tail

    train_s, valid_s = split_tail([tuple(s) for s in sessions], valid_fraction)
    train_sessions = [list(s) for s in train_s]
    train = SessionPairs.from_sessions(train_sessions)
    valid = SessionPairs.from_sessions([list(s) for s in valid_s])
    seen = np.zeros(num_items + 1, bool)
    for s in train_sessions:
        seen[s] = True
    keep = np.flatnonzero(seen[valid.labels])
    return SessionSplit(train_sessions, train, valid.subset(keep), num_items,
                        None if users is None else np.asarray(users)[:len(train_sessions)],
                        dropped_unseen=len(valid) - len(keep))


def nowplaying_split(data_dir: Path | str | None, valid_fraction: float = 0.1) -> SessionSplit:
    from encore.platform.data.nowplaying import load_nowplaying

    data = load_nowplaying(data_dir)
    return split_sessions(data.sessions, valid_fraction, data.num_items)


@dataclass(frozen=True)
class WorldSessions:
    """A world's sessions of at least two plays, oldest first; items = track_id + 1."""

    sessions: list[list[int]]
    users: np.ndarray  # (S,) int64, -1 anonymous
    start_ms: np.ndarray  # (S,) int64
    num_items: int


def world_sessions(world_dir: Path | str, min_length: int = 2) -> WorldSessions:
    """The play_start sequences of every session of the world at ``world_dir``."""
    import pandas as pd

    world_dir = Path(world_dir)
    tracks = pd.read_parquet(world_dir / "catalog" / "tracks.parquet", columns=["track_id"])
    files = sorted((world_dir / "events").glob("date=*/*.parquet"))
    if not files:
        raise DataFileError(world_dir / "events", "holds no event partitions (not a generated world?)")
    cols = ["ts", "user_id", "session_id", "track_id", "action", "event_id"]
    ev = pd.concat([pd.read_parquet(f, columns=cols) for f in files], ignore_index=True)
    ev = ev[ev["action"] == "play_start"].sort_values(["session_id", "ts", "event_id"], kind="mergesort")
    sid = ev["session_id"].to_numpy(dtype=object)
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]) if len(sid) else np.zeros(0, np.int64)
    items = ev["track_id"].to_numpy(dtype=np.int64) + 1
    seqs = np.split(items, bounds[1:]) if len(sid) else []
    user = ev["user_id"].fillna(-1).to_numpy(dtype=np.int64)[bounds]
    start = ev["ts"].astype("int64").to_numpy()[bounds]
    order = np.lexsort((np.arange(len(bounds)), start))
    keep = [i for i in order if len(seqs[i]) >= min_length]
    return WorldSessions([seqs[i].tolist() for i in keep], user[keep], start[keep],
                         int(tracks["track_id"].max()) + 1)

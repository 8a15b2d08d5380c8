"""Nowplaying sessions (Last.fm #nowplaying), the SR-GNN / GCE-GNN training split.

File: ``<data_dir>/nowplaying/all_train_seq.txt``, a Python pickle (protocol 3) of a
list of 128,077 sessions, each a list of item ids (ints 1..60416; 0 is free for
padding). Sessions are in the file's order, oldest first; the official test split is
not included, so validation is carved from the end with :func:`split_tail`.

Validation: the pickle is read with an unpickler that refuses every global, so it can
build only plain containers and scalars and can never run code; the result must be a
list of non-empty lists/tuples of positive ints. Anything else is a DataFileError.

Training pairs follow SR-GNN: every prefix of a session predicts the next item
(``[1,2,3,4]`` gives ``[1]->2, [1,2]->3, [1,2,3]->4``), 825,304 pairs on the real file.
They are kept as offsets into one flat item array (:class:`NextItemPairs`).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from encore.platform.data.common import DataFileError, PathLike, read_bytes, resolve_data_dir

DIRNAME = "nowplaying"
TRAIN_FILE = "all_train_seq.txt"

Session = tuple[int, ...]


class _PlainUnpickler(pickle.Unpickler):
    """Builds only what needs no global: lists, tuples, dicts, strings, numbers."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(
            f"refused global {module}.{name}: only lists, tuples and ints are allowed"
        )


@dataclass(frozen=True)
class NowplayingSessions:
    """The training sessions, oldest first; ``num_items`` is the largest item id, so
    ids run 1..num_items and 0 can pad."""

    path: Path
    sessions: tuple[Session, ...]
    num_items: int

    @property
    def num_sessions(self) -> int:
        return len(self.sessions)

    @property
    def num_next_item_pairs(self) -> int:
        """How many pairs :func:`make_next_item_pairs` makes: one per click but the first."""
        return sum(map(len, self.sessions)) - self.num_sessions

    def describe(self) -> dict[str, int | str]:
        lengths = [len(s) for s in self.sessions]
        return {
            "path": str(self.path),
            "sessions": self.num_sessions,
            "items": self.num_items,
            "clicks": sum(lengths),
            "next_item_pairs": self.num_next_item_pairs,
            "max_session_length": max(lengths),
        }


@dataclass(frozen=True, eq=False)
class NextItemPairs:
    """SR-GNN next-item pairs over one flat array of the sessions' items.

    Pair ``i`` has prefix ``items[starts[i]:ends[i]]`` and target ``items[ends[i]]``.
    Pairs come session by session, shortest prefix first.
    """

    items: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.ends)

    @cached_property
    def targets(self) -> np.ndarray:
        return self.items[self.ends]

    @property
    def prefix_lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def prefix(self, i: int) -> np.ndarray:
        return self.items[self.starts[i]:self.ends[i]]


def _check_sessions(path: Path, loaded: object) -> tuple[Session, ...]:
    if not isinstance(loaded, list):
        raise DataFileError(path, f"expected a list of sessions, found {type(loaded).__name__}")
    for index, session in enumerate(loaded):
        if not isinstance(session, (list, tuple)):
            raise DataFileError(
                path, f"expected a list of item ids, found {type(session).__name__}",
                f"session {index}",
            )
        if not session:
            raise DataFileError(path, "expected a non-empty session, found []", f"session {index}")
        types = set(map(type, session))
        if types != {int}:
            odd = next(t for t in types if t is not int)
            raise DataFileError(
                path, f"expected int item ids, found {odd.__name__}", f"session {index}"
            )
        if min(session) < 1:
            raise DataFileError(
                path, f"expected positive item ids, found {min(session)}", f"session {index}"
            )
    return tuple(map(tuple, loaded))


def load_nowplaying(data_dir: PathLike | None = None) -> NowplayingSessions:
    """Load and validate ``<data_dir>/nowplaying/all_train_seq.txt``."""
    path = resolve_data_dir(data_dir) / DIRNAME / TRAIN_FILE
    raw = read_bytes(path)
    try:
        loaded = _PlainUnpickler(io.BytesIO(raw)).load()
    except Exception as err:  # a corrupt pickle can fail in many ways; all mean "malformed"
        raise DataFileError(path, f"not a pickle of plain lists of ints: {err}") from err
    sessions = _check_sessions(path, loaded)
    if not sessions:
        raise DataFileError(path, "holds no sessions")
    return NowplayingSessions(path, sessions, max(map(max, sessions)))


def make_next_item_pairs(sessions: Sequence[Sequence[int]]) -> NextItemPairs:
    """Every prefix of every session predicts its next item; sum(len(s) - 1) pairs."""
    lengths = np.fromiter(map(len, sessions), dtype=np.int64, count=len(sessions))
    items = np.fromiter(chain.from_iterable(sessions), dtype=np.int64, count=int(lengths.sum()))
    offsets = np.cumsum(lengths) - lengths
    per_session = np.maximum(lengths - 1, 0)
    starts = np.repeat(offsets, per_session)
    first_pair = np.cumsum(per_session) - per_session
    # position of each pair inside its session, 1..len-1: its prefix length
    rank = np.arange(len(starts), dtype=np.int64) - np.repeat(first_pair, per_session) + 1
    return NextItemPairs(items=items, starts=starts, ends=starts + rank)


def split_tail(
    sessions: Sequence[Session], fraction: float
) -> tuple[Sequence[Session], Sequence[Session]]:
    """(train, validation): the last ``round(fraction * n)`` sessions by order validate.

    Both parts must be non-empty, so ``fraction`` must leave at least one session each.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    n_valid = round(fraction * len(sessions))
    if not 0 < n_valid < len(sessions):
        raise ValueError(
            f"fraction {fraction} of {len(sessions)} sessions leaves an empty split"
        )
    cut = len(sessions) - n_valid
    return sessions[:cut], sessions[cut:]

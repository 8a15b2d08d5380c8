"""``Channel``: the contract every recall channel plugs into, and ``Candidates``.

A channel is

* **fitted** from the batch tables (:class:`encore.recall.tables.RecallTables`) and its
  ``ChannelConfig`` (``encore.platform.config``): ``channel = Kind(config).fit(tables)``;
* **saved / loaded** as a versioned artifact folder: ``channel.json`` (``kind``,
  ``format_version``, ``name``, the ``ChannelConfig`` as JSON, and the names of the array
  files) next to ``arrays.npz`` (numpy, read with ``allow_pickle=False``; never pickle);
  ``load_channel(dir)`` dispatches on ``kind`` through ``CHANNEL_KINDS``;
* **pure at recall time**: ``recall(queries, k)`` reads only the Queries and the fitted
  arrays, batched over many queries, and returns one ``Candidates`` per query.

``Candidates``: ``track_ids`` (int64, shape (n,)), ``scores`` (float32, (n,)), sorted by
score descending (ties: smaller track id first), n <= k, and optionally ``reasons``
(int16, (n,)) indexing the channel's ``reason_names`` (a string id per candidate: why it
was found, e.g. ``"hour"`` or ``"profile_genre"``). A channel whose reasons are
specific to the query (the ``kg_walk`` paths) also gives ``reason_texts``, aligned with
``reason_names``: the sentence serving returns as the item's explanation (serving falls
back to its per-channel text where there is none).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from encore.platform.config import ChannelConfig
from encore.recall.query import Query

CHANNEL_FILE = "channel.json"
ARRAYS_FILE = "arrays.npz"


class ChannelArtifactError(ValueError):
    """A channel folder is missing, of another kind or format version, or corrupt."""


@dataclass(frozen=True)
class Candidates:
    """One query's candidates, best first (see the module docstring)."""

    track_ids: np.ndarray
    scores: np.ndarray
    reasons: np.ndarray | None = None
    reason_names: tuple[str, ...] = ()
    reason_texts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.track_ids.shape != self.scores.shape or self.track_ids.ndim != 1:
            raise ValueError("track_ids and scores must be 1-d arrays of one length")
        if self.reasons is not None and self.reasons.shape != self.track_ids.shape:
            raise ValueError("reasons must align with track_ids")
        if self.reason_texts and len(self.reason_texts) != len(self.reason_names):
            raise ValueError("reason_texts must align with reason_names")

    def __len__(self) -> int:
        return len(self.track_ids)

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float32))

    def reason_of(self, i: int) -> str | None:
        if self.reasons is None:
            return None
        return self.reason_names[int(self.reasons[i])]

    def text_of(self, i: int) -> str | None:
        """The explanation sentence of candidate ``i``, when the channel gives one."""
        if self.reasons is None or not self.reason_texts:
            return None
        return self.reason_texts[int(self.reasons[i])]


class Channel(ABC):
    """Base of every recall channel (see the module docstring for the contract).

    Subclasses set ``kind`` (the key in ``CHANNEL_KINDS`` and the ``ChannelConfig.kind``),
    ``format_version``, implement ``fit`` (filling ``self.arrays`` with numpy arrays) and
    ``recall``; ``save``/``load`` are shared."""

    kind: ClassVar[str]
    format_version: ClassVar[int] = 1
    reason_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ChannelConfig):
        if config.kind != self.kind:
            raise ValueError(f"channel {config.name}: kind {config.kind!r} given to a {self.kind} channel")
        self.config = config
        self.settings = config.settings
        self.arrays: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def fitted(self) -> bool:
        return bool(self.arrays)

    @abstractmethod
    def fit(self, tables: Any) -> "Channel":
        """Fit from a ``RecallTables`` bundle; returns self."""

    @abstractmethod
    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        """Top-``k`` candidates for each query (batched)."""

    def _after_load(self) -> None:  # noqa: B027 (optional hook; most channels need none)
        """Rebuild derived (not saved) state from ``self.arrays``."""

    # -- artifact --------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        if not self.fitted:
            raise ChannelArtifactError(f"channel {self.name} is not fitted")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / ARRAYS_FILE, allow_pickle=False, **self.arrays)
        meta = {
            "kind": self.kind, "format_version": self.format_version, "name": self.name,
            "config": self.config.model_dump(mode="json"), "arrays": sorted(self.arrays),
        }
        (folder / CHANNEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "Channel":
        meta = read_channel_meta(folder)
        if meta["kind"] != cls.kind:
            raise ChannelArtifactError(f"{folder} holds a {meta['kind']} channel, not {cls.kind}")
        if meta["format_version"] != cls.format_version:
            raise ChannelArtifactError(
                f"{folder}: format version {meta['format_version']}, this code reads {cls.format_version}")
        channel = cls(ChannelConfig.model_validate(meta["config"]))
        try:
            with np.load(Path(folder) / ARRAYS_FILE, allow_pickle=False) as data:
                channel.arrays = {name: data[name] for name in meta["arrays"]}
        except (OSError, KeyError, ValueError) as err:
            raise ChannelArtifactError(f"{folder}/{ARRAYS_FILE} is missing or corrupt: {err}") from err
        channel._after_load()
        return channel

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise ChannelArtifactError(f"channel {self.name} is not fitted (fit or load it first)")


def read_artifact_json(file: Path, what: str) -> dict[str, Any]:
    """A JSON file of an artifact folder; ``ChannelArtifactError`` naming the file when it
    is missing (not ``what``: a channel artifact, an item index) or not JSON."""
    try:
        return json.loads(file.read_text())
    except FileNotFoundError as err:
        raise ChannelArtifactError(f"{file} not found: not {what}") from err
    except json.JSONDecodeError as err:
        raise ChannelArtifactError(f"{file} is not valid JSON: {err}") from err


def read_channel_meta(folder: Path | str) -> dict[str, Any]:
    file = Path(folder) / CHANNEL_FILE
    meta = read_artifact_json(file, "a channel artifact")
    for key in ("kind", "format_version", "config", "arrays"):
        if key not in meta:
            raise ChannelArtifactError(f"{file} lacks {key!r}")
    return meta

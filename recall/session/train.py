"""Training, evaluating and publishing the session GNN outside the serving channel's fit:
on Nowplaying (SR-GNN item ids, no catalog) or on a world's sessions.

* :func:`load_data`: the :class:`~encore.recall.session.data.SessionSplit` of
  ``nowplaying`` (the tail ``valid_fraction`` of the training sessions validates) or of a
  ``world`` folder (same rule over its sessions, oldest first), with the emotion table
  (world only: Nowplaying's item ids cannot be joined to any track metadata, so the
  emotion part is off there) and the listener of each training session (world only:
  the Nowplaying split has no users).
* :func:`train_model`: build the heterogeneous graph and the model, train on the most
  recent ``max_train_pairs`` training pairs.
* :func:`evaluate`: P@K / MRR@K of any dense scorer over a pairs set.
* :func:`publish`: the trained model as a ``session_gnn`` channel artifact in the
  registry, the exact command that produced it in the manifest's ``extra``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from encore.recall.session.data import SessionPairs, SessionSplit, pair_batches
from encore.recall.session.hetero import HeteroGraph
from encore.recall.session.metrics import RankAccumulator, target_ranks
from encore.recall.session.model import ModelSpec, SessionGNN

log = logging.getLogger(__name__)

DATASETS = ("nowplaying", "world")


@dataclass(frozen=True)
class SessionData:
    name: str
    split: SessionSplit
    emotion: np.ndarray | None  # (N + 1, E) or None
    track_ids: np.ndarray  # (N,) the id item j + 1 stands for


def load_data(name: str, *, data_dir: Path | str | None = None, world: Path | str | None = None,
              valid_fraction: float = 0.1, emotion_source: str = "catalog") -> SessionData:
    from encore.recall.session.data import nowplaying_split, split_sessions, world_sessions
    from encore.recall.session.emotion import emotion_table

    if name == "nowplaying":
        split = nowplaying_split(data_dir, valid_fraction)
        return SessionData(name, split, None, np.arange(1, split.num_items + 1, dtype=np.int64))
    if name == "world":
        if world is None:
            raise ValueError("--data world needs --world FOLDER")
        ws = world_sessions(world)
        split = split_sessions(ws.sessions, valid_fraction, ws.num_items, ws.users)
        return SessionData(name, split, emotion_table(emotion_source, world, ws.num_items),
                           np.arange(ws.num_items, dtype=np.int64))
    raise ValueError(f"unknown data {name!r}; known: {DATASETS}")


def recent_pairs(pairs: SessionPairs, max_pairs: int | None) -> SessionPairs:
    """The last ``max_pairs`` pairs (the most recent sessions), or all."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    return pairs.subset(np.arange(len(pairs) - max_pairs, len(pairs)))


def train_model(data: SessionData, spec: ModelSpec, *, max_train_pairs: int | None = None,
                graph: HeteroGraph | None = None, epoch_check: SessionPairs | None = None,
                init_weights: dict[str, np.ndarray] | None = None) -> tuple[SessionGNN, dict[str, Any]]:
    """Build (or reuse ``graph``) and train; returns the model and its training summary.
    ``epoch_check``: held-out pairs scored (P@20, MRR@20) after every epoch.
    ``init_weights``: a warm start (:meth:`SessionGNN.weights` of a model of the same
    architecture); Adam's moments start afresh."""
    split = data.split
    emotion = data.emotion if spec.emotion else None
    if spec.emotion and emotion is None:
        raise ValueError(f"{data.name} has no emotion vectors: train it with emotion off")
    if spec.hetero and graph is None:
        graph = HeteroGraph.build(split.train_sessions, split.num_items, users=split.users, emotion=data.emotion)
    if spec.emotion and emotion is not None:
        spec = replace(spec, emotion_dim=emotion.shape[1])
    spec = replace(spec, relations=graph.sizes if spec.hetero and graph is not None else {})
    model = SessionGNN(spec, emotion, graph if spec.hetero else None)
    if init_weights is not None:
        model.set_weights(init_weights)
    pairs = recent_pairs(split.train, max_train_pairs)
    check = None
    if epoch_check is not None and len(epoch_check):
        held = epoch_check

        def check() -> dict[str, Any]:
            return evaluate(model_scorer(model), held, what="epoch check")
    summary = model.fit(pairs.sequences, pairs.labels, after_epoch=check)
    summary.update({"train_pairs_available": len(split.train), "train_sessions": len(split.train_sessions)})
    return model, summary


def evaluate(scores: Callable[[Sequence[Sequence[int]]], np.ndarray], pairs: SessionPairs,
             batch_size: int = 256, log_every_s: float = 60.0, what: str = "") -> dict[str, float]:
    """P@20, MRR@20, P@10, MRR@10 (percent) of ``scores`` (dense (B, N + 1) rows)."""
    acc = RankAccumulator()
    start = time.perf_counter()
    for seqs, labels in pair_batches(pairs, batch_size, log.info, f"eval {what}", every_s=log_every_s):
        acc.add(target_ranks(scores(seqs), labels))
    return {**acc.result(), "eval_seconds": round(time.perf_counter() - start, 1)}


def model_scorer(model: SessionGNN) -> Callable[[Sequence[Sequence[int]]], np.ndarray]:
    def scores(seqs: Sequence[Sequence[int]]) -> np.ndarray:
        return np.concatenate(list(model.scores(seqs, batch_size=len(seqs))), axis=0)
    return scores


def channel_config(spec: ModelSpec, name: str = "session_gnn"):
    """The ``session_gnn`` channel config of a model of ``spec``; its settings are validated
    here, so a trainer can refuse bad options before training (pydantic's ValidationError)."""
    from encore.platform.config import ChannelConfig

    s = spec
    params = {"hidden": s.hidden, "steps": s.steps, "readout": s.readout, "emotion": s.emotion,
              "hetero": s.hetero, "max_length": s.max_length, "batch_size": s.batch_size, "epochs": s.epochs,
              "learning_rate": s.learning_rate, "l2": s.l2, "seed": s.seed,
              "negatives": s.negatives, "negative_alpha": s.negative_alpha}
    return ChannelConfig(name=name, kind="session_gnn", k=500, quota=150, params=params)


def as_channel(model: SessionGNN, track_ids: np.ndarray, training: dict[str, Any], name: str = "session_gnn"):
    from encore.recall.session.channel import SessionGNNChannel

    channel = SessionGNNChannel(channel_config(model.spec, name))
    return channel.attach(model, track_ids, training)


def publish(channel: Any, registry_root: Path | str, name: str, *, command: str, data_window: dict[str, Any],
            metrics: dict[str, Any], promote: bool = True) -> str:
    """Save the channel, publish it as ``name`` (promoted); returns the version."""
    from encore.platform.registry import Registry

    registry = Registry(registry_root)
    with tempfile.TemporaryDirectory(prefix="encore-session-") as tmp:
        folder = channel.save(Path(tmp) / "artifact")
        version = registry.publish(name, folder, kind="recall/session_gnn", data_window=data_window,
                                   metrics=metrics, extra={"command": command, "training": channel.training})
    if promote:
        registry.promote(name, version)
    return version


ARCHITECTURE_FIELDS = ("num_items", "hidden", "steps", "readout", "emotion", "hetero", "max_length")


def warm_start(parent: Any, spec: ModelSpec) -> dict[str, np.ndarray]:
    """The weights of ``parent`` (a loaded ``session_gnn`` channel) for a model of ``spec``;
    a clear error when the architectures differ."""
    if parent.model is None:
        raise ValueError("the model to start from holds no trained weights")
    theirs = parent.model.spec
    differ = [f"{f}: {getattr(theirs, f)} (theirs) vs {getattr(spec, f)}" for f in ARCHITECTURE_FIELDS
              if getattr(theirs, f) != getattr(spec, f)]
    if differ:
        raise ValueError("cannot start from a model of another architecture: " + "; ".join(differ))
    return parent.model.weights()


def load_model_channel(model: str, registry_root: Path | str):
    """A ``session_gnn`` channel from a folder, or the promoted version of a registry
    name (``name`` or ``name@v0003``)."""
    from encore.platform.registry import Registry
    from encore.recall.session.channel import SessionGNNChannel

    path = Path(model)
    if (path / "channel.json").is_file():
        return SessionGNNChannel.load(path), str(path)
    registry = Registry(registry_root)
    name, _, version = model.partition("@")
    version = version or (registry.promoted(name) or "")
    if not version:
        raise ValueError(f"--model {model}: not an artifact folder and no promoted version of {name!r} "
                         f"in the registry at {registry_root}")
    registry.verify(name, version)
    folder = registry.path(name, version)
    return SessionGNNChannel.load(folder), f"{name}@{version}"

"""``SessionGNNChannel`` (kind ``session_gnn``): the emotion-aware heterogeneous session
GNN (:mod:`encore.recall.session.model`) as a recall channel.

Fit (from ``RecallTables``): the play_start sequences of the sessions of the last
``window_days`` (sessions of at least two plays, oldest first), the listener of each
(for the heterogeneous graph's listener relation), the tracks' emotion vectors from
``emotion_source`` (:mod:`encore.recall.session.emotion`), SR-GNN training pairs (every
prefix predicts its next play; the most recent ``max_train_pairs``), then training.
Items: catalog track ids sorted; item = column + 1 (0 pads).

Recall (batched): each Query's current session (its last ``max_length`` plays; with
``fallback_to_recent`` a listener whose session has no play yet uses the recent plays,
so DailyRecommend gets candidates from what they listened to last), scored over every
track by the model, the top k. A Query with no known track gets no candidates.

Artifact: the base ``channel.json`` + ``arrays.npz`` (track ids, emotion table, the
heterogeneous graph, every weight ``w_*``) and ``model.json`` (the ``ModelSpec``, and
what training did, including the command that produced it when one is given).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from encore.recall.channel import Candidates, Channel, ChannelArtifactError, read_artifact_json
from encore.recall.query import Query
from encore.recall.session.hetero import HeteroGraph
from encore.recall.session.model import ModelSpec, SessionGNN
from encore.recall.sparse import TrackIndex

MODEL_FILE = "model.json"
DAY_MS = 86_400_000


def spec_from_settings(settings: Any, num_items: int, graph: HeteroGraph | None, emotion_dim: int) -> ModelSpec:
    s = settings
    return ModelSpec(num_items=num_items, hidden=s.hidden, steps=s.steps, readout=s.readout, emotion=s.emotion,
                     hetero=s.hetero, emotion_dim=emotion_dim,
                     relations=graph.sizes if graph is not None and s.hetero else {}, max_length=s.max_length,
                     batch_size=s.batch_size, epochs=s.epochs, learning_rate=s.learning_rate, l2=s.l2, seed=s.seed,
                     negatives=s.negatives, negative_alpha=s.negative_alpha)


def world_training_data(tables: Any, window_days: int) -> tuple[list[list[int]], np.ndarray, TrackIndex]:
    """(sessions as item lists, listener per session (-1 anonymous), the track index) of
    the window's play_starts."""
    index = TrackIndex.of(tables.tracks["track_id"].to_numpy())
    ev = tables.events
    ev = ev[(ev["action"] == "play_start") & (ev["ts_ms"] >= tables.as_of_ms - window_days * DAY_MS)]
    ev = ev.sort_values(["session_id", "ts_ms", "event_id"], kind="mergesort")
    cols, known = index.columns(ev["track_id"].to_numpy(dtype=np.int64))
    ev, items = ev[known], cols[known] + 1
    sid = ev["session_id"].to_numpy(dtype=object)
    if not len(sid):
        return [], np.zeros(0, np.int64), index
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    seqs = np.split(items, bounds[1:])
    users = ev["user_id"].fillna(-1).to_numpy(dtype=np.int64)[bounds]
    start = ev["ts_ms"].to_numpy(dtype=np.int64)[bounds]
    order = [i for i in np.lexsort((np.arange(len(bounds)), start)) if len(seqs[i]) >= 2]
    return [seqs[i].tolist() for i in order], users[order], index


class SessionGNNChannel(Channel):
    kind = "session_gnn"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.model: SessionGNN | None = None
        self.spec: ModelSpec | None = None
        self.training: dict[str, Any] = {}

    # -- fit ----------------------------------------------------------------------------
    def fit(self, tables) -> "SessionGNNChannel":
        from encore.recall.session.data import SessionPairs
        from encore.recall.session.emotion import emotion_from_tracks

        p = self.settings
        sessions, users, index = world_training_data(tables, p.window_days)
        if not sessions:
            raise ValueError(f"channel {self.name}: no session of two plays in the last {p.window_days} days")
        emotion = emotion_from_tracks(tables.tracks, p.emotion_source, index.track_ids) if p.emotion else None
        graph = HeteroGraph.build(sessions, len(index), users=users, emotion=emotion) if p.hetero else None
        pairs = SessionPairs.from_sessions(sessions)
        if len(pairs) > p.max_train_pairs:
            pairs = pairs.subset(np.arange(len(pairs) - p.max_train_pairs, len(pairs)))
        spec = spec_from_settings(p, len(index), graph, 2 if emotion is None else emotion.shape[1])
        model = SessionGNN(spec, emotion, graph)
        summary = model.fit(pairs.sequences, pairs.labels)
        # samples / seconds: the keys `encore train recall` prints for every trained channel
        self.training = {**summary, "sessions": len(sessions), "samples": summary["pairs"],
                         "seconds": summary["train_seconds"]}
        return self.attach(model, index.track_ids)

    def attach(self, model: SessionGNN, track_ids: np.ndarray, training: dict[str, Any] | None = None
               ) -> "SessionGNNChannel":
        """Take a trained model whose item j + 1 is ``track_ids[j]``."""
        if len(track_ids) != model.spec.num_items:
            raise ValueError(f"{len(track_ids)} track ids for a model of {model.spec.num_items} items")
        self.model, self.spec = model, model.spec
        if training is not None:
            self.training = training
        graph = model.graph.arrays() if model.graph is not None else {}
        self.arrays = {"track_ids": np.asarray(track_ids, np.int64), "emotion": model.emotion_table,
                       **graph, **model.weights()}
        self._index = TrackIndex(self.arrays["track_ids"])
        return self

    # -- artifact -----------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        self._require_fitted()
        assert self.spec is not None
        folder = super().save(folder)
        (folder / MODEL_FILE).write_text(json.dumps({"spec": self.spec.to_json(), "training": self.training},
                                                    indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "SessionGNNChannel":
        loaded = super().load(folder)
        assert isinstance(loaded, SessionGNNChannel)
        meta = read_artifact_json(Path(folder) / MODEL_FILE, "a session_gnn artifact")
        try:
            spec = ModelSpec(**meta["spec"])
        except (KeyError, TypeError, ValueError) as err:
            raise ChannelArtifactError(f"{folder}/{MODEL_FILE}: bad model spec: {err}") from err
        a = loaded.arrays
        graph = HeteroGraph.from_arrays(a) if spec.hetero else None
        model = SessionGNN(spec, a["emotion"] if spec.emotion else None, graph)
        try:
            model.set_weights(a)
        except ValueError as err:
            raise ChannelArtifactError(f"{folder}: {err}") from err
        loaded.model, loaded.spec, loaded.training = model, spec, meta.get("training", {})
        loaded._index = TrackIndex(a["track_ids"])
        return loaded

    # -- recall -------------------------------------------------------------------------
    def sequences(self, queries: Sequence[Query]) -> list[list[int]]:
        """Each query's session as item ids (unknown tracks left out), at most
        ``max_length``; the recent plays when the session is empty and
        ``fallback_to_recent``."""
        p = self.settings
        out = []
        for q in queries:
            tracks = q.session.track_ids or (q.play_track_ids if p.fallback_to_recent else ())
            cols, known = self._index.columns(np.asarray(tracks[-p.max_length:], np.int64))
            out.append((cols[known] + 1).tolist())
        return out

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        assert self.model is not None
        seqs = self.sequences(queries)
        out = [Candidates.empty() for _ in queries]
        have = [i for i, s in enumerate(seqs) if s]
        if not have:
            return out
        rows = iter(self.model.scores([seqs[i] for i in have]))
        batch: np.ndarray | None = None
        for pos, i in enumerate(have):
            if pos % 256 == 0:
                batch = next(rows)
            assert batch is not None
            scores = batch[pos % 256, 1:]
            kk = min(k, len(scores))
            top = np.argpartition(-scores, kk - 1)[:kk]
            top = top[np.lexsort((top, -scores[top]))]
            out[i] = Candidates(self._index.track_ids[top], scores[top].astype(np.float32))
        return out

"""``NeuralChannel``: a recall channel served by a trained query tower and ANN indexes
over the item vectors of each of its spaces.

Fit: the catalog and profile vocabularies, the training samples (complete plays with
their point-in-time Queries, :mod:`encore.recall.neural.samples`), the model of the
subclass (``build_model``) trained by :func:`~encore.recall.neural.retrieval.train_retrieval`,
then every catalog track's vector per space and one :class:`~encore.recall.ann.ItemIndex`
per space (ScaNN, settings ``params.ann``).

Recall (batched): Queries -> ``encode_queries`` -> the query function -> per space K
query vectors (B, K, D) with a mask -> ANN top-k per unmasked vector -> per space the
vectors' lists merged (a track's score is its best over the vectors: MIND's interests),
then the spaces merged under ``space_quotas`` (SDM: short-term and long-term) -> at most
k candidates, each with the space that found it as its reason.

Artifact folder (the base ``channel.json`` + ``arrays.npz`` with the vocabulary and the
item vectors ``vectors_<space>`` (n, D)), plus ``query_model/`` (the SavedModel of
:func:`~encore.recall.neural.retrieval.export_query_model`), ``ann_<space>/`` (the
indexes; ScaNN stays outside the SavedModel graph) and ``training.json`` (what the fit
did: samples, epochs, wall time, losses, the model's own report).
"""

from __future__ import annotations

import json
import logging
import shutil
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from encore.recall.ann import ItemIndex
from encore.recall.channel import Candidates, Channel, ChannelArtifactError
from encore.recall.neural.encoding import Vocabulary, encode_queries, feature_specs
from encore.recall.query import Query

log = logging.getLogger(__name__)

QUERY_MODEL = "query_model"
TRAINING_FILE = "training.json"


class NeuralChannel(Channel):
    """Base of the neural recall channels (see the module docstring). Subclasses set
    ``kind``, ``spaces`` (also the reason names) and ``build_model``. ``spaces`` is read
    on the instance, so a channel whose spaces depend on its settings (SDM's ``fusion``)
    overrides it with a property; ``load`` asks the loaded instance."""

    spaces: tuple[str, ...] = ("item",)

    def __init__(self, config) -> None:
        super().__init__(config)
        self.training: dict[str, Any] = {}
        self._query: Any = None
        self._model: Any = None
        self._saved: Any = None
        self._indexes: dict[str, ItemIndex] = {}
        self._folder: Path | None = None

    @property
    def reason_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.spaces

    @abstractmethod
    def build_model(self, vocab: Vocabulary):
        """The untrained ``RetrievalModel`` of this kind."""

    def model_report(self, model, features: dict[str, np.ndarray]) -> dict[str, Any]:
        """Anything the model wants recorded after training (e.g. SDM's gate values)."""
        return {}

    def space_quotas(self, k: int) -> dict[str, int]:
        """How many of the k candidates each space may give first (the rest fill up in
        space order): every space k by default."""
        return {space: k for space in self.spaces}

    # -- fit ----------------------------------------------------------------------------
    def fit(self, tables) -> "NeuralChannel":
        from encore.recall.neural.retrieval import all_item_vectors, query_function, train_retrieval
        from encore.recall.neural.samples import training_samples

        p = self.settings
        vocab = Vocabulary.fit(tables.tracks, tables.users)
        samples = training_samples(tables, params=tables.query_params, sampling=tables.sampling,
                                   sample_cap=p.sample_cap, max_samples=p.max_train_samples, seed=p.seed)
        features = encode_queries(samples.queries, vocab, p.history_length, p.session_length)
        targets = vocab.track_codes(samples.target_track_ids)
        known = targets > 0
        features = {name: values[known] for name, values in features.items()}
        model = self.build_model(vocab)
        log.info("channel %s: training %s on %d samples", self.name, self.kind, int(known.sum()))
        summary: dict[str, Any] = dict(train_retrieval(model, features, targets[known], p))
        users = samples.user_ids[known]
        summary.update({"samples": int(known.sum()), "anonymous_samples": int((users < 0).sum()),
                        "listeners": int(len(np.unique(users[users >= 0]))),
                        "sample_cap": p.sample_cap, "report": self.model_report(model, features)})
        self.training = summary
        self.arrays = {**vocab.arrays(), **{f"vectors_{space}": all_item_vectors(model, space, vocab.n_tracks)
                                            for space in self.spaces}}
        self._model = model
        serve = query_function(model, feature_specs(p.history_length, p.session_length))
        self._query = lambda **features: serve(features)
        self._after_load()
        self._indexes = {space: ItemIndex.build(self.arrays[f"vectors_{space}"], self._vocab.track_ids, p.ann)
                         for space in self.spaces}
        return self

    def _after_load(self) -> None:
        self._vocab = Vocabulary.from_arrays(self.arrays)

    # -- artifact -----------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        from encore.recall.neural.retrieval import export_query_model

        folder = super().save(folder)
        target = folder / QUERY_MODEL
        if target.exists():
            shutil.rmtree(target)
        if self._model is not None:
            p = self.settings
            export_query_model(self._model, feature_specs(p.history_length, p.session_length), target)
        elif self._folder is not None:
            shutil.copytree(self._folder / QUERY_MODEL, target)
        else:
            raise ChannelArtifactError(f"channel {self.name}: no query model to save")
        for space, index in self._indexes.items():
            index.save(folder / f"ann_{space}")
        (folder / TRAINING_FILE).write_text(json.dumps(self.training, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "NeuralChannel":
        import tensorflow as tf

        folder = Path(folder)
        if not (folder / QUERY_MODEL / "saved_model.pb").is_file():
            raise ChannelArtifactError(f"{folder}/{QUERY_MODEL} is missing: not a neural channel artifact")
        loaded = super().load(folder)
        assert isinstance(loaded, NeuralChannel)
        loaded._folder = folder
        loaded._indexes = {space: ItemIndex.load(folder / f"ann_{space}") for space in loaded.spaces}
        try:
            saved = tf.saved_model.load(str(folder / QUERY_MODEL))
        except (OSError, ValueError) as err:
            raise ChannelArtifactError(f"{folder}/{QUERY_MODEL} cannot be loaded: {err}") from err
        loaded._saved = saved  # keep the loaded object alive: the signature refers to it
        loaded._query = saved.signatures["serving_default"]
        training = folder / TRAINING_FILE
        loaded.training = json.loads(training.read_text()) if training.is_file() else {}
        return loaded

    # -- recall -------------------------------------------------------------------------
    def query_vectors(self, queries: Sequence[Query]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """space -> (vectors (B, K, D) float32, mask (B, K) bool) of ``queries``."""
        import tensorflow as tf

        p = self.settings
        features = encode_queries(queries, self._vocab, p.history_length, p.session_length)
        out = self._query(**{name: tf.constant(values) for name, values in features.items()})
        return {space: (out[space].numpy(), out[f"{space}_mask"].numpy() > 0.5) for space in self.spaces}

    def recall(self, queries: Sequence[Query], k: int) -> list[Candidates]:
        self._require_fitted()
        if not queries:
            return []
        vectors = self.query_vectors(queries)
        per_space: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for space, (vecs, mask) in vectors.items():
            rows, slots = np.nonzero(mask)
            ids, scores = self._indexes[space].search(vecs[rows, slots].astype(np.float32), k)
            per_space[space] = _best_per_query(rows, ids, scores, len(queries))
        quotas = self.space_quotas(k)
        return [self._merge([per_space[s][b] for s in self.spaces], quotas, k) for b in range(len(queries))]

    def _merge(self, lists: list[tuple[np.ndarray, np.ndarray]], quotas: dict[str, int], k: int) -> Candidates:
        if len(lists) == 1:
            return self._merge_one(*lists[0], k)
        return self._merge_spaces(lists, quotas, k)

    def _merge_one(self, ids: np.ndarray, scores: np.ndarray, k: int) -> Candidates:
        """:meth:`_merge_spaces` for one space, vectorised (it is a per-listener Python
        loop over up to 2k entries, half of a batch's time): the first ``k`` distinct
        ids in list order with their first score, ordered by (score desc, id)."""
        if not len(ids):
            return Candidates.empty()
        _, first = np.unique(ids, return_index=True)
        first = np.sort(first)[:k]
        tids = np.asarray(ids, dtype=np.int64)[first]
        top = np.asarray(scores, dtype=np.float32)[first]
        order = np.lexsort((tids, -top))
        return Candidates(tids[order], top[order], np.zeros(len(order), np.int16), self.spaces)

    def _merge_spaces(self, lists: list[tuple[np.ndarray, np.ndarray]], quotas: dict[str, int],
                      k: int) -> Candidates:
        taken: dict[int, tuple[float, int]] = {}
        for first_pass in (True, False):
            for reason, (space, (ids, scores)) in enumerate(zip(self.spaces, lists)):
                limit = quotas[space] if first_pass else len(ids)
                for tid, score in zip(ids[:limit].tolist(), scores[:limit].tolist()):
                    if len(taken) >= k:
                        break
                    taken.setdefault(tid, (score, reason))
        if not taken:
            return Candidates.empty()
        tids = np.fromiter(taken, dtype=np.int64, count=len(taken))
        scores = np.array([v[0] for v in taken.values()], np.float32)
        reasons = np.array([v[1] for v in taken.values()], np.int16)
        order = np.lexsort((tids, -scores))
        return Candidates(tids[order], scores[order], reasons[order], self.spaces)


def _best_per_query(rows: np.ndarray, ids: np.ndarray, scores: np.ndarray, n: int
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per query b, the union of its vectors' lists, each track at its best score, best
    first (ties: smaller id)."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for b in range(n):
        sel = rows == b
        if not sel.any():
            out.append((np.zeros(0, np.int64), np.zeros(0, np.float32)))
            continue
        t, s = ids[sel].ravel(), scores[sel].ravel()
        valid = t >= 0
        t, s = t[valid], s[valid]
        order = np.lexsort((t, -s))
        t, s = t[order], s[order]
        _, first = np.unique(t, return_index=True)
        first = np.sort(first)
        out.append((t[first], s[first]))
    return out

"""``RetrievalModel``: the two-tower base every neural recall model extends, its training
loop and its export.

A model answers, for a batch of encoded Queries (:mod:`encore.recall.neural.encoding`),
``query_outputs(features) -> {space: (vectors (B, K, D), mask (B, K))}``: K query
vectors per *space* (YouTube-DNN: one space "item", K = 1; MIND: K interests; SDM:
"short_term" and "long_term", or one "fused" space), and ``item_vectors(space, codes) ->
(N, D)`` for track codes.
Vectors are L2-normalised, so inner product = cosine.

Loss (``compute_loss``, a ``tfrs.Model``): per space, ``training_query`` picks one (B, D)
query vector per example (K = 1: the only one; MIND overrides it with label-aware
attention), and a ``tfrs.tasks.Retrieval`` softmax over the batch's targets with the
logQ correction (each target's sampling probability = its share of the training
targets, Yi et al. 2019) and accidental hits removed; spaces add with
``space_weights``.

``export_query_model`` writes the query side as a SavedModel whose ``serving_default``
signature maps the encoded features to ``{space: (B, K, D), space + "_mask": (B, K)}``;
item vectors are exported as arrays (and indexed by ScaNN outside the graph).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from encore.recall.neural.encoding import Vocabulary
from encore.recall.neural.layers import ItemTower

log = logging.getLogger(__name__)


def l2_normalize(x: tf.Tensor) -> tf.Tensor:
    return tf.math.l2_normalize(x, axis=-1, epsilon=1e-9)


class RetrievalModel(tfrs.Model):
    """Base of the neural recall models (see the module docstring)."""

    spaces: tuple[str, ...] = ("item",)

    def __init__(self, vocab: Vocabulary, params) -> None:
        super().__init__()
        self.params = params
        sizes = vocab.sizes()
        attributes = {"artist": vocab.track_artist, "album": vocab.track_album, "genre": vocab.track_genre,
                      "language": vocab.track_language}
        self.items = ItemTower(sizes, attributes, params.embedding_dim, name="item_tower")
        self.n_codes = sizes["track"]
        self.task = tfrs.tasks.Retrieval(temperature=params.temperature, remove_accidental_hits=True)

    # -- the two towers ---------------------------------------------------------------
    def query_outputs(self, features: Mapping[str, tf.Tensor], training: bool = False
                      ) -> dict[str, tuple[tf.Tensor, tf.Tensor]]:
        """Every model defines its query tower here (the base has none)."""
        raise NotImplementedError(f"{type(self).__name__} must define query_outputs")

    def item_vectors(self, space: str, codes: tf.Tensor) -> tf.Tensor:
        """(N,) track codes -> (N, D) normalised item vectors of ``space``."""
        return l2_normalize(self.items(codes))

    # -- training ---------------------------------------------------------------------
    def space_weights(self) -> dict[str, float]:
        return {space: 1.0 for space in self.spaces}

    def training_query(self, space: str, vectors: tf.Tensor, mask: tf.Tensor, target_vectors: tf.Tensor
                       ) -> tf.Tensor:
        """(B, K, D), (B, K), targets (B, D) -> the (B, D) query vector trained."""
        return vectors[:, 0]

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        features, target = inputs["features"], inputs["target"]
        outputs = self.query_outputs(features, training=training)
        probability = inputs.get("target_probability") if self.params.logq_correction else None
        loss = tf.constant(0.0)
        for space, weight in self.space_weights().items():
            if weight == 0:
                continue
            vectors, mask = outputs[space]
            targets = self.item_vectors(space, target)
            query = self.training_query(space, vectors, mask, targets)
            loss += weight * self.task(query, targets, candidate_sampling_probability=probability,
                                       candidate_ids=target, compute_metrics=False)
        return loss


class _Progress(tf.keras.callbacks.Callback):
    """A log line per epoch with its loss, rate and the ETA of the run."""

    def __init__(self, epochs: int, examples: int) -> None:
        super().__init__()
        self.epochs, self.examples = epochs, examples
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        elapsed = time.perf_counter() - self.started
        done = epoch + 1
        log.info("epoch %d/%d: loss %.4f, %.0f examples/s, ETA %.0fs", done, self.epochs,
                 (logs or {}).get("loss", float("nan")), done * self.examples / elapsed,
                 (self.epochs - done) * elapsed / done)


def train_retrieval(model: RetrievalModel, features: Mapping[str, np.ndarray], targets: np.ndarray,
                    params) -> dict[str, Any]:
    """Fit ``model`` on encoded features (N, ...) and target codes (N,) for
    ``params.epochs``; returns the training summary (examples, epochs, seconds, losses)."""
    if len(targets) < 2:
        raise ValueError(f"{len(targets)} training samples: a neural recall channel needs at least 2")
    tf.keras.utils.set_random_seed(params.seed)
    counts = np.bincount(targets, minlength=model.n_codes).astype(np.float64)
    probability = (counts / counts.sum())[targets].astype(np.float32)
    data = {"features": dict(features), "target": targets.astype(np.int32), "target_probability": probability}
    batch = min(params.batch_size, len(targets))
    dataset = (tf.data.Dataset.from_tensor_slices(data)
               .shuffle(min(len(targets), 100_000), seed=params.seed, reshuffle_each_iteration=True)
               .batch(batch, drop_remainder=True).prefetch(2))
    model.compile(optimizer=tf.keras.optimizers.Adam(params.learning_rate))
    started = time.perf_counter()
    history = model.fit(dataset, epochs=params.epochs, verbose=0,
                        callbacks=[_Progress(params.epochs, len(targets))])
    losses = [float(x) for x in history.history.get("loss", [])]
    return {"examples": int(len(targets)), "epochs": params.epochs, "batch_size": batch,
            "seconds": round(time.perf_counter() - started, 2), "loss_per_epoch": [round(x, 4) for x in losses]}


def all_item_vectors(model: RetrievalModel, space: str, n_tracks: int, chunk: int = 8192) -> np.ndarray:
    """(n, D) float32 vectors of track codes 1..n (row i = the catalog's i-th track)."""
    parts = [model.item_vectors(space, tf.range(lo, min(lo + chunk, n_tracks + 1), dtype=tf.int32)).numpy()
             for lo in range(1, n_tracks + 1, chunk)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, model.params.embedding_dim), np.float32)


class _QueryModule(tf.Module):
    def __init__(self, model: RetrievalModel) -> None:
        super().__init__()
        self.model = model


def query_function(model: RetrievalModel, specs: Mapping[str, tuple[tuple[int, ...], str]]):
    """The query side as one ``tf.function`` over the encoded features (``specs``: name
    -> (shape without batch, dtype)) returning ``{space: (B, K, D), space + "_mask":
    (B, K) float}``: what the SavedModel serves and what a just-fitted channel calls."""
    signature = {name: tf.TensorSpec((None, *shape), getattr(tf, dtype), name=name)
                 for name, (shape, dtype) in specs.items()}

    @tf.function(input_signature=[signature])
    def serve(features):
        out = {}
        for space, (vectors, mask) in model.query_outputs(features, training=False).items():
            out[space] = vectors
            out[f"{space}_mask"] = tf.cast(mask, tf.float32)
        return out

    return serve


def export_query_model(model: RetrievalModel, specs: Mapping[str, tuple[tuple[int, ...], str]],
                       folder: Path) -> Path:
    """Save the query side as a SavedModel (see the module docstring)."""
    module = _QueryModule(model)
    module.serve = query_function(model, specs)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return folder

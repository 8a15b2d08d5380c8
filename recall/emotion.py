"""The emotion model: a track's audio descriptors and lyrics -> (valence, arousal).

The design follows the audio + lyrics music-emotion models that emotion-aware music
recommendation builds on: Delbouys et al., "Music Mood Detection Based on Audio and
Lyrics with Deep Neural Net" (ISMIR 2018: a CNN on the audio, word embeddings and a
recurrent net on the lyrics, fused late, regressing valence and arousal); the
valence-arousal plane of Russell's circumplex as the regression target (Yang & Chen,
"Machine Recognition of Music Emotion: A Review", ACM TIST 2012); attention pooling of
BiLSTM states as in Zhou et al., "Attention-Based Bidirectional LSTM Networks for
Relation Classification" (ACL 2016); and the emotion vectors that "Emotion-enhanced
heterogeneous graph neural network for music session-based recommendation" fuses into
its session representation (the session GNN of issue 10 reads this model's output).

Shapes (B tracks, A audio descriptors, L lyric tokens, C = ``descriptor_dim``, F =
``conv_filters``, H = ``mlp_units``, E = ``word_dim``, U = ``lstm_units``):

* audio branch: descriptors (B, A), standardised with the training rows' mean and std
  -> one token per descriptor (B, A, C): ``x_a * w_a + b_a + bin_a(x_a)``, where
  ``bin_a`` embeds the descriptor's quantile bin among ``descriptor_bins`` (a piecewise
  encoding of a scalar, as Gorishniy et al., "On Embeddings for Numerical Features in
  Tabular Deep Learning", NeurIPS 2022, so 9 scalar Spotify descriptors still give the
  CNN a sequence with channels) -> two Conv1D (kernel ``kernel_size``, same padding,
  ReLU) (B, A, F) -> flattened (B, A * F); beside it an MLP on the standardised
  descriptors (B, H). The world's 16-d audio vectors and Spotify's 9 descriptors both
  take this path.
* lyrics branch (when the data has lyrics): token ids (B, L), 0 = padding ->
  embedding (B, L, E) -> BiLSTM (B, L, 2U) -> additive attention
  ``a = softmax_L(v . tanh(W h_t + b))`` over non-padding tokens -> (B, 2U).
* fusion: concatenation -> Dense(``fusion_units``, ReLU) -> dropout -> Dense(2), plus
  a linear Dense(2) of the standardised descriptors (the wide part of wide & deep,
  Cheng et al., DLRS 2016): (B, 2) in standardised target units; ``predict`` returns (B, 2) float32
  (valence, arousal) in the targets' own units.

Training: mean squared error on the standardised targets (both axes weigh the same),
Adam, early stopping on a held-out share of the training rows (best weights restored).
Audio-only mode: ``EmotionInputs(audio, lyrics=None)`` builds no lyrics branch.

Artifact (``save``/``load``): ``emotion.json`` (config, input sizes, standardisation
statistics, bin edges) and ``weights.npz`` (no pickle); ``load`` rebuilds the network
and gives identical predictions. ``track_emotion(world_dir, model)`` -> (n_tracks, 2)
float32, row ``i`` = track id ``i``; ``load_promoted_emotion`` reads the registry.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from encore.platform.config import EmotionConfig

log = logging.getLogger(__name__)

ARTIFACT_FILE = "emotion.json"
WEIGHTS_FILE = "weights.npz"
PREDICTIONS_FILE = "track_emotion.parquet"
"""Predicted (valence, arousal) of every track of the world the model was trained on:
columns ``track_id``, ``predicted_valence``, ``predicted_arousal`` (the Feast
``track_profile`` job reads it from the promoted artifact)."""
TARGETS = ("valence", "arousal")
FORMAT_VERSION = 1


class EmotionInputError(ValueError):
    """Inputs that do not fit the model (wrong shape, NaN, unknown mode)."""


@dataclass(frozen=True)
class EmotionInputs:
    """``audio`` (N, A) float32 descriptors; ``lyrics`` (N, L) int32 token ids (0 =
    padding) or None for audio-only data."""

    audio: np.ndarray
    lyrics: np.ndarray | None = None

    def __post_init__(self) -> None:
        audio = np.asarray(self.audio)
        if audio.ndim != 2 or audio.shape[1] == 0:
            raise EmotionInputError(f"audio must be (tracks, descriptors), got shape {audio.shape}")
        if not np.isfinite(audio).all():
            bad = int(np.flatnonzero(~np.isfinite(audio).all(axis=1))[0])
            raise EmotionInputError(f"audio row {bad} has a NaN or infinite descriptor")
        object.__setattr__(self, "audio", audio.astype(np.float32, copy=False))
        if self.lyrics is not None:
            lyrics = np.asarray(self.lyrics)
            if lyrics.ndim != 2 or len(lyrics) != len(audio):
                raise EmotionInputError(f"lyrics must be (tracks={len(audio)}, tokens), got shape {lyrics.shape}")
            if lyrics.size and lyrics.min() < 0:
                raise EmotionInputError("lyrics token ids must be >= 0 (0 is padding)")
            object.__setattr__(self, "lyrics", lyrics.astype(np.int32, copy=False))

    def __len__(self) -> int:
        return len(self.audio)

    def take(self, rows: np.ndarray) -> "EmotionInputs":
        return EmotionInputs(self.audio[rows], None if self.lyrics is None else self.lyrics[rows])


def _build_network(cfg: EmotionConfig, n_audio: int, bin_edges: np.ndarray, lyrics_len: int | None,
                   vocab_size: int | None):
    """The Keras model: {"audio": (B, A)[, "lyrics": (B, L)]} -> (B, 2)."""
    import tensorflow as tf

    edges = tf.constant(bin_edges.astype(np.float32))  # (A, bins - 1), sorted per descriptor
    n_bins = bin_edges.shape[1] + 1

    class DescriptorTokens(tf.keras.layers.Layer):
        """(B, A) -> (B, A, C): value * w_a + b_a + embedding of the value's bin."""

        def build(self, input_shape):
            self.w = self.add_weight(name="scale", shape=(n_audio, cfg.descriptor_dim), initializer="glorot_uniform")
            self.b = self.add_weight(name="bias", shape=(n_audio, cfg.descriptor_dim), initializer="zeros")
            self.bins = self.add_weight(name="bins", shape=(n_audio * n_bins, cfg.descriptor_dim),
                                        initializer=tf.keras.initializers.RandomNormal(stddev=0.05))

        def call(self, x):
            # searchsorted wants the sorted edges and the queries per row: (A, bins-1), (A, B)
            bin_of = tf.transpose(tf.searchsorted(edges, tf.transpose(x), side="right"))  # (B, A)
            codes = bin_of + tf.range(n_audio)[None, :] * n_bins
            return x[..., None] * self.w + self.b + tf.gather(self.bins, codes)

    class AttentionPooling(tf.keras.layers.Layer):
        """(B, L, D) states + (B, L) mask -> (B, D): additive attention (Zhou et al. 2016)."""

        def build(self, input_shape):
            self.proj = tf.keras.layers.Dense(cfg.attention_units, activation="tanh", name="attention_proj")
            self.score = tf.keras.layers.Dense(1, use_bias=False, name="attention_score")

        def call(self, states, mask):
            logits = tf.squeeze(self.score(self.proj(states)), -1)  # (B, L)
            logits = tf.where(mask, logits, tf.fill(tf.shape(logits), -1e9))
            weights = tf.nn.softmax(logits, axis=-1) * tf.cast(mask, states.dtype)  # all-padding rows -> 0
            return tf.reduce_sum(weights[..., None] * states, axis=1)

    audio = tf.keras.Input((n_audio,), name="audio", dtype=tf.float32)
    tokens = DescriptorTokens(name="descriptor_tokens")(audio)  # (B, A, C)
    conv = tf.keras.layers.Conv1D(cfg.conv_filters, cfg.kernel_size, padding="same", activation="relu",
                                  name="conv1")(tokens)
    conv = tf.keras.layers.Conv1D(cfg.conv_filters, cfg.kernel_size, padding="same", activation="relu",
                                  name="conv2")(conv)  # (B, A, F)
    mlp = tf.keras.layers.Dense(cfg.mlp_units, activation="relu", name="mlp1")(audio)
    mlp = tf.keras.layers.Dense(cfg.mlp_units, activation="relu", name="mlp2")(mlp)  # (B, H)
    parts = [tf.keras.layers.Flatten(name="conv_flat")(conv), mlp]
    inputs = {"audio": audio}
    if lyrics_len is not None:
        assert vocab_size is not None
        lyrics = tf.keras.Input((lyrics_len,), name="lyrics", dtype=tf.int32)
        inputs["lyrics"] = lyrics
        words = tf.keras.layers.Embedding(vocab_size, cfg.word_dim, name="word_embedding")(lyrics)  # (B, L, E)
        mask = tf.keras.layers.Lambda(lambda t: tf.not_equal(t, 0), name="lyrics_mask")(lyrics)
        states = tf.keras.layers.Bidirectional(
            tf.keras.layers.LSTM(cfg.lstm_units, return_sequences=True), name="bilstm")(words, mask=mask)  # (B, L, 2U)
        parts.append(AttentionPooling(name="lyrics_attention")(states, mask))  # (B, 2U)
    fused = tf.keras.layers.Concatenate(name="fuse")(parts)
    fused = tf.keras.layers.Dense(cfg.fusion_units, activation="relu", name="fusion")(fused)
    fused = tf.keras.layers.Dropout(cfg.dropout, name="dropout")(fused)
    # a linear path from the descriptors beside the deep one (wide & deep, Cheng et al. 2016): where the
    # emotion is mostly a linear image of the audio the net only has to learn what the line misses
    out = tf.keras.layers.Add(name="valence_arousal")([
        tf.keras.layers.Dense(2, name="deep_out")(fused), tf.keras.layers.Dense(2, name="linear_out")(audio)])  # (B, 2)
    return tf.keras.Model(inputs, out, name="emotion_model")


class EmotionModel:
    """Audio (+ lyrics) -> (valence, arousal); see the module docstring."""

    def __init__(self, config: EmotionConfig | None = None) -> None:
        self.config = config or EmotionConfig()
        self.state: dict[str, Any] | None = None  # sizes and statistics fixed by fit
        self.training: dict[str, Any] = {}
        self._net: Any = None

    @property
    def uses_lyrics(self) -> bool:
        return bool(self.state and self.state["lyrics_len"] is not None)

    def fit(self, inputs: EmotionInputs, targets: np.ndarray,
            say: Callable[[str], None] | None = None) -> "EmotionModel":
        """Fit on (N, A) audio [+ (N, L) lyrics] and (N, 2) targets (valence, arousal)."""
        import tensorflow as tf

        targets = np.asarray(targets, np.float32)
        if targets.shape != (len(inputs), 2):
            raise EmotionInputError(f"targets must be (tracks={len(inputs)}, 2), got shape {targets.shape}")
        if not np.isfinite(targets).all():
            raise EmotionInputError("targets hold a NaN or infinite value")
        cfg = self.config
        if len(inputs) < 10:
            raise EmotionInputError(f"need at least 10 tracks to fit, got {len(inputs)}")
        tf.keras.utils.set_random_seed(cfg.seed)
        mean, std = inputs.audio.mean(0), inputs.audio.std(0)
        std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        x = (inputs.audio - mean) / std
        quantiles = np.linspace(0, 1, cfg.descriptor_bins + 1)[1:-1]
        edges = np.quantile(x, quantiles, axis=0).T.astype(np.float32)  # (A, bins - 1)
        edges = np.maximum.accumulate(edges, axis=1)
        t_mean, t_std = targets.mean(0), targets.std(0)
        t_std = np.where(t_std > 1e-8, t_std, 1.0).astype(np.float32)
        lyrics_len = None if inputs.lyrics is None else int(inputs.lyrics.shape[1])
        vocab = None if inputs.lyrics is None else int(inputs.lyrics.max()) + 1
        self.state = {"n_audio": int(inputs.audio.shape[1]), "lyrics_len": lyrics_len, "vocab_size": vocab,
                      "audio_mean": mean.tolist(), "audio_std": std.tolist(), "bin_edges": edges.tolist(),
                      "target_mean": t_mean.tolist(), "target_std": t_std.tolist()}
        self._net = self._build()
        self._net.compile(optimizer=tf.keras.optimizers.Adam(cfg.learning_rate), loss="mse")

        rng = np.random.default_rng(cfg.seed)
        order = rng.permutation(len(inputs))
        n_val = max(1, int(round(cfg.validation_share * len(inputs))))
        val, train = order[:n_val], order[n_val:]
        feed = self._feed(inputs)
        y = (targets - t_mean) / t_std
        started = time.perf_counter()

        class Progress(tf.keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if say and (epoch + 1) % 10 == 0:
                    rate = (time.perf_counter() - started) / (epoch + 1)
                    say(f"  epoch {epoch + 1}/{cfg.epochs}: loss {logs['loss']:.4f} val {logs['val_loss']:.4f} "
                        f"({rate:.2f}s/epoch, at most {rate * (cfg.epochs - epoch - 1):.0f}s left)")

        stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)
        history = self._net.fit(
            {k: v[train] for k, v in feed.items()}, y[train],
            validation_data=({k: v[val] for k, v in feed.items()}, y[val]),
            epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True, verbose=0, callbacks=[stop, Progress()])
        val_loss = history.history["val_loss"]
        self.training = {"epochs_run": len(val_loss), "best_epoch": int(np.argmin(val_loss)) + 1,
                         "best_val_mse_standardised": float(np.min(val_loss)), "train_rows": int(len(train)),
                         "validation_rows": int(n_val), "seconds": round(time.perf_counter() - started, 1)}
        return self

    def predict(self, inputs: EmotionInputs, batch_size: int = 2048) -> np.ndarray:
        """(N, 2) float32 (valence, arousal) in the targets' units."""
        if self._net is None or self.state is None:
            raise RuntimeError("EmotionModel is not fitted")
        if inputs.audio.shape[1] != self.state["n_audio"]:
            raise EmotionInputError(f"model expects {self.state['n_audio']} audio descriptors, "
                                    f"got {inputs.audio.shape[1]}")
        if self.uses_lyrics and (inputs.lyrics is None or inputs.lyrics.shape[1] != self.state["lyrics_len"]):
            got = None if inputs.lyrics is None else inputs.lyrics.shape[1]
            raise EmotionInputError(f"model expects lyrics of {self.state['lyrics_len']} tokens, got {got}")
        if not len(inputs):
            return np.zeros((0, 2), np.float32)
        y = self._net.predict(self._feed(inputs), batch_size=batch_size, verbose=0)
        out = y * np.asarray(self.state["target_std"], np.float32) + np.asarray(self.state["target_mean"], np.float32)
        return out.astype(np.float32)

    def save(self, folder: str | Path) -> Path:
        if self._net is None or self.state is None:
            raise RuntimeError("EmotionModel is not fitted")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = self._net.get_weights()
        np.savez(folder / WEIGHTS_FILE, **{f"w{i:03d}": w for i, w in enumerate(weights)})
        (folder / ARTIFACT_FILE).write_text(json.dumps({
            "format_version": FORMAT_VERSION, "kind": "emotion", "targets": list(TARGETS),
            "config": self.config.model_dump(mode="json"), "state": self.state, "training": self.training,
            "weights": len(weights)}, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "EmotionModel":
        folder = Path(folder)
        try:
            meta = json.loads((folder / ARTIFACT_FILE).read_text())
        except FileNotFoundError as err:
            raise EmotionInputError(f"{folder} holds no {ARTIFACT_FILE}: not an emotion model artifact") from err
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "emotion":
            raise EmotionInputError(f"{folder / ARTIFACT_FILE}: unsupported artifact "
                                    f"(kind {meta.get('kind')!r}, format {meta.get('format_version')!r})")
        model = cls(EmotionConfig.model_validate(meta["config"]))
        model.state, model.training = meta["state"], meta.get("training", {})
        model._net = model._build()
        with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as npz:
            model._net.set_weights([npz[f"w{i:03d}"] for i in range(meta["weights"])])
        return model

    def _build(self):
        assert self.state is not None
        s = self.state
        return _build_network(self.config, s["n_audio"], np.asarray(s["bin_edges"], np.float32), s["lyrics_len"],
                              s["vocab_size"])

    def _feed(self, inputs: EmotionInputs) -> dict[str, np.ndarray]:
        assert self.state is not None
        x = (inputs.audio - np.asarray(self.state["audio_mean"], np.float32)) / np.asarray(
            self.state["audio_std"], np.float32)
        feed = {"audio": x.astype(np.float32)}
        if self.uses_lyrics:
            assert inputs.lyrics is not None
            # a token the training data never had maps to padding: unknown words carry no signal
            feed["lyrics"] = np.where(inputs.lyrics < self.state["vocab_size"], inputs.lyrics, 0).astype(np.int32)
        return feed


# --- the world's tracks ---------------------------------------------------------------------------------------------

def world_inputs(world_dir: str | Path) -> tuple[np.ndarray, EmotionInputs, np.ndarray]:
    """(track_ids (N,), inputs (audio (N, A), lyrics (N, L)), true targets (N, 2)) of a
    world's catalog, ordered by track id. The truth is for training and evaluation only."""
    import pyarrow.parquet as pq

    path = Path(world_dir) / "catalog" / "tracks.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: not a world folder (encore world generate)")
    table = pq.read_table(path, columns=["track_id", "audio", "lyrics", "valence", "arousal"])
    order = np.argsort(table.column("track_id").to_numpy(), kind="stable")
    ids = table.column("track_id").to_numpy()[order]
    audio = _fixed_list_matrix(table.column("audio"), np.float32, path, "audio")[order]
    lyrics = _fixed_list_matrix(table.column("lyrics"), np.int32, path, "lyrics")[order]
    targets = np.stack([table.column(t).to_numpy() for t in TARGETS], axis=1).astype(np.float32)[order]
    return ids.astype(np.int64), EmotionInputs(audio, lyrics), targets


def _fixed_list_matrix(column, dtype, path: Path, name: str) -> np.ndarray:
    lists = column.combine_chunks()
    lengths = np.diff(lists.offsets.to_numpy())
    if len(lengths) and (lengths != lengths[0]).any():
        raise EmotionInputError(f"{path}: column {name!r} needs lists of one length, found "
                                f"{sorted(set(lengths.tolist()))[:5]}")
    width = int(lengths[0]) if len(lengths) else 0
    return lists.flatten().to_numpy(zero_copy_only=False).astype(dtype).reshape(len(lists), width)


def track_emotion(world_dir: str | Path, model: EmotionModel) -> np.ndarray:
    """The model's (valence, arousal) for every track of a world: (n_tracks, 2) float32,
    row ``i`` = track id ``i`` (the world's ids are 0..n-1)."""
    ids, inputs, _ = world_inputs(world_dir)
    if not np.array_equal(ids, np.arange(len(ids))):
        raise EmotionInputError(f"{world_dir}: track ids are not 0..{len(ids) - 1}")
    if not model.uses_lyrics:
        inputs = EmotionInputs(inputs.audio)
    return model.predict(inputs)


def load_promoted_emotion(registry_root: str | Path, name: str | None = None) -> tuple[EmotionModel, Path]:
    """The promoted emotion model (``emotion.registry_name``) and its artifact folder,
    checksums verified."""
    from encore.platform.registry import Registry

    registry = Registry(registry_root)
    name = name or EmotionConfig().registry_name
    version = registry.promoted(name)
    if version is None:
        raise LookupError(f"no promoted {name!r} model in {registry_root}: run `encore train emotion --world W`")
    registry.verify(name, version)
    folder = registry.path(name, version)
    return EmotionModel.load(folder), folder


def predictions_table(track_ids: np.ndarray, predicted: np.ndarray):
    """The ``track_emotion.parquet`` table: track_id, predicted_valence, predicted_arousal."""
    import pyarrow as pa

    return pa.table({"track_id": pa.array(np.asarray(track_ids, np.int64)),
                     "predicted_valence": pa.array(predicted[:, 0].astype(np.float32)),
                     "predicted_arousal": pa.array(predicted[:, 1].astype(np.float32))})

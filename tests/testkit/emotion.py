"""A synthetic catalog for the emotion model's tests: valence is planted in the audio
descriptors only, arousal in the lyrics only, so each branch has to carry its axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from encore.platform.config import EmotionConfig

AUDIO_DIM, LYRICS_LEN = 6, 8
TINY = EmotionConfig(descriptor_dim=4, descriptor_bins=4, conv_filters=4, mlp_units=16, word_dim=8, lstm_units=8,
                     attention_units=8, fusion_units=16, dropout=0.0, epochs=3, batch_size=32, learning_rate=0.01,
                     patience=5, folds=2)


def planted(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(audio (n, 6) float32, lyrics (n, 8) int32, targets (n, 2) float32)."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(n, AUDIO_DIM)).astype(np.float32)
    valence = np.tanh(audio @ np.array([0.8, -0.6, 0.4, 0.0, 0.0, 0.0]))
    energetic = rng.random(n) < 0.5
    arousal = np.where(energetic, 0.7, -0.7) + rng.normal(0, 0.1, n)
    # tokens: 1..10 shared by all, 11..20 energetic words, 21..30 calm words; 0 pads the tail
    own = np.where(energetic[:, None], 11, 21) + rng.integers(0, 10, (n, LYRICS_LEN))
    shared = 1 + rng.integers(0, 10, (n, LYRICS_LEN))
    lyrics = np.where(rng.random((n, LYRICS_LEN)) < 0.5, own, shared)
    lengths = rng.integers(4, LYRICS_LEN + 1, n)
    lyrics[np.arange(LYRICS_LEN)[None, :] >= lengths[:, None]] = 0
    return audio, lyrics.astype(np.int32), np.stack([valence, arousal], 1).astype(np.float32)


def write_catalog(world_dir: Path, n: int, seed: int = 0) -> np.ndarray:
    """``<world_dir>/catalog/tracks.parquet`` with the columns the emotion model reads,
    rows shuffled (the reader orders by track id); returns the targets by track id."""
    audio, lyrics, targets = planted(n, seed)
    order = np.random.default_rng(seed + 1).permutation(n)

    def lists(matrix: np.ndarray, kind: pa.DataType) -> pa.Array:
        offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
        return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel(), type=kind))

    table = pa.table({"track_id": order.astype(np.int64), "audio": lists(audio[order], pa.float32()),
                      "lyrics": lists(lyrics[order], pa.int32()), "valence": targets[order, 0],
                      "arousal": targets[order, 1]})
    (world_dir / "catalog").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, world_dir / "catalog" / "tracks.parquet")
    return targets

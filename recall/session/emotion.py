"""Where the session GNN reads each track's emotion vector from: one small interface, so
the catalog's true values (the ablation reference, and what the world plants) can be
swapped for the emotion model's predicted vectors.

``emotion_table(source, world_dir, num_items)`` -> (N + 1, E) float32, row = item id =
track_id + 1 (row 0, the padding item, zeros):

* ``catalog``: the world catalog's true (valence, arousal) in [-1, 1];
* ``audio``: the catalog's audio descriptors (each standardised) — what a model can see
  without the true labels;
* ``predicted:<path>``: a file of predicted vectors, ``.npz`` with ``track_id`` (n,) and
  ``valence`` / ``arousal`` (n,) or ``.parquet`` with those columns, or the emotion
  model's ``track_emotion.parquet`` (``predicted_valence`` / ``predicted_arousal``; in
  the registry folder of the promoted ``emotion`` model, ``encore train emotion``);
  tracks it lacks get (0, 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from encore.platform.data.common import DataFileError

SOURCES = ("catalog", "audio", "predicted:<path>")


def emotion_table(source: str, world_dir: Path | str, num_items: int) -> np.ndarray:
    """The (N + 1, E) table of a world's catalog, item = track_id + 1."""
    import pandas as pd

    tracks = pd.read_parquet(Path(world_dir) / "catalog" / "tracks.parquet")
    return emotion_from_tracks(tracks, source, np.arange(num_items, dtype=np.int64))


def emotion_from_tracks(tracks, source: str, track_ids: np.ndarray) -> np.ndarray:
    """The (len(track_ids) + 1, E) table: row j + 1 is ``track_ids[j]``'s vector (zeros
    where the source has none), row 0 zeros."""
    ids = tracks["track_id"].to_numpy(dtype=np.int64)
    if source == "catalog":
        if not {"valence", "arousal"} <= set(tracks.columns):
            raise ValueError("emotion source 'catalog' needs valence and arousal columns in the catalog")
        values = tracks[["valence", "arousal"]].to_numpy(dtype=np.float32)
    elif source == "audio":
        audio = np.stack(tracks["audio"].to_numpy()).astype(np.float32)
        values = (audio - audio.mean(axis=0)) / np.maximum(audio.std(axis=0), 1e-6)
    elif source.startswith("predicted:"):
        ids, values = _predicted(Path(source.split(":", 1)[1]))
    else:
        raise ValueError(f"unknown emotion source {source!r}; known: {SOURCES}")
    track_ids = np.asarray(track_ids, np.int64)
    table = np.zeros((len(track_ids) + 1, values.shape[1]), np.float32)
    order = np.argsort(track_ids)
    pos = np.clip(np.searchsorted(track_ids[order], ids), 0, max(len(track_ids) - 1, 0))
    keep = track_ids[order][pos] == ids if len(track_ids) else np.zeros(len(ids), bool)
    table[order[pos[keep]] + 1] = values[keep]
    return table


def _predicted(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            frame = {k: data[k] for k in data.files}
    elif path.suffix == ".parquet":
        df = pd.read_parquet(path)
        frame = {c: df[c].to_numpy() for c in df.columns}
    else:
        raise DataFileError(path, "predicted emotion must be a .npz or .parquet file")
    # the emotion model's track_emotion.parquet names them predicted_valence / predicted_arousal
    for axis in ("valence", "arousal"):
        if axis not in frame and f"predicted_{axis}" in frame:
            frame[axis] = frame[f"predicted_{axis}"]
    missing = [c for c in ("track_id", "valence", "arousal") if c not in frame]
    if missing:
        raise DataFileError(path, f"lacks {missing}")
    return (np.asarray(frame["track_id"], np.int64),
            np.stack([frame["valence"], frame["arousal"]], axis=1).astype(np.float32))

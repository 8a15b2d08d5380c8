"""emoMusic ("1000 Songs"): human arousal/valence ratings of 744 song clips.

Files under ``<data_dir>/emomusic/``:

- ``static_annotations.csv``: plain comma-separated, header
  ``song_id,mean_arousal,std_arousal,mean_valence,std_valence``; one row per song with
  the mean and standard deviation of its ratings on a 1..9 scale. 744 rows.
- ``songs_info.csv``: quoted comma-separated, header ``song_id, file_name, Artist,
  Song title, start of the segment (min.sec), end of the segment (min.sec), Genre,
  Mediaeval 2013 set``. Text fields carry stray tabs and spaces, which are stripped.
  Segment times are ``minutes.seconds`` whose trailing zero the source dropped
  ("0.2" is 0:20); they become whole seconds.

Validation: song ids are unique non-negative integers; mean ratings are in [1, 9] and
standard deviations in [0, 8]; every annotated song has exactly one info row; segment
times are ``m`` or ``m.s``/``m.ss`` with seconds below 60. The result joins both files
on song_id with snake_case columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from encore.platform.data.common import (
    DataFileError,
    PathLike,
    first_bad,
    float_column,
    int_column,
    read_csv,
    read_delimited,
    resolve_data_dir,
)

DIRNAME = "emomusic"
ANNOTATIONS_FILE = "static_annotations.csv"
INFO_FILE = "songs_info.csv"

ANNOTATION_COLUMNS = ("song_id", "mean_arousal", "std_arousal", "mean_valence", "std_valence")
INFO_COLUMNS = {
    "song_id": "song_id",
    "file_name": "file_name",
    "Artist": "artist",
    "Song title": "title",
    "start of the segment (min.sec)": "segment_start_s",
    "end of the segment (min.sec)": "segment_end_s",
    "Genre": "genre",
    "Mediaeval 2013 set": "mediaeval_2013_set",
}
RATING_LOW, RATING_HIGH = 1.0, 9.0


@dataclass(frozen=True, eq=False)
class EmoMusic:
    """One row per rated song: ratings joined with artist, title, genre and segment
    (treat the frame as read-only)."""

    folder: Path
    songs: pd.DataFrame

    @property
    def num_songs(self) -> int:
        return len(self.songs)


def _unique_ids(path: Path, ids: pd.Series, where: str) -> None:
    repeated = ids.duplicated()
    if repeated.any():
        label = first_bad(repeated)
        raise DataFileError(path, f"song_id {ids[label]} appears more than once", f"{where} {label}")


def _read_annotations(path: Path) -> pd.DataFrame:
    raw = read_delimited(path, ANNOTATION_COLUMNS, ",", header=ANNOTATION_COLUMNS)
    frame = pd.DataFrame({"song_id": int_column(raw, "song_id", path)})
    for column in ANNOTATION_COLUMNS[1:]:
        low, high = (RATING_LOW, RATING_HIGH) if column.startswith("mean") else (0.0, RATING_HIGH - RATING_LOW)
        frame[column] = float_column(raw, column, path, low, high)
    _unique_ids(path, frame["song_id"], "line")
    return frame


def _segment_seconds(path: Path, text: pd.Series, column: str) -> pd.Series:
    parts = text.str.extract(r"^(\d+)(?:\.(\d{1,2}))?$")
    seconds = pd.to_numeric(parts[1].fillna("0").str.ljust(2, "0"), errors="coerce")
    bad = parts[0].isna() | (seconds >= 60)
    if bad.any():
        label = first_bad(bad)
        raise DataFileError(
            path, f"column {column!r}: expected minutes.seconds, found {text[label]!r}", f"row {label}"
        )
    return (parts[0].astype("int64") * 60 + seconds).astype("int64")


def _read_info(path: Path) -> pd.DataFrame:
    raw = read_csv(path, dtype=str, keep_default_na=False)
    raw.columns = [str(column).strip() for column in raw.columns]
    missing = [column for column in INFO_COLUMNS if column not in raw.columns]
    if missing:
        raise DataFileError(path, f"missing column(s) {', '.join(missing)}", "line 1")
    raw = raw[list(INFO_COLUMNS)].apply(lambda column: column.str.strip())
    raw = raw.rename(columns=INFO_COLUMNS).set_axis(range(1, len(raw) + 1))
    raw["song_id"] = int_column(raw, "song_id", path, where="row")
    for column in ("segment_start_s", "segment_end_s"):
        raw[column] = _segment_seconds(path, raw[column], column)
    _unique_ids(path, raw["song_id"], "row")
    return raw


def load_emomusic(data_dir: PathLike | None = None) -> EmoMusic:
    """Load, validate and join the two files under ``<data_dir>/emomusic/``."""
    folder = resolve_data_dir(data_dir) / DIRNAME
    annotations = _read_annotations(folder / ANNOTATIONS_FILE)
    info = _read_info(folder / INFO_FILE)
    unmatched = ~annotations["song_id"].isin(info["song_id"])
    if unmatched.any():
        label = first_bad(unmatched)
        raise DataFileError(
            folder / ANNOTATIONS_FILE,
            f"song_id {annotations['song_id'][label]} has no row in {INFO_FILE}", f"line {label}",
        )
    songs = annotations.merge(info, on="song_id", how="left", validate="one_to_one")
    return EmoMusic(folder=folder, songs=songs)

"""Spotify audio features of 10,000 tracks, with the two emotion axes.

File: ``<data_dir>/spotify-features/spotify_tracks.csv``, comma-separated with quoted
text, header ``,id,name,preview_url,artist,duration,popularity,release_date,valence,
danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,
liveness,tempo`` (the unnamed first column is a row counter and is dropped).
Valence (positivity) and energy (a proxy for arousal) are the emotion axes.

Handling, reported in the result: rows lacking id, duration or popularity are dropped
(11 rows); then repeated track ids keep their first row (10,000 rows -> 9,025 tracks).
Validation on the kept rows: every required column exists; valence, energy,
danceability, speechiness, acousticness, instrumentalness and liveness are in [0, 1];
key is an integer in -1..11, mode 0 or 1, popularity 0..100; duration (ms) and tempo
are >= 0; loudness is a number; release_date is empty, ``YYYY``, ``YYYY-MM`` or
``YYYY-MM-DD``. Errors name the 1-based data row (header excluded).

Derived column ``release_year`` (float64): the date's year, NaN where the date is empty
or its year is ``0000`` (Spotify's marker for an unknown date; one track of the
file). Users fill it (``encore.recall.emotion_bench`` uses the training fold's median);
``SpotifyTracks.release_year_missing`` counts the NaNs.
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
    resolve_data_dir,
)

DIRNAME = "spotify-features"
TRACKS_FILE = "spotify_tracks.csv"

TEXT_COLUMNS = ("id", "name", "preview_url", "artist", "release_date")
UNIT_COLUMNS = (
    "valence", "energy", "danceability", "speechiness", "acousticness",
    "instrumentalness", "liveness",
)
# column -> (low, high) for whole-number columns
INT_COLUMNS = {"key": (-1, 11), "mode": (0, 1), "popularity": (0, 100), "duration": (0, None)}
REQUIRED_COLUMNS = TEXT_COLUMNS + UNIT_COLUMNS + tuple(INT_COLUMNS) + ("loudness", "tempo")
EMOTION_COLUMNS = ("valence", "energy")  # energy stands in for arousal
RELEASE_DATE = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?"  # year, year-month or a full date


@dataclass(frozen=True, eq=False)
class SpotifyTracks:
    """One row per unique track id (treat the frame as read-only)."""

    path: Path
    tracks: pd.DataFrame
    rows_read: int
    incomplete_dropped: int
    duplicates_dropped: int

    @property
    def num_tracks(self) -> int:
        return len(self.tracks)

    @property
    def release_year_missing(self) -> int:
        return int(self.tracks["release_year"].isna().sum())


def _release_year(path: Path, rows: pd.DataFrame) -> pd.Series:
    """``release_date`` -> its year as float64 (NaN: no date, or the year ``0000``)."""
    dates = rows["release_date"].fillna("").str.strip()
    ok = dates.eq("") | dates.str.fullmatch(RELEASE_DATE)
    if not ok.all():
        label = first_bad(~ok)
        raise DataFileError(
            path, f"column 'release_date': expected YYYY, YYYY-MM or YYYY-MM-DD, "
            f"found {rows['release_date'][label]!r}", f"row {label}",
        )
    years = pd.to_numeric(dates.str[:4], errors="coerce")
    return years.where(years > 0).astype("float64")


def _check_ranges(path: Path, rows: pd.DataFrame) -> pd.DataFrame:
    checked = rows.copy()
    for column in UNIT_COLUMNS:
        checked[column] = float_column(rows, column, path, 0.0, 1.0, where="row")
    for column, (low, high) in INT_COLUMNS.items():
        values = int_column(rows, column, path, where="row", minimum=low)
        if high is not None and (values > high).any():
            label = first_bad(values > high)
            raise DataFileError(
                path, f"column {column!r}: expected at most {high}, found {values[label]}",
                f"row {label}",
            )
        checked[column] = values
    checked["tempo"] = float_column(rows, "tempo", path, 0.0, float("inf"), where="row")
    checked["loudness"] = float_column(rows, "loudness", path, -float("inf"), float("inf"), where="row")
    checked["release_year"] = _release_year(path, rows)
    return checked


def load_spotify(data_dir: PathLike | None = None) -> SpotifyTracks:
    """Load, validate and de-duplicate ``<data_dir>/spotify-features/spotify_tracks.csv``."""
    path = resolve_data_dir(data_dir) / DIRNAME / TRACKS_FILE
    raw = read_csv(path, dtype={column: str for column in TEXT_COLUMNS})
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise DataFileError(
            path, f"missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, raw.columns))}", "line 1",
        )
    kept = [column for column in raw.columns if column in REQUIRED_COLUMNS]  # file order
    raw = raw[kept].set_axis(range(1, len(raw) + 1))
    complete = raw[["id", "duration", "popularity"]].notna().all(axis=1) & raw["id"].str.strip().ne("")
    rows = _check_ranges(path, raw[complete])
    unique = rows.drop_duplicates(subset="id", keep="first")
    return SpotifyTracks(
        path=path,
        tracks=unique.reset_index(drop=True),
        rows_read=len(raw),
        incomplete_dropped=int((~complete).sum()),
        duplicates_dropped=len(rows) - len(unique),
    )

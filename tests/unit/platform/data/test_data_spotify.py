from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from encore.platform.data.common import DataFileError
from encore.platform.data.spotify import SpotifyTracks, load_spotify


@pytest.fixture(scope="module")
def real(shared_data_dir: Path) -> SpotifyTracks:
    return load_spotify(shared_data_dir)


@pytest.mark.realdata
def test_real_file_counts_and_handling(real: SpotifyTracks) -> None:
    assert real.rows_read == 10_000
    assert real.incomplete_dropped == 11
    assert real.num_tracks == 9_025
    assert real.duplicates_dropped == 10_000 - 11 - 9_025
    assert real.tracks["id"].is_unique
    assert real.release_year_missing == 1  # one track dated 0000
    assert real.tracks["release_year"].dropna().between(1900, 2030).all()
    for axis in ("valence", "energy"):
        assert real.tracks[axis].between(0, 1).all()


def test_tiny_file_drops_incomplete_rows_and_repeated_ids(tiny_data_dir: Path) -> None:
    loaded = load_spotify(tiny_data_dir)
    assert (loaded.rows_read, loaded.incomplete_dropped, loaded.duplicates_dropped) == (4, 1, 1)
    assert loaded.tracks["id"].tolist() == ["aaa", "bbb"]
    assert loaded.tracks["name"][0] == "Song, with comma"  # the first row of a repeated id wins
    assert loaded.tracks["popularity"].dtype == "int64"
    assert loaded.tracks["release_year"].tolist() == [2021.0, 2006.0] and loaded.release_year_missing == 0


@pytest.mark.parametrize(("date", "year"), [("2006", 2006.0), ("2006-03", 2006.0), ("0000", None), ("", None)])
def test_release_year_of_each_date_form(tiny_data_dir: Path, date: str, year: float | None) -> None:
    _edit(tiny_data_dir, ",2006-03-29,", f",{date},")
    loaded = load_spotify(tiny_data_dir)
    got = loaded.tracks["release_year"][1]
    assert (got == year) if year is not None else (pd.isna(got) and loaded.release_year_missing == 1)


def _edit(root: Path, old: str, new: str) -> Path:
    path = root / "spotify-features" / "spotify_tracks.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (",valence,", ",val,", "line 1: missing required column.*valence"),
        ("0.746", "1.746", r"row 2: column 'valence': expected a number in \[0, 1\]"),
        ("0.679", "loud", r"row 2: column 'energy': expected a number in \[0, 1\], found 'loud'"),
        ("72.0", "172.0", "row 2: column 'popularity': expected at most 100"),
        (",4,-3.881", ",4.5,-3.881", "row 2: column 'key': expected an integer"),
        (",2006-03-29,", ",29/03/2006,", "row 2: column 'release_date': expected YYYY, YYYY-MM or YYYY-MM-DD, "
                                         "found '29/03/2006'"),
    ],
    ids=["missing-column", "valence-out-of-range", "energy-not-a-number", "popularity", "key", "release-date"],
)
def test_malformed_file_is_named(tiny_data_dir: Path, old: str, new: str, problem: str) -> None:
    path = _edit(tiny_data_dir, old, new)
    with pytest.raises(DataFileError, match=problem) as info:
        load_spotify(tiny_data_dir)
    assert str(path) in str(info.value)

from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.data.common import DataFileError
from encore.platform.data.emomusic import EmoMusic, load_emomusic


@pytest.fixture(scope="module")
def real(shared_data_dir: Path) -> EmoMusic:
    return load_emomusic(shared_data_dir)


@pytest.mark.realdata
def test_real_files_join_744_songs_with_clean_text(real: EmoMusic) -> None:
    assert real.num_songs == 744
    songs = real.songs
    assert songs["song_id"].is_unique
    for column in ("mean_arousal", "mean_valence"):
        assert songs[column].between(1, 9).all()
    for column in ("file_name", "artist", "title", "genre"):
        assert not songs[column].str.contains(r"^\s|\s$").any()
    assert ((songs["segment_end_s"] - songs["segment_start_s"]) == 45).all()


def test_tiny_files_join_and_strip(tiny_data_dir: Path) -> None:
    songs = load_emomusic(tiny_data_dir).songs
    first = songs.iloc[0].to_dict()
    assert first["artist"] == "The Band" and first["title"] == "Tonight" and first["genre"] == "Blues"
    assert songs["segment_start_s"].tolist() == [48, 20]  # "0.2" is 0:20
    assert songs["segment_end_s"].tolist() == [93, 65]


@pytest.mark.parametrize(
    ("file", "old", "new", "problem"),
    [
        ("static_annotations.csv", "3,3.5,", "3,12,",
         r"line 3: column 'mean_arousal': expected a number in \[1, 9\], found '12'"),
        ("static_annotations.csv", "0.66667", "-1", "line 2: column 'std_valence'"),
        ("static_annotations.csv", "3,3.5,1.8409,3.3", "3,3.5,1.8409", "line 3: expected 5 ','-separated fields"),
        ("static_annotations.csv", "3,3.5,", "2,3.5,", "line 3: song_id 2 appears more than once"),
        ("static_annotations.csv", "3,3.5,", "4,3.5,", "line 3: song_id 4 has no row in songs_info.csv"),
        ("songs_info.csv", '"\t0.2\t"', '"\t0.75\t"', "row 2: column 'segment_start_s': expected minutes.seconds"),
        ("songs_info.csv", '"Genre",', '"Style",', "line 1: missing column.*Genre"),
    ],
    ids=["rating-12", "negative-std", "short-line", "repeated-id", "unmatched-id", "bad-segment", "missing-column"],
)
def test_malformed_files_are_named(
    tiny_data_dir: Path, file: str, old: str, new: str, problem: str
) -> None:
    path = tiny_data_dir / "emomusic" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(DataFileError, match=problem) as info:
        load_emomusic(tiny_data_dir)
    assert str(path) in str(info.value)

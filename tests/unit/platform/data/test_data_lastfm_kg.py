from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.data.common import DataFileError
from encore.platform.data.lastfm_kg import LastfmKG, load_lastfm_kg


@pytest.fixture(scope="module")
def real(shared_data_dir: Path) -> LastfmKG:
    return load_lastfm_kg(shared_data_dir)


@pytest.mark.realdata
def test_real_files_have_the_published_counts(real: LastfmKG) -> None:
    assert len(real.user_artists) == 92_834
    assert (real.num_users, real.num_artists) == (1_892, 17_632)
    assert (real.num_triples, real.num_entities, real.num_relations) == (15_518, 9_366, 60)
    assert real.num_mapped_artists == 3_846
    assert "music.artist.origin" in set(real.kg["relation"])
    assert real.user_artists["weight"].dtype == "int64" and real.user_artists["weight"].min() >= 0


def test_tiny_valid_files_load(tiny_data_dir: Path) -> None:
    loaded = load_lastfm_kg(tiny_data_dir)
    assert list(loaded.user_artists.columns) == ["user_id", "artist_id", "weight"]
    assert loaded.kg.to_dict("records")[0] == {"head": 0, "relation": "music.artist.origin", "tail": 2}
    assert loaded.describe()["entities"] == 4 and loaded.num_mapped_artists == 2


@pytest.mark.parametrize(
    ("file", "line_no", "text", "problem"),
    [
        ("kg.txt", 2, "1\tfilm.actor.film\t3\textra", r"line 2: expected 3 '\\t'-separated fields"),
        ("kg.txt", 1, "0\tmusic.artist.origin", r"line 1: expected 3 '\\t'-separated fields"),
        ("kg.txt", 2, "1\t\t3", "line 2: expected a non-empty relation name"),
        ("kg.txt", 1, "x\tmusic.artist.origin\t2", "line 1: column 'head': expected an integer"),
        ("user_artists.dat", 3, "2\t52\t11.5", "line 3: column 'weight': expected an integer, found '11.5'"),
        ("user_artists.dat", 4, "3\t51\t-7", "line 4: column 'weight': expected an integer >= 0"),
        ("user_artists.dat", 1, "user\tartist\tweight", "line 1: expected header"),
        ("item_index2entity_id.txt", 2, "51\t1", "line 2: expected each artist_id once"),
    ],
    ids=["kg-extra-field", "kg-missing-field", "kg-empty-relation", "kg-bad-head",
         "non-integer-weight", "negative-weight", "bad-header", "duplicate-artist"],
)
def test_malformed_files_are_named(
    tiny_data_dir: Path, file: str, line_no: int, text: str, problem: str
) -> None:
    path = tiny_data_dir / "lastfm-kg" / file
    lines = path.read_text().splitlines()
    lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError, match=problem) as info:
        load_lastfm_kg(tiny_data_dir)
    assert str(path) in str(info.value)


def test_a_missing_file_is_named(tiny_data_dir: Path) -> None:
    (tiny_data_dir / "lastfm-kg" / "kg.txt").unlink()
    with pytest.raises(DataFileError, match="kg.txt: cannot be read"):
        load_lastfm_kg(tiny_data_dir)

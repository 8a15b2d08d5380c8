"""A tiny, valid copy of every shared data set's layout, written to tmp_path, for the
corruption tests: each test breaks one file and expects a DataFileError naming it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

SPOTIFY_HEADER = (
    ",id,name,preview_url,artist,duration,popularity,release_date,valence,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,tempo"
)
SPOTIFY_ROWS = [
    '0,aaa,"Song, with comma",,art1,125256.0,76.0,2021-08-25,'
    "0.589,0.783,0.472,2,-8.392,1,0.0427,0.22,0.000458,0.0798,122.052",
    "1,bbb,Second,http://x,art2,167680.0,72.0,2006-03-29,0.746,0.596,0.679,4,-3.881,0,0.0324,0.18,0.0,0.0938,110.464",
    "2,,,,,,,,0.0,0.0,0.0,0,0.0,0,0.0,0.0,0.0,0.0,0.0",
    "3,aaa,Song again,,art1,125256.0,70.0,2021-08-25,0.5,0.7,0.4,2,-8.0,1,0.04,0.2,0.0,0.07,122.0",
]
EMO_ANNOTATIONS = [
    "song_id,mean_arousal,std_arousal,mean_valence,std_valence",
    "2,3.1,0.99443,3,0.66667",
    "3,3.5,1.8409,3.3,1.7029",
]
EMO_INFO = [
    '"song_id","file_name","Artist","Song title","start of the segment (min.sec)",'
    '"end of the segment (min.sec)","Genre","Mediaeval 2013 set"',
    '2,"\t2.mp3","The Band\t","\tTonight\t","\t0.48\t","\t1.33\t","\tBlues\t","development"',
    '3,"\t3.mp3","Kevin MacLeod\t","\tDD Groove\t","\t0.2\t","\t1.05\t","\tRock\t","evaluation"',
]


def write_lines(path: Path, lines: list[str], end: str = "\n") -> None:
    path.write_text(end.join(lines) + end)


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for name in ("nowplaying", "lastfm-kg", "spotify-features", "emomusic"):
        (root / name).mkdir(parents=True)
    (root / "nowplaying" / "all_train_seq.txt").write_bytes(
        pickle.dumps([[1, 2], [3, 4, 5], [2, 6]], protocol=3)
    )
    kg = root / "lastfm-kg"
    write_lines(kg / "user_artists.dat", ["userID\tartistID\tweight", "2\t51\t13883", "2\t52\t11690", "3\t51\t7"])
    write_lines(kg / "kg.txt", ["0\tmusic.artist.origin\t2", "1\tfilm.actor.film\t3"], end="\r\n")
    write_lines(kg / "item_index2entity_id.txt", ["51\t0", "52\t1"], end="\r\n")
    write_lines(root / "spotify-features" / "spotify_tracks.csv", [SPOTIFY_HEADER, *SPOTIFY_ROWS])
    write_lines(root / "emomusic" / "static_annotations.csv", EMO_ANNOTATIONS)
    write_lines(root / "emomusic" / "songs_info.csv", EMO_INFO)
    return root

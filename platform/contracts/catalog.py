"""The catalog tables and the music knowledge graph, as every consumer reads them.

A catalog folder holds ``artists.parquet``, ``albums.parquet``, ``tracks.parquet`` and
``shows.parquet`` (TV shows and variety seasons whose soundtracks tie tracks and
artists together); the knowledge graph is a table of (head, relation, tail) triples
whose entities are typed ids such as ``track:12`` or ``show:3``. The simulated world
writes them under ``<world>/catalog`` and ``<world>/kg``; batch jobs and models read
them from the configured catalog folder.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

SHOW_KINDS = ("soundtrack_show", "variety_season")

ARTISTS = pa.schema([
    ("artist_id", pa.int64()), ("name", pa.string()), ("genre", pa.string()),
    ("language", pa.string()), ("origin", pa.string()), ("popularity", pa.float64()),
])
ALBUMS = pa.schema([
    ("album_id", pa.int64()), ("artist_id", pa.int64()), ("release_year", pa.int32()),
    ("genre", pa.string()),
])
TRACKS = pa.schema([
    ("track_id", pa.int64()), ("album_id", pa.int64()), ("artist_id", pa.int64()),
    ("genre", pa.string()), ("language", pa.string()), ("release_year", pa.int32()),
    ("duration_ms", pa.int64()), ("popularity", pa.float32()), ("valence", pa.float32()),
    ("arousal", pa.float32()), ("audio", pa.list_(pa.float32())),
    ("lyrics", pa.list_(pa.int32())), ("show_id", pa.int64()),
])
SHOWS = pa.schema([("show_id", pa.int64()), ("kind", pa.string()), ("name", pa.string())])
TRIPLES = pa.schema([("head", pa.string()), ("relation", pa.string()), ("tail", pa.string())])

#: File name of each catalog table inside a catalog folder.
CATALOG_FILES: dict[str, pa.Schema] = {
    "artists.parquet": ARTISTS,
    "albums.parquet": ALBUMS,
    "tracks.parquet": TRACKS,
    "shows.parquet": SHOWS,
}


def tracks_file(catalog_dir: Path) -> Path:
    return Path(catalog_dir) / "tracks.parquet"

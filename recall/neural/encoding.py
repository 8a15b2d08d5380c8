"""``Vocabulary`` and ``encode_queries``: Queries and catalog tracks as the integer and
float arrays the neural recall models read.

Every vocabulary keeps code 0 for "padding / unknown", so an unseen genre, region or
track is a zero embedding rather than an error. Track codes are the catalog's dense
columns + 1 (1..n); the catalog attributes of each track code (artist, album, genre,
language) are arrays aligned with the codes, so the item tower needs only track codes.

``encode_queries(queries, vocab, history_length, session_length)`` returns, for B
queries (one function for training and serving, so both read the same thing):

====================  ==========  =======  =================================================
key                   shape       dtype    contents
====================  ==========  =======  =================================================
``history``           (B, T)      int32    last T play_starts, oldest first, 0-padded at the end
``session``           (B, S)      int32    last S tracks of the current session, same layout
``genres``            (B, G)      int32    profile genres; ``genre_weights`` (B, G) float32
``languages``         (B, L)      int32    profile languages; ``language_weights``
``artists``           (B, A)      int32    profile artists; ``artist_weights``
``age`` / ``region``  (B,)        int32    profile age bucket / region
``hour``              (B,)        int32    local hour of the request (0..23)
``scenario``          (B,)        int32    request scenario (vocabulary order + 1; 0 unknown)
``activity``          (B, 3)      float32  log1p(plays_30d), skip_rate_30d, active_days_30d / 30
====================  ==========  =======  =================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from encore.platform.contracts.vocabulary import SCENARIOS
from encore.recall.query import Query

PROFILE_GENRES = 5
PROFILE_LANGUAGES = 3
PROFILE_ARTISTS = 10
SCENARIO_NAMES = tuple(SCENARIOS)


def _string_vocab(values) -> np.ndarray:
    """Sorted distinct non-empty strings as a fixed-width unicode array (no pickles)."""
    distinct = sorted({str(v) for v in values if isinstance(v, str) and v})
    return np.asarray(distinct, dtype=np.str_) if distinct else np.zeros(0, dtype="<U1")


def _codes(vocab: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based code of each value in the sorted ``vocab``; 0 when absent."""
    if not len(vocab) or not len(values):
        return np.zeros(len(values), np.int32)
    pos = np.clip(np.searchsorted(vocab, values), 0, len(vocab) - 1)
    return np.where(vocab[pos] == values, pos + 1, 0).astype(np.int32)


@dataclass(frozen=True)
class Vocabulary:
    """Catalog and profile vocabularies (see the module docstring); ``arrays`` saves it
    with a channel and ``from_arrays`` restores it."""

    track_ids: np.ndarray  # (n,) int64, sorted: code c <-> track_ids[c - 1]
    track_artist: np.ndarray  # (n + 1,) int32 artist code of each track code (0 at 0)
    track_album: np.ndarray  # (n + 1,) int32
    track_genre: np.ndarray  # (n + 1,) int32
    track_language: np.ndarray  # (n + 1,) int32
    artist_ids: np.ndarray  # (n_artists,) int64 sorted
    album_ids: np.ndarray  # (n_albums,) int64 sorted
    genres: np.ndarray  # unicode, sorted
    languages: np.ndarray
    regions: np.ndarray
    age_buckets: np.ndarray

    FIELDS = ("track_ids", "track_artist", "track_album", "track_genre", "track_language", "artist_ids",
              "album_ids", "genres", "languages", "regions", "age_buckets")

    @classmethod
    def fit(cls, tracks: pd.DataFrame, users: pd.DataFrame | None) -> "Vocabulary":
        """From the catalog (track_id, artist_id, genre, language[, album_id]) and the
        users table (age_bucket, region), when there is one."""
        tracks = tracks.drop_duplicates("track_id").sort_values("track_id")
        track_ids = tracks["track_id"].to_numpy(np.int64)
        artists = np.unique(tracks["artist_id"].to_numpy(np.int64))
        albums = (np.unique(tracks["album_id"].dropna().to_numpy(np.int64)) if "album_id" in tracks
                  else np.zeros(0, np.int64))
        genres = _string_vocab(tracks["genre"])
        languages = _string_vocab(tracks["language"])

        def per_track(codes: np.ndarray) -> np.ndarray:
            return np.r_[0, codes].astype(np.int32)

        album_col = (_codes(albums, tracks["album_id"].fillna(-1).to_numpy(np.int64)) if "album_id" in tracks
                     else np.zeros(len(tracks), np.int32))
        return cls(
            track_ids=track_ids,
            track_artist=per_track(_codes(artists, tracks["artist_id"].to_numpy(np.int64))),
            track_album=per_track(album_col),
            track_genre=per_track(_codes(genres, tracks["genre"].astype(str).to_numpy(np.str_))),
            track_language=per_track(_codes(languages, tracks["language"].astype(str).to_numpy(np.str_))),
            artist_ids=artists, album_ids=albums, genres=genres, languages=languages,
            regions=_string_vocab(users["region"]) if users is not None and "region" in users
            else np.zeros(0, "<U1"),
            age_buckets=_string_vocab(users["age_bucket"]) if users is not None and "age_bucket" in users
            else np.zeros(0, "<U1"),
        )

    @property
    def n_tracks(self) -> int:
        return len(self.track_ids)

    def sizes(self) -> dict[str, int]:
        """Embedding table sizes (including code 0) of each vocabulary."""
        return {"track": self.n_tracks + 1, "artist": len(self.artist_ids) + 1, "album": len(self.album_ids) + 1,
                "genre": len(self.genres) + 1, "language": len(self.languages) + 1,
                "region": len(self.regions) + 1, "age": len(self.age_buckets) + 1,
                "scenario": len(SCENARIO_NAMES) + 1, "hour": 24}

    def track_codes(self, track_ids: np.ndarray) -> np.ndarray:
        """Code (1..n) of each track id; 0 for a track outside the catalog."""
        return _codes(self.track_ids, np.asarray(track_ids, dtype=np.int64))

    def arrays(self, prefix: str = "vocab_") -> dict[str, np.ndarray]:
        return {prefix + name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "vocab_") -> "Vocabulary":
        return cls(**{name: arrays[prefix + name] for name in cls.FIELDS})


def _padded(seqs: Sequence[np.ndarray], width: int) -> np.ndarray:
    """The last ``width`` entries of each sequence, left-aligned, 0-padded: (B, width)."""
    out = np.zeros((len(seqs), width), np.int32)
    for i, s in enumerate(seqs):
        tail = s[-width:]
        out[i, :len(tail)] = tail
    return out


def _weighted(values: Sequence[tuple], weights: Sequence[tuple], codes_of, width: int
              ) -> tuple[np.ndarray, np.ndarray]:
    codes = np.zeros((len(values), width), np.int32)
    w = np.zeros((len(values), width), np.float32)
    for i, (vals, ws) in enumerate(zip(values, weights)):
        vals, ws = vals[:width], ws[:width]
        if vals:
            codes[i, :len(vals)] = codes_of(np.asarray(vals))
            w[i, :len(ws)] = ws
    return codes, w * (codes > 0)


def encode_queries(queries: Sequence[Query], vocab: Vocabulary, history_length: int,
                   session_length: int) -> dict[str, np.ndarray]:
    """The arrays of the module docstring for ``queries`` (B >= 0)."""
    history = _padded([vocab.track_codes(np.asarray(q.play_track_ids, np.int64)) for q in queries],
                      history_length)
    # unknown tracks (code 0) would read as padding in the middle: drop them first
    history = _compact(history)
    session = _compact(_padded([vocab.track_codes(np.asarray(q.session.track_ids, np.int64)) for q in queries],
                               session_length))
    profiles = [q.profile for q in queries]
    genres, genre_w = _weighted([p.genres for p in profiles], [p.genre_weights for p in profiles],
                                lambda v: _codes(vocab.genres, v.astype(np.str_)), PROFILE_GENRES)
    langs, lang_w = _weighted([p.languages for p in profiles], [p.language_weights for p in profiles],
                              lambda v: _codes(vocab.languages, v.astype(np.str_)), PROFILE_LANGUAGES)
    artists, artist_w = _weighted([p.artist_ids for p in profiles], [p.artist_weights for p in profiles],
                                  lambda v: _codes(vocab.artist_ids, v.astype(np.int64)), PROFILE_ARTISTS)
    scenario_code = {name: i + 1 for i, name in enumerate(SCENARIO_NAMES)}
    return {
        "history": history, "session": session,
        "genres": genres, "genre_weights": genre_w,
        "languages": langs, "language_weights": lang_w,
        "artists": artists, "artist_weights": artist_w,
        "age": _codes(vocab.age_buckets, np.asarray([p.age_bucket for p in profiles], dtype=np.str_)),
        "region": _codes(vocab.regions, np.asarray([p.region for p in profiles], dtype=np.str_)),
        "hour": np.asarray([q.context.local_hour % 24 for q in queries], np.int32),
        "scenario": np.asarray([scenario_code.get(q.context.scenario, 0) for q in queries], np.int32),
        "activity": np.asarray([[np.log1p(p.plays_30d), p.skip_rate_30d, p.active_days_30d / 30.0]
                                for p in profiles], np.float32).reshape(len(queries), 3),
    }


def _compact(codes: np.ndarray) -> np.ndarray:
    """Each row's non-zero codes moved to the front (order kept), zeros after."""
    if not codes.size:
        return codes
    order = np.argsort(codes == 0, axis=1, kind="stable")
    return np.take_along_axis(codes, order, axis=1)


def feature_specs(history_length: int, session_length: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape without the batch axis, dtype) of ``encode_queries``' output: the
    query models' input signature."""
    return {
        "history": ((history_length,), "int32"), "session": ((session_length,), "int32"),
        "genres": ((PROFILE_GENRES,), "int32"), "genre_weights": ((PROFILE_GENRES,), "float32"),
        "languages": ((PROFILE_LANGUAGES,), "int32"), "language_weights": ((PROFILE_LANGUAGES,), "float32"),
        "artists": ((PROFILE_ARTISTS,), "int32"), "artist_weights": ((PROFILE_ARTISTS,), "float32"),
        "age": ((), "int32"), "region": ((), "int32"), "hour": ((), "int32"), "scenario": ((), "int32"),
        "activity": ((3,), "float32"),
    }

"""The catalog of the simulated world: artists, albums, tracks, shows, and their
knowledge graph.

How it is built, and why:
- Artists have a genre, a language and an origin (a country speaking that language).
  Artist popularity is Zipf-like over a random order; track popularity is the artist's
  popularity times a heavy-tailed track factor, re-ranked onto a Zipf curve, so a few
  tracks dominate plays as in any real catalog.
- A track's emotion (valence = negative..positive, arousal = calm..energetic, both in
  [-1, 1]) is its genre's centre plus an artist offset plus track noise: metal is
  energetic and dark, ambient calm, pop bright. The emotion models of Encore must recover
  it from the content only, so both content fields carry it:
  * ``audio``: genre embedding + a fixed linear projection of (valence, arousal) + noise;
  * ``lyrics``: tokens drawn mostly from the vocabulary block of the track's language and
    emotion quadrant, some from the neighbouring quadrant and a shared block (token 0
    is reserved for padding).
- Shows tie tracks and artists together beyond genre. A ``soundtrack_show`` has a
  soundtrack (tracks whose ``show_id`` is the show); a ``variety_season`` has artists who
  appeared in it. Users hold show affinities (see users.py), so these ties really
  predict taste, and the knowledge graph written out carries them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from encore.platform.config import WorldConfig
from encore.platform.world import schema
from encore.platform.world.seeds import stream

# (valence, arousal) centre of each known genre; unknown genres get a random centre.
GENRE_EMOTION = {
    "pop": (0.5, 0.4), "rock": (0.1, 0.6), "hiphop": (0.1, 0.5), "electronic": (0.3, 0.7),
    "folk": (0.2, -0.3), "jazz": (0.3, -0.2), "classical": (0.1, -0.5), "rnb": (0.3, 0.0),
    "metal": (-0.5, 0.8), "ambient": (0.1, -0.8),
}
# Typical track length (minutes) of genres that differ from the 3.5-minute song.
GENRE_MINUTES = {"classical": 6.5, "ambient": 5.0, "jazz": 5.0, "metal": 4.5}
ORIGINS_BY_LANGUAGE = {
    "en": ("US", "UK", "AU"), "zh": ("CN", "TW"), "es": ("ES", "MX", "AR"),
    "ko": ("KR",), "ja": ("JP",),
}
TRACKS_PER_ALBUM = 8
MIN_DURATION_MS, MAX_DURATION_MS = 90_000, 720_000


@dataclass(frozen=True)
class Catalog:
    """Column arrays of the catalog; categorical columns are integer codes into the
    name tuples (``genres``, ``languages``, ``origins``)."""

    genres: tuple[str, ...]
    languages: tuple[str, ...]
    origins: tuple[str, ...]
    artist_genre: np.ndarray
    artist_language: np.ndarray
    artist_origin: np.ndarray
    artist_popularity: np.ndarray
    album_artist: np.ndarray
    album_year: np.ndarray
    track_album: np.ndarray
    track_artist: np.ndarray
    track_genre: np.ndarray
    track_language: np.ndarray
    track_year: np.ndarray
    track_duration_ms: np.ndarray
    track_popularity: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    audio: np.ndarray  # (tracks, audio_dim) float32
    lyrics: np.ndarray  # (tracks, lyrics_len) int32
    track_show: np.ndarray  # show id or -1
    show_kind: np.ndarray  # index into schema.SHOW_KINDS
    artist_in_show: np.ndarray  # (artists, shows) bool: appeared in a variety season
    lyrics_vocab_size: int

    @property
    def n_tracks(self) -> int:
        return len(self.track_artist)

    @property
    def n_artists(self) -> int:
        return len(self.artist_genre)

    @property
    def n_shows(self) -> int:
        return len(self.show_kind)


def language_origins(languages: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The origins (countries) of each language; an unknown language is its own origin."""
    return [ORIGINS_BY_LANGUAGE.get(lang, (lang.upper(),)) for lang in languages]


def popularity_z(cat: Catalog) -> np.ndarray:
    """Per track: standardised log popularity (the policy's and the utility's scale)."""
    log_pop = np.log(cat.track_popularity.astype(np.float64))
    return (log_pop - log_pop.mean()) / log_pop.std()


def _zipf(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf weights 1/(rank+1)^exponent over a random order, max 1."""
    ranks = rng.permutation(n)
    return 1.0 / (ranks + 1.0) ** exponent


def _genre_emotion(genres: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    random_centres = rng.uniform(-0.6, 0.6, size=(len(genres), 2))
    return np.array(
        [GENRE_EMOTION.get(g, tuple(random_centres[i])) for i, g in enumerate(genres)]
    )


def build_catalog(cfg: WorldConfig) -> Catalog:
    if cfg.tracks < cfg.artists:
        raise ValueError(f"world.tracks ({cfg.tracks}) must be at least world.artists "
                         f"({cfg.artists}): every artist needs a track")
    rng = stream(cfg.seed, "catalog")
    genres, languages = tuple(cfg.genres), tuple(cfg.languages)
    origins_of = language_origins(languages)
    origins = tuple(o for group in origins_of for o in group)
    n_art, n_tracks = cfg.artists, cfg.tracks

    genre_share = rng.dirichlet(np.full(len(genres), 3.0))
    language_share = 1.0 / np.arange(1, len(languages) + 1) ** 0.9
    language_share /= language_share.sum()
    artist_genre = rng.choice(len(genres), size=n_art, p=genre_share)
    artist_language = rng.choice(len(languages), size=n_art, p=language_share)
    artist_origin = np.array([
        origins.index(origins_of[lang][rng.integers(len(origins_of[lang]))])
        for lang in artist_language
    ])
    artist_popularity = _zipf(n_art, 0.8, rng)

    n_albums = max(n_art, n_tracks // TRACKS_PER_ALBUM)
    album_artist = np.concatenate([
        np.arange(n_art),
        rng.choice(n_art, size=n_albums - n_art, p=artist_popularity / artist_popularity.sum()),
    ])
    album_artist.sort(kind="stable")
    career_start = rng.integers(1970, 2022, size=n_art)
    album_year = np.minimum(
        career_start[album_artist] + rng.integers(0, 8, size=n_albums), 2025
    ).astype(np.int32)

    extra_tracks = rng.choice(n_albums, size=max(n_tracks - n_albums, 0))
    track_album = np.sort(np.concatenate([np.arange(min(n_albums, n_tracks)), extra_tracks]))
    track_artist = album_artist[track_album]
    track_genre = artist_genre[track_artist]
    track_language = artist_language[track_artist]

    strength = artist_popularity[track_artist] * rng.lognormal(0.0, 1.0, size=n_tracks)
    rank = np.empty(n_tracks, dtype=np.int64)
    rank[np.argsort(-strength, kind="stable")] = np.arange(n_tracks)
    track_popularity = (1.0 / (rank + 1.0) ** 0.9).astype(np.float32)

    centres = _genre_emotion(genres, rng)
    artist_offset = rng.normal(0.0, 0.2, size=(n_art, 2))
    emotion = centres[track_genre] + artist_offset[track_artist] + rng.normal(0.0, 0.3, (n_tracks, 2))
    emotion = np.clip(emotion, -1.0, 1.0).astype(np.float32)
    valence, arousal = emotion[:, 0], emotion[:, 1]

    minutes = np.array([GENRE_MINUTES.get(g, 3.5) for g in genres])[track_genre]
    duration = np.clip(minutes * 60_000 * rng.lognormal(0.0, 0.25, n_tracks),
                       MIN_DURATION_MS, MAX_DURATION_MS).astype(np.int64)

    audio = _audio(track_genre, emotion, len(genres), cfg.audio_dim, rng)
    lyrics = _lyrics(track_language, emotion, len(languages), cfg, rng)
    show_kind, track_show, artist_in_show = _shows(
        cfg.shows, track_language, track_artist, artist_language, rng
    )
    return Catalog(
        genres=genres, languages=languages, origins=origins,
        artist_genre=artist_genre, artist_language=artist_language,
        artist_origin=artist_origin, artist_popularity=artist_popularity,
        album_artist=album_artist, album_year=album_year,
        track_album=track_album, track_artist=track_artist, track_genre=track_genre,
        track_language=track_language, track_year=album_year[track_album],
        track_duration_ms=duration, track_popularity=track_popularity,
        valence=valence, arousal=arousal, audio=audio, lyrics=lyrics,
        track_show=track_show, show_kind=show_kind, artist_in_show=artist_in_show,
        lyrics_vocab_size=1 + cfg.lyrics_vocab_per_group * (1 + 4 * len(languages)),
    )


def _audio(track_genre: np.ndarray, emotion: np.ndarray, n_genres: int, dim: int,
           rng: np.random.Generator) -> np.ndarray:
    """Audio descriptors: genre timbre + a linear image of (valence, arousal) + noise."""
    genre_timbre = rng.normal(0.0, 1.0, size=(n_genres, dim))
    emotion_projection = rng.normal(0.0, 1.0, size=(2, dim))
    noise = rng.normal(0.0, 0.5, size=(len(track_genre), dim))
    return (genre_timbre[track_genre] + emotion @ emotion_projection + noise).astype(np.float32)


def _lyrics(track_language: np.ndarray, emotion: np.ndarray, n_languages: int,
            cfg: WorldConfig, rng: np.random.Generator) -> np.ndarray:
    """Token ids: 0 pad, then a shared block, then one block per (language, quadrant).

    The quadrant is (valence > 0, arousal > 0). 65% of tokens come from the track's own
    block, 15% from the block of the quadrant with the other arousal sign (emotion words
    blur), 20% from the shared block; within a block, word frequency is Zipf-like.
    """
    vocab, n, length = cfg.lyrics_vocab_per_group, len(track_language), cfg.lyrics_len
    quadrant = (emotion[:, 0] > 0).astype(np.int64) * 2 + (emotion[:, 1] > 0)
    word_p = 1.0 / np.arange(1, vocab + 1)
    word = rng.choice(vocab, size=(n, length), p=word_p / word_p.sum())
    source = rng.choice(3, size=(n, length), p=[0.65, 0.15, 0.20])
    neighbour = quadrant ^ 1
    group = np.where(source == 0, quadrant[:, None], neighbour[:, None])
    block = 1 + track_language[:, None] * 4 + group  # blocks 1.. are (language, quadrant)
    block = np.where(source == 2, 0, block)
    return (1 + block * vocab + word).astype(np.int32)


def _shows(n_shows: int, track_language: np.ndarray, track_artist: np.ndarray,
           artist_language: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Even show ids are soundtrack shows (8-15 tracks), odd ones variety seasons
    (4-8 artists); each show has one language and mostly picks from it."""
    show_kind = np.arange(n_shows) % 2
    track_show = np.full(len(track_artist), -1, dtype=np.int64)
    artist_in_show = np.zeros((len(artist_language), n_shows), dtype=bool)
    for show in range(n_shows):
        language = rng.integers(artist_language.max() + 1)
        if show_kind[show] == 0:
            free = np.flatnonzero(track_show < 0)
            weight = np.where(track_language[free] == language, 8.0, 1.0)
            size = min(int(rng.integers(8, 16)), len(free))
            picked = rng.choice(free, size=size, replace=False, p=weight / weight.sum())
            track_show[picked] = show
        else:
            weight = np.where(artist_language == language, 8.0, 1.0)
            size = min(int(rng.integers(4, 9)), len(artist_language))
            picked = rng.choice(len(artist_language), size=size, replace=False,
                                p=weight / weight.sum())
            artist_in_show[picked, show] = True
    return show_kind, track_show, artist_in_show


def catalog_tables(cat: Catalog) -> dict[str, pa.Table]:
    """The catalog files of a world, keyed by relative path."""
    n_art, n_tracks = cat.n_artists, cat.n_tracks
    genres, languages, origins = (np.array(x, dtype=object) for x in (cat.genres, cat.languages, cat.origins))
    artists = pa.table({
        "artist_id": np.arange(n_art, dtype=np.int64),
        "name": [f"{origins[o]} artist {i}" for i, o in enumerate(cat.artist_origin)],
        "genre": genres[cat.artist_genre], "language": languages[cat.artist_language],
        "origin": origins[cat.artist_origin], "popularity": cat.artist_popularity,
    }, schema=schema.ARTISTS)
    album_genre = genres[cat.artist_genre[cat.album_artist]]
    albums = pa.table({
        "album_id": np.arange(len(cat.album_artist), dtype=np.int64),
        "artist_id": cat.album_artist.astype(np.int64), "release_year": cat.album_year,
        "genre": album_genre,
    }, schema=schema.ALBUMS)
    tracks = pa.table({
        "track_id": np.arange(n_tracks, dtype=np.int64),
        "album_id": cat.track_album.astype(np.int64),
        "artist_id": cat.track_artist.astype(np.int64),
        "genre": genres[cat.track_genre], "language": languages[cat.track_language],
        "release_year": cat.track_year, "duration_ms": cat.track_duration_ms,
        "popularity": cat.track_popularity, "valence": cat.valence, "arousal": cat.arousal,
        "audio": _fixed_lists(cat.audio, pa.float32()),
        "lyrics": _fixed_lists(cat.lyrics, pa.int32()),
        "show_id": pa.array(cat.track_show, mask=cat.track_show < 0, type=pa.int64()),
    }, schema=schema.TRACKS)
    kinds = np.array(schema.SHOW_KINDS, dtype=object)[cat.show_kind]
    shows = pa.table({
        "show_id": np.arange(cat.n_shows, dtype=np.int64), "kind": kinds,
        "name": [f"{'Soundtrack' if k == 0 else 'Variety season'} {i}"
                 for i, k in enumerate(cat.show_kind)],
    }, schema=schema.SHOWS)
    return {
        "catalog/artists.parquet": artists, "catalog/albums.parquet": albums,
        "catalog/tracks.parquet": tracks, "catalog/shows.parquet": shows,
        "kg/triples.parquet": knowledge_graph(cat),
    }


def _fixed_lists(matrix: np.ndarray, value_type: pa.DataType) -> pa.Array:
    offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel(), type=value_type))


def knowledge_graph(cat: Catalog) -> pa.Table:
    """Triples (head, relation, tail) over typed entity ids such as ``track:12``.

    Relations: in_album (track->album), by_artist (album->artist), soundtrack_of
    (track->show), appeared_in (artist->show), from_origin (artist->origin), has_genre
    (track->genre), in_language (track->language).
    """
    def ids(prefix: str, values: np.ndarray) -> np.ndarray:
        return np.char.add(prefix, values.astype(str)).astype(object)

    track_ids = ids("track:", np.arange(cat.n_tracks))
    artist_ids = ids("artist:", np.arange(cat.n_artists))
    soundtrack = np.flatnonzero(cat.track_show >= 0)
    appeared_artist, appeared_show = np.nonzero(cat.artist_in_show)
    genres, languages, origins = (np.array(x, dtype=object) for x in (cat.genres, cat.languages, cat.origins))
    parts = [
        (track_ids, "in_album", ids("album:", cat.track_album)),
        (ids("album:", np.arange(len(cat.album_artist))), "by_artist", ids("artist:", cat.album_artist)),
        (track_ids[soundtrack], "soundtrack_of", ids("show:", cat.track_show[soundtrack])),
        (ids("artist:", appeared_artist), "appeared_in", ids("show:", appeared_show)),
        (artist_ids, "from_origin", "origin:" + origins[cat.artist_origin]),
        (track_ids, "has_genre", "genre:" + genres[cat.track_genre]),
        (track_ids, "in_language", "language:" + languages[cat.track_language]),
    ]
    return pa.table({
        "head": np.concatenate([h for h, _, _ in parts]),
        "relation": np.concatenate([np.full(len(h), r, dtype=object) for h, r, _ in parts]),
        "tail": np.concatenate([t for _, _, t in parts]),
    }, schema=schema.TRIPLES)

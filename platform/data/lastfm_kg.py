"""Last.FM listening counts (HetRec 2011) with KGCN's music knowledge graph.

Files under ``<data_dir>/lastfm-kg/``, all tab-separated, LF or CRLF line ends:

- ``user_artists.dat``: header ``userID artistID weight``, then one row per
  (user, artist) with the play count: 92,834 rows, 1,892 users, 17,632 artists.
- ``kg.txt``: no header, ``head relation tail`` triples over entity ids with Freebase
  relation names (``music.artist.origin``): 15,518 triples, 9,366 entities, 60 relations.
- ``item_index2entity_id.txt``: no header, ``artistID entity_id``: 3,846 artists in the KG.

Validation: every line has exactly the expected number of fields; ids and weights are
plain non-negative integers; relation names are non-empty with no whitespace; the
artist->entity mapping is one-to-one. Columns are renamed to snake_case
(user_id, artist_id, weight; head, relation, tail; artist_id, entity_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from encore.platform.data.common import (
    DataFileError,
    PathLike,
    first_bad,
    int_column,
    read_delimited,
    resolve_data_dir,
)

DIRNAME = "lastfm-kg"
USER_ARTISTS_FILE = "user_artists.dat"
KG_FILE = "kg.txt"
ENTITY_MAP_FILE = "item_index2entity_id.txt"


@dataclass(frozen=True, eq=False)
class LastfmKG:
    """Play counts, KG triples and the artist->entity map (treat the frames as read-only)."""

    folder: Path
    user_artists: pd.DataFrame  # user_id, artist_id, weight (int64)
    kg: pd.DataFrame  # head (int64), relation (str), tail (int64)
    artist_entity: pd.DataFrame  # artist_id, entity_id (int64)
    num_users: int
    num_artists: int
    num_entities: int
    num_relations: int

    @property
    def num_triples(self) -> int:
        return len(self.kg)

    @property
    def num_mapped_artists(self) -> int:
        return len(self.artist_entity)

    def describe(self) -> dict[str, int | str]:
        return {
            "folder": str(self.folder),
            "interactions": len(self.user_artists),
            "users": self.num_users,
            "artists": self.num_artists,
            "triples": self.num_triples,
            "entities": self.num_entities,
            "relations": self.num_relations,
            "mapped_artists": self.num_mapped_artists,
        }


def _read_user_artists(path: Path) -> pd.DataFrame:
    raw = read_delimited(path, ("user_id", "artist_id", "weight"), "\t",
                         header=("userID", "artistID", "weight"))
    return pd.DataFrame({column: int_column(raw, column, path) for column in raw.columns})


def _read_kg(path: Path) -> pd.DataFrame:
    raw = read_delimited(path, ("head", "relation", "tail"), "\t")
    relation = raw["relation"]
    bad = (relation == "") | relation.str.contains(r"\s")
    if bad.any():
        label = first_bad(bad)
        raise DataFileError(
            path, f"expected a non-empty relation name without spaces, found {relation[label]!r}",
            f"line {label}",
        )
    return pd.DataFrame({
        "head": int_column(raw, "head", path),
        "relation": relation,
        "tail": int_column(raw, "tail", path),
    })


def _read_artist_entity(path: Path) -> pd.DataFrame:
    raw = read_delimited(path, ("artist_id", "entity_id"), "\t")
    frame = pd.DataFrame({column: int_column(raw, column, path) for column in raw.columns})
    for column in frame.columns:
        repeated = frame[column].duplicated()
        if repeated.any():
            label = first_bad(repeated)
            raise DataFileError(
                path, f"expected each {column} once, found {frame[column][label]} again",
                f"line {label}",
            )
    return frame


def load_lastfm_kg(data_dir: PathLike | None = None) -> LastfmKG:
    """Load and validate the three files under ``<data_dir>/lastfm-kg/``."""
    folder = resolve_data_dir(data_dir) / DIRNAME
    user_artists = _read_user_artists(folder / USER_ARTISTS_FILE)
    kg = _read_kg(folder / KG_FILE)
    artist_entity = _read_artist_entity(folder / ENTITY_MAP_FILE)
    return LastfmKG(
        folder=folder,
        user_artists=user_artists.reset_index(drop=True),
        kg=kg.reset_index(drop=True),
        artist_entity=artist_entity.reset_index(drop=True),
        num_users=int(user_artists["user_id"].nunique()),
        num_artists=int(user_artists["artist_id"].nunique()),
        num_entities=len(pd.unique(pd.concat([kg["head"], kg["tail"]]))),
        num_relations=int(kg["relation"].nunique()),
    )

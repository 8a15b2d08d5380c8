"""The one input pipeline of every ranker: ``ranking_samples`` (+ the catalog) ->
raw feature dicts -> tf.data batches for training, and the same feature dicts for a
serving request.

- ``read_samples(batch_dir, dates)``: the ``ranking_samples`` table (hive partitions
  ``date=YYYY-MM-DD``) as one pandas frame; ``sample_dates`` lists its days.
- ``Catalog``: track id -> artist, album, genre, language, valence, arousal, duration,
  release year (``catalog/tracks.parquet`` of a world, or the same columns from Feast's
  ``track_profile``). Unknown tracks get artist / album -1, empty strings and NaN numbers
  (the feature spec maps those to its OOV row / the training mean); a catalog frame
  without ``album_id`` gets -1 for every album (all OOV).
- ``raw_features(columns, catalog, spec, kinds)``: THE derivation, from columns named
  like ``ranking_samples`` (``user_id``, ``anonymous``, ``user_*``, ``scenario``, ``ts``
  or ``ts_ms``, ``track_id``, ``track_*``, ``user_track_plays_30d``) to one 1-D array per
  feature of the requested kinds, in the spec's raw dtypes. Training rows and serving
  requests both go through it. Behaviour sequences come as ``<b>_track_ids`` columns
  (``play_track_ids``, ...: per row a sequence of track ids, oldest first, as the Query
  holds them; or an already padded (B, T) int array) and become the (B, T) track
  profile features (``pad_sequences``; catalog attributes looked up here as for
  candidates).
- ``request_features(spec, catalog, request, candidates)``: a serving request -> the
  listener part (user + context features, each shape (1,)) and the candidate part
  (candidate features, each shape (N,)), the two arguments of ``Ranker.score``.
- ``labels(frame)``: head -> (B,) float32 labels; ``make_dataset`` -> tf.data batches of
  ``(features, labels)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from encore.ranking.features import (
    CANDIDATE, CATALOG_COLUMNS, CONTEXT, HEADS, KINDS, SEQ_INFIX, SESSION, USER, FeatureSpec, coerce, sequence_column,
    sequence_feature, sequence_ts_column,
)

TABLE = "ranking_samples"
CATALOG_FILE = "catalog/tracks.parquet"
PASS_THROUGH: tuple[str, ...] = ("date", "exposure_id", "request_id", "session_id", "position", "propensity")
"""Columns ``read_samples`` keeps that are not features: ids for grouping (GAUC per
listener) and the logging-policy artefacts (see ``encore.ranking.features``)."""


class RankingInputError(ValueError):
    """Missing table or partitions, or a request without a column a feature needs."""


# ----------------------------------------------------------------------------- reading
def sample_dates(batch_dir: Path) -> list[date]:
    folder = Path(batch_dir) / TABLE
    if not folder.is_dir():
        raise RankingInputError(f"no {TABLE} table under {batch_dir} (run `encore batch ranking-samples`)")
    days = sorted(date.fromisoformat(p.name.split("=", 1)[1]) for p in folder.iterdir()
                  if p.is_dir() and p.name.startswith("date=") and any(p.glob("*.parquet")))
    if not days:
        raise RankingInputError(f"{folder} has no date= partitions with parquet files")
    return days


def sample_files(batch_dir: Path, dates: Iterable[date]) -> list[Path]:
    """The parquet files of the given days (for the registry's data fingerprint)."""
    folder = Path(batch_dir) / TABLE
    return sorted(p for d in dates for p in (folder / f"date={d.isoformat()}").glob("*.parquet"))


def read_samples(batch_dir: Path, dates: Sequence[date] | None = None) -> pd.DataFrame:
    """``ranking_samples`` rows of ``dates`` (default all), sorted by ts then exposure id
    (a deterministic order), with a ``date`` column."""
    days = list(dates) if dates is not None else sample_dates(batch_dir)
    frames = []
    for d in days:
        files = sample_files(batch_dir, [d])
        if not files:
            raise RankingInputError(f"{TABLE} has no partition date={d.isoformat()} under {batch_dir}")
        for path in files:
            frame = pd.read_parquet(path)
            frame["date"] = d
            frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["ts", "exposure_id"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class Catalog:
    """Track attributes by track id (``CATALOG_COLUMNS``), indexed for vector lookup
    (sorted ids and one numpy array per column, built once: a lookup is one
    ``searchsorted`` and a gather per column)."""

    table: pd.DataFrame  # index track_id, columns CATALOG_COLUMNS
    _ids: np.ndarray = field(init=False, repr=False, compare=False)
    _columns: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = self.table[~self.table.index.duplicated()].sort_index()
        object.__setattr__(self, "_ids", table.index.to_numpy(dtype=np.int64))
        object.__setattr__(self, "_columns", {col: _catalog_values(col, table[col]) for col in CATALOG_COLUMNS})

    @classmethod
    def from_frame(cls, tracks: pd.DataFrame) -> "Catalog":
        if "album_id" not in tracks.columns:  # an older catalog frame: every album unknown
            tracks = tracks.assign(album_id=-1)
        missing = [c for c in ("track_id", *CATALOG_COLUMNS) if c not in tracks.columns]
        if missing:
            raise RankingInputError(f"catalog frame lacks columns {missing}")
        table = tracks[["track_id", *CATALOG_COLUMNS]].drop_duplicates("track_id").set_index("track_id")
        return cls(table=table)

    @classmethod
    def from_world(cls, world_dir: Path) -> "Catalog":
        """The catalog a world wrote under ``<world>/catalog``."""
        return cls.from_catalog_dir(Path(world_dir) / "catalog")

    @classmethod
    def from_catalog_dir(cls, catalog_dir: Path) -> "Catalog":
        """``tracks.parquet`` of a catalog folder (``encore.platform.contracts.catalog``)."""
        from encore.platform.contracts.catalog import tracks_file

        path = tracks_file(catalog_dir)
        if not path.is_file():
            raise RankingInputError(f"no catalog at {path}")
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        return cls.from_frame(pd.read_parquet(path, columns=[c for c in ("track_id", *CATALOG_COLUMNS)
                                                             if c in present or c != "album_id"]))

    def lookup(self, track_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Catalog columns for ``track_ids`` (N,); unknown ids: artist -1, genre and
        language "", numbers NaN."""
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        if not len(self._ids):
            pos, known = np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        else:
            pos = np.clip(np.searchsorted(self._ids, ids), 0, len(self._ids) - 1)
            known = self._ids[pos] == ids
        out = {}
        for col in CATALOG_COLUMNS:
            values = self._columns[col]
            taken = values[pos] if len(values) else np.empty(len(ids), dtype=values.dtype)
            if not known.all():
                taken = taken.copy()
                taken[~known] = _CATALOG_MISSING.get(col, np.nan)
            out[col] = taken
        return out


_CATALOG_MISSING: dict[str, Any] = {"artist_id": -1, "album_id": -1, "genre": "", "language": ""}


def _catalog_values(col: str, values: pd.Series) -> np.ndarray:
    """One catalog column in its lookup form (what an unknown id gets: ``_CATALOG_MISSING``)."""
    if col in ("artist_id", "album_id"):
        return values.fillna(-1).to_numpy(dtype=np.int64)
    if col in ("genre", "language"):
        return values.fillna("").astype(str).to_numpy(dtype=object)
    return values.to_numpy(dtype=np.float64)


# ----------------------------------------------------------------------------- features
def _ts_ms(columns: Mapping[str, Any]) -> np.ndarray:
    if "ts_ms" in columns:
        return np.asarray(columns["ts_ms"], dtype=np.int64).reshape(-1)
    if "ts" not in columns:
        raise RankingInputError("a request needs `ts` (timestamp) or `ts_ms` (epoch ms) for the context features")
    ts = pd.to_datetime(pd.Series(np.asarray(columns["ts"]).reshape(-1)), utc=True)
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)


def _context(ts_ms: np.ndarray) -> dict[str, np.ndarray]:
    days = np.floor_divide(ts_ms, 86_400_000)
    return {
        "hour": np.floor_divide(np.mod(ts_ms, 86_400_000), 3_600_000).astype(np.int64),
        "day_of_week": np.mod(days + 3, 7).astype(np.int64),  # 1970-01-01 was a Thursday
    }


def pad_sequences(values: Any, length: int) -> np.ndarray:
    """Per-row sequences (oldest first) -> (B, ``length``) int64: the last ``length``
    entries of each, right-aligned, left-padded with -1. ``values``: a sequence of
    sequences (tuples, lists, arrays; None = empty) or a 2-D int array (rows already
    aligned: its last ``length`` columns are kept, padded on the left if narrower)."""
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    arr = values if isinstance(values, np.ndarray) else None
    if arr is not None and arr.ndim == 2 and arr.dtype != object:
        arr = arr.astype(np.int64)[:, max(0, arr.shape[1] - length):]
        return np.pad(arr, ((0, 0), (length - arr.shape[1], 0)), constant_values=-1)
    seqs = [() if s is None else s for s in values]
    lengths = np.fromiter((min(len(s), length) for s in seqs), dtype=np.int64, count=len(seqs))
    out = np.full((len(seqs), length), -1, dtype=np.int64)
    total = int(lengths.sum())
    if total:
        flat = np.fromiter((int(t) for s, n in zip(seqs, lengths) if n for t in list(s)[-n:]),
                           dtype=np.int64, count=total)
        rows = np.repeat(np.arange(len(seqs)), lengths)
        cols = length - np.repeat(lengths, lengths) + (np.arange(total) - np.repeat(np.cumsum(lengths) - lengths,
                                                                                   lengths))
        out[rows, cols] = flat
    return out


def _sequence_features(columns: Mapping[str, Any], catalog: Catalog, spec: FeatureSpec,
                       wanted: Sequence[Any]) -> dict[str, np.ndarray]:
    """The (B, T) track profile of every behaviour among ``wanted`` sequence features."""
    out: dict[str, np.ndarray] = {}
    for behaviour in dict.fromkeys(f.name.split(SEQ_INFIX, 1)[0] for f in wanted):
        col = sequence_column(behaviour)
        if col not in columns:
            raise RankingInputError(f"behaviour sequences need column {col!r} (the Query's {col})")
        length = max(f.length for f in wanted if f.name.startswith(behaviour + SEQ_INFIX))
        ids = pad_sequences(columns[col], length)
        attrs = catalog.lookup(ids.reshape(-1))
        attrs["track_id"] = ids.reshape(-1)
        for f in wanted:
            if f.name.startswith(behaviour + SEQ_INFIX) and f.base is not None:
                out[f.name] = attrs[f.base].reshape(ids.shape)
        session = sequence_feature(behaviour, SESSION)
        if any(f.name == session for f in wanted):
            ts_col = sequence_ts_column(behaviour)
            if ts_col not in columns:
                raise RankingInputError(f"session features need column {ts_col!r} (the Query's {ts_col})")
            out[session] = session_ranks(ids, pad_sequences(columns[ts_col], length), **spec.meta["sessions"])
    return out


def session_ranks(ids: np.ndarray, ts_ms: np.ndarray, *, max_session_ms: int, inactivity_gap_ms: int,
                  max_sessions: int) -> np.ndarray:
    """(B, T) behaviours (ids -1 = padding, left-padded, oldest first) and their epoch
    ms -> the session of each, counted back from the row's latest session (0) by the
    platform's sessionization rule (``encore.platform.contracts.sessions``: a gap of
    more than ``inactivity_gap_ms`` or a span of more than ``max_session_ms`` opens a
    session; the sequences carry no scenario, so scenario switches cannot split them);
    sessions older than ``max_sessions - 1`` and padding get -1. Vectorised over rows,
    one step per column."""
    valid = ids >= 0
    rows, steps = ids.shape
    number = np.zeros((rows, steps), np.int64)
    count = np.zeros(rows, np.int64)  # sessions opened so far
    start = np.zeros(rows, np.int64)
    last = np.zeros(rows, np.int64)
    for t in range(steps):
        v, ts = valid[:, t], ts_ms[:, t]
        opens = v & ((count == 0) | (ts - last > inactivity_gap_ms) | (ts - start > max_session_ms))
        count += opens
        start = np.where(opens, ts, start)
        last = np.where(v, ts, last)
        number[:, t] = count - 1
    rank = count[:, None] - 1 - number
    return np.where(valid & (rank < max_sessions), rank, -1).astype(np.int64)


def raw_features(columns: Mapping[str, Any], catalog: Catalog, spec: FeatureSpec,
                 kinds: Sequence[str] = KINDS) -> dict[str, np.ndarray]:
    """Raw feature arrays (one per feature of ``kinds``, the spec's dtypes; (B,), or
    (B, T) for behaviour sequences) from ranking_samples-style ``columns`` (arrays of one
    length, or a DataFrame, with ``<b>_track_ids`` sequence columns when the spec holds
    behaviours)."""
    wanted = spec.of(*kinds)
    out: dict[str, np.ndarray] = {}
    derived: dict[str, np.ndarray] = {}
    sequences = [f for f in wanted if f.is_sequence]
    if sequences:
        derived.update(_sequence_features(columns, catalog, spec, sequences))
    need = {f.name for f in wanted if not f.is_sequence}
    if need & {"hour", "day_of_week"}:
        derived.update(_context(_ts_ms(columns)))
    if need & set(CATALOG_COLUMNS):
        if "track_id" not in columns:
            raise RankingInputError("candidate features need `track_id`")
        derived.update(catalog.lookup(np.asarray(columns["track_id"])))
    for f in wanted:
        if f.name in derived:
            values = derived[f.name]
        elif f.name == "user_id":
            raw = pd.Series(np.asarray(columns["user_id"], dtype=object).reshape(-1)) if "user_id" in columns \
                else pd.Series([None])
            values = pd.to_numeric(raw, errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
        elif f.name == "anonymous" and "anonymous" not in columns:
            uid = columns.get("user_id")
            values = np.asarray(pd.isna(pd.Series(np.asarray(uid, dtype=object).reshape(-1))), dtype=np.float32)
        elif f.name in columns:
            values = columns[f.name]
        else:
            raise RankingInputError(f"feature {f.name} needs column {f.name!r} ({f.source})")
        out[f.name] = coerce(f, values.to_numpy() if isinstance(values, pd.Series) else values)
    return out


def request_features(spec: FeatureSpec, catalog: Catalog, request: Mapping[str, Any],
                     candidates: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A serving request -> (listener features, each (1,); candidate features, each (N,)).

    ``request``: scalars for one listener and moment: ``user_id`` (None: anonymous),
    ``user_*_30d``, ``user_plays_today``, ``scenario``, ``ts`` or ``ts_ms``.
    ``candidates``: arrays of length N: ``track_id``, ``track_*`` stats (previous day)
    and ``user_track_plays_30d``; catalog attributes are looked up here.
    """
    return listener_features(spec, catalog, request), raw_features(candidates, catalog, spec, (CANDIDATE,))


def listener_features(spec: FeatureSpec, catalog: Catalog, request: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The listener part of :func:`request_features` (user + context features, each (1,);
    behaviour sequences (1, T) from the request's ``<b>_track_ids``: the Query's)."""
    one: dict[str, Any] = {}
    for k, v in request.items():
        if k.endswith("_track_ids") or k.endswith("_ts_ms"):  # a behaviour sequence (not ``ts_ms``)
            one[k] = [() if v is None else v]
        else:
            one[k] = np.asarray([v], dtype=object if isinstance(v, str) or v is None else None)
    out = raw_features(one, catalog, spec, (USER, CONTEXT))
    return {n: out[n] for n in spec.listener_names}


class CandidateTable:
    """The candidate features of a fixed set of tracks, computed once by
    :func:`raw_features` (so exactly the values the per-request path gives), for serving:
    a request gathers the rows of its candidates and computes only the columns that
    depend on the listener (``per_request``, e.g. ``user_track_plays_30d``).

    ``columns``: ``track_id`` (the tracks, any order) and every other column
    ``raw_features`` needs for the candidate features (``track_*`` statistics);
    ``per_request``: candidate feature names given with each request instead."""

    def __init__(self, spec: FeatureSpec, catalog: Catalog, columns: Mapping[str, Any],
                 per_request: Sequence[str] = ("user_track_plays_30d",)) -> None:
        self.spec = spec
        self.per_request = tuple(n for n in per_request if n in spec.candidate_names)
        ids = np.asarray(columns["track_id"], dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        keep = order[np.r_[True, ids[order][1:] != ids[order][:-1]]] if len(ids) else order
        self.track_ids = ids[keep]
        given = {k: np.asarray(v)[keep] for k, v in columns.items()}
        given.update({n: np.zeros(len(keep), np.float64) for n in self.per_request})
        full = raw_features(given, catalog, spec, (CANDIDATE,))
        self.static = {n: v for n, v in full.items() if n not in self.per_request}

    def features(self, track_ids: np.ndarray, per_request: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """Candidate features (each (N,)) of ``track_ids``; None when one of them is not
        in the table (the caller then derives them with :func:`request_features`)."""
        ids = np.asarray(track_ids, dtype=np.int64)
        if not len(self.track_ids):
            return None if len(ids) else {n: np.zeros(0, v.dtype) for n, v in self.static.items()}
        pos = np.clip(np.searchsorted(self.track_ids, ids), 0, len(self.track_ids) - 1)
        if not np.array_equal(self.track_ids[pos], ids):
            return None
        out = {n: v[pos] for n, v in self.static.items()}
        for n in self.per_request:
            out[n] = coerce(self.spec[n], per_request[n])
        return {n: out[n] for n in self.spec.candidate_names}


def labels(frame: pd.DataFrame, heads: Sequence[str] = HEADS) -> dict[str, np.ndarray]:
    """Head -> (B,) float32 0/1 labels."""
    return {h: frame[h].fillna(0).to_numpy(dtype=np.float32) for h in heads}


def listener_keys(frame: pd.DataFrame) -> np.ndarray:
    """One key per listener (user id, else the anonymous session): GAUC's groups."""
    uid = frame["user_id"]
    return np.where(uid.isna(), "s:" + frame["session_id"].astype(str),
                    "u:" + uid.astype("Int64").astype(str)).astype(object)


def make_dataset(features: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray] | None = None,
                 *, batch_size: int, shuffle: bool = False, seed: int = 0):
    """tf.data of ``(features, labels)`` (or features only) batches: features name ->
    (B,) tensors, labels head -> (B,) float32.

    The columns are held once as tensors and each batch is gathered by index, so the
    pipeline does per-batch, not per-row, work; ``shuffle`` draws a new permutation of
    all rows every epoch (a full shuffle, not a window).
    """
    import tensorflow as tf

    cols = {k: tf.constant(v) for k, v in features.items()}
    labs = {k: tf.constant(v) for k, v in targets.items()} if targets is not None else None
    n = len(next(iter(features.values())))
    index = tf.data.Dataset.range(n)
    if shuffle:
        index = index.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)

    def gather(idx):
        feats = {k: tf.gather(v, idx) for k, v in cols.items()}
        return feats if labs is None else (feats, {k: tf.gather(v, idx) for k, v in labs.items()})

    return index.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

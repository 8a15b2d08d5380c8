"""The one feature spec every ranker reads (baseline, DIN, DIEN, the session ranker).

A ``FeatureSpec`` is an ordered list of named ``Feature``s. Each has

- ``kind``: ``user`` (one value per listener and request: 30-day counters, today's
  plays, the hashed user id), ``context`` (one value per request: scenario, hour of
  day, day of week) or ``candidate`` (one value per candidate track: its id, artist,
  genre, language, catalog attributes, its stats as of the previous day, and this
  listener's plays of it). User and context features are the per-listener part a
  ranker computes once per request; candidate features are the per-candidate part.
- ``dtype`` of the raw value the model takes (``int64``, ``float32``, ``string``);
- ``transform``: ``vocab`` (lookup in a vocabulary fitted on the training split,
  index 0 = out of vocabulary; ``min_count`` keeps rare values in the OOV row so it is
  trained), ``hash`` (non-negative ints hashed into ``buckets - 1`` rows, negative /
  missing -> row 0), ``index`` (an int already in ``[0, buckets)``: hour, weekday),
  ``log_norm`` (``log1p(max(x, 0))`` then standardised) or ``norm`` (standardised).
  A vocabulary given in the spec (``scenario``: the platform's list) is kept as is.
  Standardisation statistics (``mean``, ``std``) are fitted on the training split; a
  non-finite value (a missing catalog attribute) becomes 0 after standardisation, the
  training mean.

Raw values come from the ``ranking_samples`` table (``encore.platform.batch``) and the
catalog (``catalog/tracks.parquet``, or Feast's ``track_profile`` at serving time), and
``encore.ranking.inputs.raw_features`` derives them the same way for training rows and
for a serving request.

Logging-policy artefacts. ``position`` (the slot the logging policy showed the track
in) and ``propensity`` (its probability of showing it) describe the *old* policy, not
the listener or the track: at serving time the ranker decides the order, so there is
no position to read, and a model that learned from position would score the logging
policy's habits. Neither is a feature. Both stay in the training frame
(``inputs.read_samples``): ``propensity`` for counterfactual evaluation (IPS estimates
in offline A/B), ``position`` for an optional training-only position-bias tower
(``RankingConfig.position_buckets``; ``POSITION`` below): a learned logit per head and
position, added to the model's logit in training so the rest of the model need not
explain the examination bias of low slots, and absent from the serving signature.

Behaviour sequences (DIN, DIEN; ``behaviours`` of :func:`ranking_feature_spec`).
A sequence feature has ``length`` T > 0: its raw value is a (B, T) array per row (one
listener per row, so its kind is ``user``), the listener's last T behaviours of one
kind *strictly before* the request, oldest first, left-padded with track id -1 (the
last column is the most recent behaviour). For each behaviour ``b`` (``play``,
``heart``, ``skip``: the ``Query``'s ``<b>_track_ids``, built by the one Query builder
of ``encore.recall.queries``) the spec holds the behaviour's track profile,
``<b>_seq_<attr>`` for every attribute of ``SEQUENCE_PROFILE`` (track, artist, album,
genre, language and the emotion pair valence / arousal, from the catalog). Each has a
``base``: the candidate feature whose vocabulary, statistics and (in the model)
embedding table it shares, so a behaviour and a candidate are embedded by the same
rows. Padded positions map to the OOV row / 0 and are masked (track id < 0) by the
models.

The spec is saved with every model as ``feature_spec.json`` (vocabularies and
statistics included), so a loaded ranker needs no training data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Iterable, Literal, Mapping

import numpy as np

Kind = Literal["user", "context", "candidate"]
DType = Literal["int64", "float32", "string"]
Transform = Literal["vocab", "hash", "index", "log_norm", "norm"]

USER: Final = "user"
CONTEXT: Final = "context"
CANDIDATE: Final = "candidate"
KINDS: tuple[str, ...] = (USER, CONTEXT, CANDIDATE)
CATEGORICAL: tuple[str, ...] = ("vocab", "hash", "index")
NUMERIC: tuple[str, ...] = ("log_norm", "norm")

HEADS: tuple[str, ...] = ("complete_play", "heart", "skip")
"""The ranker's heads, each a binary label column of ``ranking_samples``."""

SPEC_FILE = "feature_spec.json"
POSITION = "position"
"""Training-only input of the position-bias tower (not a spec feature)."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind
    dtype: DType
    transform: Transform
    source: str  # where the raw value comes from (documentation, shown by describe())
    buckets: int = 0  # hash / index
    min_count: int = 1  # vocab: values seen fewer times in training map to OOV
    vocabulary: tuple[Any, ...] | None = None  # vocab, after fit
    mean: float | None = None  # numeric, after fit
    std: float | None = None
    counts: tuple[int, ...] | None = None  # vocab fitted on data: training rows per vocabulary entry
    length: int = 0  # 0: one value per row (B,); T > 0: a behaviour sequence (B, T)
    base: str | None = None  # sequence features: the candidate feature they share tables with

    @property
    def is_sequence(self) -> bool:
        return self.length > 0

    @property
    def categorical(self) -> bool:
        return self.transform in CATEGORICAL

    @property
    def cardinality(self) -> int:
        """Rows of this feature's embedding table (categorical features)."""
        if self.transform == "vocab":
            if self.vocabulary is None:
                raise ValueError(f"feature {self.name}: vocabulary not fitted")
            return len(self.vocabulary) + 1
        return self.buckets


@dataclass(frozen=True)
class FeatureSpec:
    features: tuple[Feature, ...]
    fitted: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate feature names in {names}")

    def __getitem__(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature {name!r} in the spec")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def of(self, *kinds: str) -> list[Feature]:
        """Features of the given kinds, in spec order."""
        return [f for f in self.features if f.kind in kinds]

    def names_of(self, *kinds: str) -> list[str]:
        return [f.name for f in self.of(*kinds)]

    @property
    def listener_names(self) -> list[str]:
        """User and context features: the per-request part (batch 1 at serving)."""
        return self.names_of(USER, CONTEXT)

    @property
    def candidate_names(self) -> list[str]:
        return self.names_of(CANDIDATE)

    @property
    def scalar_listener_names(self) -> list[str]:
        """Listener features with one value per row (no behaviour sequences)."""
        return [f.name for f in self.of(USER, CONTEXT) if not f.is_sequence]

    @property
    def sequence_names(self) -> list[str]:
        """Behaviour-sequence features, each (B, T)."""
        return [f.name for f in self.features if f.is_sequence]

    @property
    def behaviours(self) -> list[str]:
        """The behaviours whose sequences the spec holds (``play``, ``heart``, ``skip``)."""
        return list(dict.fromkeys(f.name.split(SEQ_INFIX, 1)[0] for f in self.features if f.is_sequence))

    @property
    def sequence_length(self) -> int:
        """T of the behaviour sequences (0 without any)."""
        return max((f.length for f in self.features), default=0)

    # -- fitting
    def fit(self, features: Mapping[str, np.ndarray]) -> "FeatureSpec":
        """Vocabularies and standardisation statistics from the *training* split's raw
        feature arrays (``inputs.raw_features`` output); returns a fitted copy."""
        out = []
        for f in self.features:
            if f.base is not None:  # shares the base's vocabulary / statistics (below)
                out.append(f)
                continue
            values = np.asarray(features[f.name])
            if f.transform == "vocab" and f.vocabulary is not None:
                out.append(f)  # a fixed vocabulary (scenario: the platform's own list)
            elif f.transform == "vocab":
                uniq, counts = np.unique(values, return_counts=True)
                kept = counts >= f.min_count
                keep, kept_counts = uniq[kept], counts[kept]
                vocab: tuple[Any, ...]
                if f.dtype == "string":
                    valid = np.array([str(v) != "" for v in keep], dtype=bool)
                    vocab = tuple(str(v) for v in keep[valid])
                else:
                    valid = np.array([int(v) >= 0 for v in keep], dtype=bool)
                    vocab = tuple(int(v) for v in keep[valid])
                out.append(replace(f, vocabulary=vocab, counts=tuple(int(c) for c in kept_counts[valid])))
            elif f.transform in NUMERIC:
                x = values.astype(np.float64)
                if f.transform == "log_norm":
                    x = np.log1p(np.maximum(x, 0))
                x = x[np.isfinite(x)]
                mean = float(x.mean()) if x.size else 0.0
                std = float(x.std()) if x.size else 1.0
                out.append(replace(f, mean=mean, std=std if std > 1e-6 else 1.0))
            else:
                out.append(f)
        fitted = {f.name: f for f in out}
        out = [replace(f, vocabulary=fitted[f.base].vocabulary, mean=fitted[f.base].mean, std=fitted[f.base].std)
               if f.base is not None else f for f in out]
        return replace(self, features=tuple(out), fitted=True)

    # -- persistence (JSON, never pickle)
    def to_json(self) -> dict[str, Any]:
        return {"fitted": self.fitted, "meta": self.meta,
                "features": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(f).items()}
                             for f in self.features]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FeatureSpec":
        feats = []
        for item in data["features"]:
            item = dict(item)
            for key in ("vocabulary", "counts"):
                if item.get(key) is not None:
                    item[key] = tuple(item[key])
            feats.append(Feature(**item))
        return cls(features=tuple(feats), fitted=bool(data.get("fitted")), meta=dict(data.get("meta", {})))

    def save(self, folder: Path) -> Path:
        path = Path(folder) / SPEC_FILE
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, folder: Path) -> "FeatureSpec":
        return cls.from_json(json.loads((Path(folder) / SPEC_FILE).read_text()))

    def describe(self) -> list[dict[str, Any]]:
        """One row per feature (name, kind, dtype, transform, size, source) for docs."""
        return [{"name": f.name, "kind": f.kind, "dtype": f.dtype, "transform": f.transform,
                 "size": (f.cardinality if f.categorical and (f.transform != "vocab" or f.vocabulary is not None)
                          else None), "source": f.source} for f in self.features]


USER_COUNTERS: tuple[str, ...] = (
    "user_exposures_30d", "user_plays_30d", "user_completes_30d", "user_skips_30d",
    "user_hearts_30d", "user_plays_today",
)
TRACK_COUNTS: tuple[str, ...] = ("track_plays", "track_listeners")
TRACK_RATES: tuple[str, ...] = ("track_completion_rate", "track_skip_rate", "track_heart_rate")
CATALOG_COLUMNS: tuple[str, ...] = (
    "artist_id", "album_id", "genre", "language", "valence", "arousal", "duration_ms", "release_year",
)
BEHAVIOURS: tuple[str, ...] = ("play", "heart", "skip", "complete")
"""Behaviour sequences a spec may hold; ``<b>_track_ids`` is the Query field / column."""
SEQ_INFIX = "_seq_"
SEQUENCE_PROFILE: tuple[str, ...] = ("track_id", "artist_id", "album_id", "genre", "language", "valence", "arousal")
"""The candidate features each behaviour is described by (its track profile)."""


SESSION = "session"
"""``<b>_seq_session``: the session rank of each behaviour (session ranker)."""


def sequence_ts_column(behaviour: str) -> str:
    """The raw column / Query field holding a behaviour's epoch ms: ``<b>_ts_ms``."""
    return f"{behaviour}_ts_ms"


def sequence_column(behaviour: str) -> str:
    """The raw column / Query field holding a behaviour's track ids: ``<b>_track_ids``."""
    return f"{behaviour}_track_ids"


def sequence_feature(behaviour: str, attr: str) -> str:
    """The spec name of attribute ``attr`` of behaviour ``behaviour``: ``<b>_seq_<attr>``."""
    return f"{behaviour}{SEQ_INFIX}{attr}"


def ranking_feature_spec(*, use_user_id: bool = True, user_id_buckets: int = 20_000,
                         min_count: int = 2, behaviours: Iterable[str] = (),
                         sequence_length: int = 50, sessions: Mapping[str, int] | None = None) -> FeatureSpec:
    """The (unfitted) spec every ranker shares. ``use_user_id`` switches the hashed
    user-id embedding (anonymous listeners share row 0); ``min_count`` is the vocabulary
    threshold for track, artist and album ids; ``behaviours`` (a subset of
    ``BEHAVIOURS``; none for the baseline) adds each behaviour's last
    ``sequence_length`` track profiles (see the module docstring). ``sessions``
    (``max_session_ms``, ``inactivity_gap_ms``, ``max_sessions``: the session ranker)
    adds ``<b>_seq_session`` per behaviour: (B, T) the session of each behaviour by the
    platform's sessionization rule over its timestamps (``<b>_ts_ms``), counted back
    from the latest (0) to ``max_sessions - 1``; older ones and padding -1. The rule's
    parameters are kept in ``meta["sessions"]`` so serving splits exactly as training."""
    from encore.platform.contracts.vocabulary import SCENARIOS

    feats: list[Feature] = []
    if use_user_id:
        feats.append(Feature("user_id", USER, "int64", "hash", "ranking_samples.user_id (-1: anonymous)",
                             buckets=user_id_buckets))
    feats.append(Feature("anonymous", USER, "float32", "norm", "ranking_samples.anonymous"))
    feats += [Feature(c, USER, "float32", "log_norm", f"ranking_samples.{c}") for c in USER_COUNTERS]
    feats += [
        Feature("scenario", CONTEXT, "string", "vocab", "ranking_samples.scenario",
                vocabulary=tuple(SCENARIOS)),
        Feature("hour", CONTEXT, "int64", "index", "UTC hour of ranking_samples.ts", buckets=24),
        Feature("day_of_week", CONTEXT, "int64", "index", "weekday of ranking_samples.ts (0 = Monday)",
                buckets=7),
        Feature("track_id", CANDIDATE, "int64", "vocab", "ranking_samples.track_id", min_count=min_count),
        Feature("artist_id", CANDIDATE, "int64", "vocab", "catalog tracks.artist_id", min_count=min_count),
        Feature("album_id", CANDIDATE, "int64", "vocab", "catalog tracks.album_id", min_count=min_count),
        Feature("genre", CANDIDATE, "string", "vocab", "catalog tracks.genre"),
        Feature("language", CANDIDATE, "string", "vocab", "catalog tracks.language"),
        Feature("valence", CANDIDATE, "float32", "norm", "catalog tracks.valence"),
        Feature("arousal", CANDIDATE, "float32", "norm", "catalog tracks.arousal"),
        Feature("duration_ms", CANDIDATE, "float32", "log_norm", "catalog tracks.duration_ms"),
        Feature("release_year", CANDIDATE, "float32", "norm", "catalog tracks.release_year"),
    ]
    feats += [Feature(c, CANDIDATE, "float32", "log_norm", f"ranking_samples.{c} (item_stats, previous day)")
              for c in TRACK_COUNTS]
    feats += [Feature(c, CANDIDATE, "float32", "norm", f"ranking_samples.{c} (item_stats, previous day)")
              for c in TRACK_RATES]
    feats.append(Feature("user_track_plays_30d", CANDIDATE, "float32", "log_norm",
                         "ranking_samples.user_track_plays_30d (repeat consumption)"))
    behaviours = list(behaviours)
    unknown = sorted(set(behaviours) - set(BEHAVIOURS))
    if unknown:
        raise ValueError(f"unknown behaviours {unknown}; known: {list(BEHAVIOURS)}")
    if behaviours and sequence_length < 1:
        raise ValueError("sequence_length must be >= 1")
    by_name = {f.name: f for f in feats}
    for b in behaviours:
        for attr in SEQUENCE_PROFILE:
            base = by_name[attr]
            feats.append(replace(base, name=sequence_feature(b, attr), kind=USER, length=sequence_length,
                                 base=attr, source=f"the last {sequence_length} Query.{sequence_column(b)} "
                                                   f"before the request -> {base.source}"))
        if sessions is not None:
            feats.append(Feature(sequence_feature(b, SESSION), USER, "int64", "index",
                                 f"sessions of Query.{b}_ts_ms (the sessionization rule), latest = 0",
                                 buckets=int(sessions["max_sessions"]), length=sequence_length))
    meta = {"sessions": {k: int(v) for k, v in sessions.items()}} if sessions is not None else {}
    return FeatureSpec(features=tuple(feats), meta=meta)


def np_dtype(dtype: str) -> Any:
    return {"int64": np.int64, "float32": np.float32, "string": object}[dtype]


def coerce(feature: Feature, values: Iterable[Any] | np.ndarray) -> np.ndarray:
    """``values`` as a numpy array of the feature's raw dtype (strings as object): 1-D,
    or (B, T) for a sequence feature (a (T,) array is one row)."""
    arr = np.asarray(values)
    if feature.is_sequence:
        arr = arr.reshape(-1, feature.length)
        if feature.dtype == "string":
            return np.array(["" if v is None else str(v) for v in arr.ravel()], dtype=object).reshape(arr.shape)
        return arr.astype(np.int64 if feature.dtype == "int64" else np.float32)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if feature.dtype == "string":
        return np.array(["" if v is None else str(v) for v in arr.ravel()], dtype=object)
    if feature.dtype == "int64":
        return arr.astype(np.int64).ravel()
    return arr.astype(np.float32).ravel()

"""``Query``: everything a recall channel may read about one request.

A channel is pure at recall time: its candidates are a function of the Query and of
the tables it was fitted on, nothing else. Queries are built in exactly one place,
:mod:`encore.recall.queries` (from Feast online rows at serving time, point-in-time
from the event log for training and offline evaluation), so both paths agree.

Contents (all immutable tuples, so a Query is cheap to build, hashable and compares by
value):

* who: ``user_id`` (a known listener) or ``anonymous_id`` (the client's session id);
* recent sequences, oldest first, at most ``recall.history_length`` entries each:
  plays (``play_start``: track ids + epoch ms), hearts (tracks currently hearted:
  an unheart removes them) and skips (track ids + epoch ms + the playback position
  ``skip_at_ms`` at which they were skipped) and dislikes (track ids: never to be
  recommended);
* ``session``: the current session (id, scenario, start ms, the track ids started in
  it, oldest first). It is empty when the request opens a new session by the one
  sessionization rule (:mod:`encore.platform.contracts.sessions`);
* ``profile``: long-term taste as in the Feast ``user_profile`` view: top genres and
  artists (ranked; weights ``1 / rank``), languages (the home language, weight 1),
  age bucket, region, 30-day activity;
* ``context``: request time (epoch ms), local hour (0..23), scenario (lower-case log
  vocabulary: daily_recommend, private_radio, playlist, search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Session:
    """The listener's current session; ``track_ids`` are its play_starts, oldest first."""

    session_id: str = ""
    scenario: str = ""
    start_ms: int = 0
    track_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Profile:
    """Long-term taste (the ``user_profile`` Feast view). Weights align with their
    names/ids; empty tuples when the listener has no profile row (new or anonymous)."""

    genres: tuple[str, ...] = ()
    genre_weights: tuple[float, ...] = ()
    languages: tuple[str, ...] = ()
    language_weights: tuple[float, ...] = ()
    artist_ids: tuple[int, ...] = ()
    artist_weights: tuple[float, ...] = ()
    age_bucket: str = ""
    region: str = ""
    plays_30d: int = 0
    skip_rate_30d: float = 0.0
    active_days_30d: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.genres or self.languages or self.artist_ids or self.age_bucket)


@dataclass(frozen=True)
class Context:
    """When and where the request happens."""

    request_ms: int
    local_hour: int
    scenario: str = ""


@dataclass(frozen=True)
class Query:
    """One recall request (see the module docstring for every field)."""

    context: Context
    user_id: int | None = None
    anonymous_id: str | None = None
    play_track_ids: tuple[int, ...] = ()
    play_ts_ms: tuple[int, ...] = ()
    heart_track_ids: tuple[int, ...] = ()
    heart_ts_ms: tuple[int, ...] = ()
    skip_track_ids: tuple[int, ...] = ()
    skip_ts_ms: tuple[int, ...] = ()
    skip_at_ms: tuple[int, ...] = ()
    dislike_track_ids: tuple[int, ...] = ()
    complete_track_ids: tuple[int, ...] = ()
    complete_ts_ms: tuple[int, ...] = ()
    session: Session = field(default_factory=Session)
    profile: Profile = field(default_factory=Profile)

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.anonymous_id is None):
            raise ValueError("a Query has exactly one of user_id and anonymous_id")
        if len(self.play_track_ids) != len(self.play_ts_ms):
            raise ValueError("play_track_ids and play_ts_ms differ in length")
        if len(self.heart_track_ids) != len(self.heart_ts_ms):
            raise ValueError("heart_track_ids and heart_ts_ms differ in length")
        if len(self.complete_track_ids) != len(self.complete_ts_ms):
            raise ValueError("complete_track_ids and complete_ts_ms differ in length")
        if not len(self.skip_track_ids) == len(self.skip_ts_ms) == len(self.skip_at_ms):
            raise ValueError("skip_track_ids, skip_ts_ms and skip_at_ms differ in length")

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    @property
    def listener(self) -> str:
        """A printable key: ``u:<id>`` or ``a:<anonymous id>``."""
        return f"u:{self.user_id}" if self.user_id is not None else f"a:{self.anonymous_id}"

    @property
    def has_history(self) -> bool:
        return bool(self.play_track_ids or self.heart_track_ids or self.session.track_ids)


def anonymous_query(anonymous_id: str, session_track_ids: tuple[int, ...], request_ms: int,
                    scenario: str = "private_radio", local_hour: int | None = None) -> Query:
    """A Query for an anonymous listener from what its client sent (session only)."""
    hour = int(request_ms // 3_600_000 % 24) if local_hour is None else local_hour
    return Query(
        context=Context(request_ms=int(request_ms), local_hour=hour, scenario=scenario),
        anonymous_id=anonymous_id,
        session=Session(session_id=anonymous_id, scenario=scenario,
                        track_ids=tuple(int(t) for t in session_track_ids)),
    )


def as_array(values: tuple[int, ...]) -> np.ndarray:
    """A Query sequence as an int64 array (the form channels compute on)."""
    return np.fromiter(values, dtype=np.int64, count=len(values))


def sequence_batch(queries: "Sequence[Query]", ids: str, ts: str | None = None,
                   last: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sequence field of every query as flat arrays ``(rows, track_ids, ts_ms)``
    (row = the query's position; at most the ``last`` entries of each; ``ts_ms`` is
    zeros when ``ts`` is None). ``ids`` / ``ts`` name Query fields or ``session.track_ids``."""
    def get(q: Query, name: str) -> tuple[int, ...]:
        return q.session.track_ids if name == "session.track_ids" else getattr(q, name)

    seqs = [get(q, ids)[-last:] if last else get(q, ids) for q in queries]
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    total = int(lengths.sum())
    rows = np.repeat(np.arange(len(seqs)), lengths)
    track_ids = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=total)
    if ts is None:
        return rows, track_ids, np.zeros(total, dtype=np.int64)
    times = [get(q, ts)[-last:] if last else get(q, ts) for q in queries]
    return rows, track_ids, np.fromiter((t for s in times for t in s), dtype=np.int64, count=total)

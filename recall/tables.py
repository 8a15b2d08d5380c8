"""``RecallTables``: the small typed bundle every channel is fitted from, and its loader.

Contents (pandas frames; ``ts_ms`` columns are epoch milliseconds, int64):

* ``tracks``: the catalog (``catalog/tracks.parquet``: track_id, artist_id, genre,
  language, duration_ms, ...): the universe of candidates;
* ``events``: the event log of the fitting window (world ``EVENTS`` columns + ``ts_ms``),
  every event strictly before ``as_of_ms``;
* ``as_of_ms``: the end of the window (exclusive): time decays are measured from it;
* ``users``: ``users/users.parquet`` (user_id, kind, signup_date, age_bucket, region,
  home_language), or None;
* ``item_graph``: one date partition of the ``item_graph`` batch table (src_track_id,
  dst_track_id, weight, ...; see :mod:`encore.platform.batch.item_graph`), or None;
* ``sessions``: session_id, start_ms, track_ids (play_start track ids in order), from
  the ``sessions`` batch table or :func:`sessions_from_events`, or None;
* ``recall_samples``: the ``recall_samples`` batch table of the window (user_id,
  session_id, scenario, ts, target_track_id, label; capped by the sampling rule), or
  None;
* ``triples``: the knowledge graph (``kg/triples.parquet``: head, relation, tail over
  typed entity ids such as ``track:12``, ``show:3``), or None;
* ``entity_names``: display names of knowledge-graph entities (entity, name: the
  ``artist:<id>`` rows from ``catalog/artists.parquet``, ``show:<id>`` rows from
  ``catalog/shows.parquet``), or None;
* ``query_params`` / ``sampling``: the Query rule and the per-listener sampling rule
  the tables were made with, for channels that build Queries or samples from the log
  themselves (the neural channels);
* ``derived``: a cache of what channels derive from these tables and can share (the
  neural channels' training Queries), not compared or printed.

:func:`load_recall_tables` reads them with pyarrow from a world folder and a batch
output root for the window of days before ``until`` (the first day *not* fitted): the
item graph of the day before ``until`` (its window ends there), sessions that ended
before ``until``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from encore.platform.config import SamplingConfig
from encore.recall.queries import QueryParams, prepare_log, session_ids


@dataclass(frozen=True)
class RecallTables:
    """What a channel is fitted from (see the module docstring)."""

    tracks: pd.DataFrame
    events: pd.DataFrame
    as_of_ms: int
    users: pd.DataFrame | None = None
    item_graph: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    recall_samples: pd.DataFrame | None = None
    triples: pd.DataFrame | None = None
    entity_names: pd.DataFrame | None = None
    query_params: QueryParams = QueryParams()
    sampling: SamplingConfig = SamplingConfig()
    derived: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if "ts_ms" not in self.events:
            raise ValueError("RecallTables.events needs a ts_ms column (use with_ts_ms)")
        if len(self.events) and int(self.events["ts_ms"].max()) >= self.as_of_ms:
            raise ValueError("RecallTables.events must all be strictly before as_of_ms")


def with_ts_ms(events: pd.DataFrame) -> pd.DataFrame:
    """``events`` with ``ts_ms`` (epoch ms) from ``ts``."""
    ts = events["ts"]
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return events.assign(ts_ms=ts.to_numpy(dtype="datetime64[ms]").astype(np.int64))


def sessions_from_events(events: pd.DataFrame, params: QueryParams) -> pd.DataFrame:
    """Sessions (session_id, start_ms, track_ids) from the log by the one rule."""
    ev = prepare_log(events, params)
    plays = np.flatnonzero((ev["action"] == "play_start").to_numpy())  # in (listener, ts, event_id) order
    sno = ev["sno"].to_numpy(dtype=np.int64)[plays]
    starts = np.flatnonzero(np.r_[True, sno[1:] != sno[:-1]]) if len(sno) else np.zeros(0, np.int64)
    names = session_ids(ev, plays[starts])
    track_ids = np.split(ev["track_id"].to_numpy(dtype=np.int64)[plays], starts[1:]) if len(sno) else []
    order = np.argsort(names.astype(str), kind="stable") if len(names) else np.zeros(0, np.int64)
    return pd.DataFrame({
        "session_id": names[order],
        "start_ms": ev["sid_start_ms"].to_numpy(dtype=np.int64)[plays[starts]][order],
        "track_ids": [track_ids[i] for i in order],
    })


_DAY_MS = 86_400_000


def item_graph_frame(events: pd.DataFrame, min_support: int = 2, top_n: int = 50,
                     max_items: int = 200) -> pd.DataFrame:
    """The ``item_graph`` table by its rule (:mod:`encore.platform.batch.item_graph`) in
    pandas, for small logs that need no Spark (the demo, tests): the first ``max_items``
    distinct tracks of each user-day (an anonymous listener: each session) co-listen;
    weight(a -> b) = co-listening contexts / contexts of a; at least ``min_support``;
    the ``top_n`` heaviest per source track."""
    ev = events[events["action"] == "play_start"]
    ctx = np.where(ev["user_id"].isna(), "a:" + ev["session_id"].astype(str),
                   ev["user_id"].astype("Int64").astype(str) + "@" + (ev["ts_ms"] // _DAY_MS).astype(str))
    first = ev.assign(ctx=ctx).sort_values(["ts_ms", "event_id"]).drop_duplicates(["ctx", "track_id"])
    first = first[first.groupby("ctx").cumcount() < max_items][["ctx", "track_id"]]
    pairs = first.merge(first, on="ctx", suffixes=("_a", "_b"))
    pairs = pairs[pairs["track_id_a"] != pairs["track_id_b"]]
    co = pairs.groupby(["track_id_a", "track_id_b"]).size().rename("co_count").reset_index()
    co = co[co["co_count"] >= min_support]
    listeners = first.groupby("track_id").size()
    co["weight"] = co["co_count"] / listeners.loc[co["track_id_a"]].to_numpy()
    co = co.sort_values(["track_id_a", "weight", "track_id_b"], ascending=[True, False, True])
    co = co[co.groupby("track_id_a").cumcount() < top_n]
    return co.rename(columns={"track_id_a": "src_track_id", "track_id_b": "dst_track_id"}).reset_index(drop=True)


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _read_partition(folder: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(("_", ".")))
    if not files:
        return None
    return pd.concat([pq.read_table(f, columns=columns).to_pandas() for f in files], ignore_index=True)


def read_events(world_dir: Path, days: list[date]) -> pd.DataFrame:
    """The world's event log of ``days`` (absent days skipped), with ``ts_ms``."""
    frames = [_read_partition(Path(world_dir) / "events" / f"date={d.isoformat()}") for d in days]
    frames = [f for f in frames if f is not None]
    if not frames:
        raise FileNotFoundError(f"no event partitions of {days[0]}..{days[-1]} under {world_dir}/events")
    return with_ts_ms(pd.concat(frames, ignore_index=True))


def read_knowledge_graph(world_dir: Path | str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(triples, entity_names) of a world folder; None where the files are absent."""
    world_dir = Path(world_dir)
    triples_file = world_dir / "kg" / "triples.parquet"
    triples = pq.read_table(triples_file).to_pandas() if triples_file.is_file() else None
    names = []
    for file, key, prefix in (("artists.parquet", "artist_id", "artist:"), ("shows.parquet", "show_id", "show:")):
        path = world_dir / "catalog" / file
        if path.is_file():
            table = pq.read_table(path, columns=[key, "name"]).to_pandas()
            names.append(pd.DataFrame({"entity": prefix + table[key].astype(str), "name": table["name"].astype(str)}))
    return triples, (pd.concat(names, ignore_index=True) if names else None)


RECALL_SAMPLE_COLUMNS = ["user_id", "session_id", "scenario", "ts", "target_track_id", "label"]


def load_recall_tables(world_dir: Path | str, batch_dir: Path | str | None, until: date,
                       window_days: int = 30, *, query_params: QueryParams | None = None,
                       sampling: SamplingConfig | None = None) -> RecallTables:
    """The bundle for fitting on the ``window_days`` days before ``until``."""
    world_dir = Path(world_dir)
    days = [until - timedelta(days=i) for i in range(window_days, 0, -1)]
    events = read_events(world_dir, days)
    as_of = day_start_ms(until)
    track_file = world_dir / "catalog" / "tracks.parquet"
    # valence / arousal when the catalog has them: the session GNN's emotion_source "catalog"
    emotion = [c for c in ("valence", "arousal") if c in pq.read_schema(track_file).names]
    tracks = pq.read_table(track_file, columns=["track_id", "artist_id", "album_id", "genre", "language",
                                                "duration_ms", "popularity", *emotion]).to_pandas()
    users_file = world_dir / "users" / "users.parquet"
    users = pq.read_table(users_file).to_pandas() if users_file.is_file() else None
    triples, entity_names = read_knowledge_graph(world_dir)
    graph = sessions = samples = None
    if batch_dir is not None:
        batch_dir = Path(batch_dir)
        graph = _read_partition(batch_dir / "item_graph" / f"date={(until - timedelta(days=1)).isoformat()}")
        parts = [_read_partition(batch_dir / "sessions" / f"date={d.isoformat()}") for d in days]
        parts = [p for p in parts if p is not None]
        if parts:
            table = pd.concat(parts, ignore_index=True)
            end_ms = with_ts_ms(table.rename(columns={"end_ts": "ts"}))["ts_ms"]
            start_ms = with_ts_ms(table.rename(columns={"start_ts": "ts"}))["ts_ms"]
            keep = (end_ms < as_of).to_numpy()
            sessions = pd.DataFrame({
                "session_id": table["session_id"].to_numpy()[keep],
                "start_ms": start_ms.to_numpy()[keep],
                "track_ids": [np.asarray(t, dtype=np.int64) for t in table["track_ids"].to_numpy()[keep]],
            })
        sample_parts = [_read_partition(batch_dir / "recall_samples" / f"date={d.isoformat()}",
                                        RECALL_SAMPLE_COLUMNS) for d in days]
        sample_parts = [p for p in sample_parts if p is not None]
        samples = pd.concat(sample_parts, ignore_index=True) if sample_parts else None
    return RecallTables(tracks=tracks, events=events, as_of_ms=as_of, users=users,
                        item_graph=graph, sessions=sessions, recall_samples=samples,
                        triples=triples, entity_names=entity_names,
                        query_params=query_params or QueryParams(), sampling=sampling or SamplingConfig())

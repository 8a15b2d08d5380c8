"""Reading a generated world back: ``load_world`` and ``summarize``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationError

from encore.platform.world import schema
from encore.platform.world.generate import WorldManifest
from encore.platform.world.schema import WorldSchemaError, check_schema
from encore.platform.checksums import sha256_file


@dataclass(frozen=True)
class World:
    """A loaded world: the catalog, users (profiles only) and knowledge graph as
    DataFrames; truth tables (who is a bot, taste, ...) and events are read on demand."""

    path: Path
    manifest: WorldManifest
    artists: pd.DataFrame
    albums: pd.DataFrame
    tracks: pd.DataFrame
    shows: pd.DataFrame
    triples: pd.DataFrame
    users: pd.DataFrame

    @property
    def dates(self) -> list[str]:
        return list(self.manifest.dates)

    def truth(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One truth table: user_kinds, user_taste, interests, sessions or exposures."""
        rel = f"truth/{name}.parquet"
        if rel not in schema.TABLES:
            known = ", ".join(t.removeprefix("truth/").removesuffix(".parquet")
                              for t in schema.TABLES if t.startswith("truth/"))
            raise KeyError(f"no truth table {name!r}; known: {known}")
        return pq.read_table(self.path / rel, columns=list(columns) if columns else None).to_pandas()

    def policy_slates(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The logging policy's log (policy/slates.parquet): one row per request with its
        candidate pool, scores, temperature and the shown tracks' propensities and
        marginal slate probabilities (see encore.platform.world.policy)."""
        return pq.read_table(self.path / "policy/slates.parquet",
                             columns=list(columns) if columns else None).to_pandas()

    def past_plays(self) -> pd.DataFrame:
        """Play counts per (user_id, track_id) before the world's first day
        (users/past_plays.parquet, see encore.platform.world.past)."""
        return pq.read_table(self.path / "users/past_plays.parquet").to_pandas()

    def events(self, dates: Sequence[str] | None = None,
               columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The event log of ``dates`` (all days if None), in (date, ts) order."""
        frames = [frame for _, frame in self.iter_event_days(dates, columns)]
        if not frames:
            return schema.EVENTS.empty_table().to_pandas()
        return pd.concat(frames, ignore_index=True)

    def iter_event_days(self, dates: Sequence[str] | None = None,
                        columns: Sequence[str] | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
        """(date, events of that date) for each day, one day in memory at a time."""
        wanted = self.dates if dates is None else list(dates)
        unknown = sorted(set(wanted) - set(self.dates))
        if unknown:
            raise KeyError(f"dates not in this world ({self.dates[0]}..{self.dates[-1]}): {unknown}")
        for day in wanted:
            table = pq.read_table(self.path / schema.event_partition(day),
                                  columns=list(columns) if columns else None)
            yield day, table.to_pandas()


def load_world(path: Path | str, verify_checksums: bool = False) -> World:
    """Open a world folder, checking its manifest and every file's schema.

    Raises WorldSchemaError naming the file at fault when the manifest is missing or
    invalid, a listed file is missing, a file's columns differ from the contract, or
    (with ``verify_checksums``) a file's sha256 differs from the manifest's.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    if manifest.schema_version != schema.SCHEMA_VERSION:
        raise WorldSchemaError(
            f"{path / schema.MANIFEST}: schema version {manifest.schema_version}, this code "
            f"reads {schema.SCHEMA_VERSION}; regenerate the world")
    expected = dict(schema.TABLES) | {schema.event_partition(d): schema.EVENTS for d in manifest.dates}
    for rel, table_schema in expected.items():
        file = path / rel
        if not file.is_file():
            raise WorldSchemaError(f"{file} is missing from the world")
        check_schema(str(file), table_schema, pq.read_schema(file))
        if verify_checksums and sha256_file(file) != manifest.files.get(rel):
            raise WorldSchemaError(f"{file} does not match its sha256 in the manifest")

    def read(rel: str) -> pd.DataFrame:
        return pq.read_table(path / rel).to_pandas()

    return World(
        path=path, manifest=manifest,
        artists=read("catalog/artists.parquet"), albums=read("catalog/albums.parquet"),
        tracks=read("catalog/tracks.parquet"), shows=read("catalog/shows.parquet"),
        triples=read("kg/triples.parquet"), users=read("users/users.parquet"),
    )


def _read_manifest(path: Path) -> WorldManifest:
    file = path / schema.MANIFEST
    try:
        return WorldManifest.model_validate(json.loads(file.read_text()))
    except FileNotFoundError as err:
        raise WorldSchemaError(f"{file} not found: {path} is not a generated world") from err
    except (json.JSONDecodeError, ValidationError) as err:
        raise WorldSchemaError(f"{file} is not a valid world manifest: {err}") from err


def repeat_share(plays: pd.DataFrame, past: pd.DataFrame | None = None,
                 window_days: int | None = None) -> float:
    """Share of plays (play_start rows with user_id, track_id, ts) that re-play a track
    the listener played in the previous ``window_days`` days (see ``repeat_flags``)."""
    return float(repeat_flags(plays, past, window_days).mean()) if len(plays) else 0.0


def repeat_flags(plays: pd.DataFrame, past: pd.DataFrame | None = None,
                 window_days: int | None = None) -> pd.Series:
    """Per play (index of ``plays``): whether the listener played the same track in the
    previous ``window_days`` days: earlier the same (UTC) day, or on one of the
    ``window_days`` days before, in the log or, when ``past`` is given
    (users/past_plays.parquet: user_id, track_id, date), before day 0. That is the
    world's definition (``world.history_window_days``, what listeners remember: see
    encore.platform.world.history); ``window_days=None`` looks back over all time."""
    ts = plays["ts"].sort_values(kind="stable")
    order = ts.index
    user = plays.loc[order, "user_id"].to_numpy(dtype=np.int64)
    track = plays.loc[order, "track_id"].to_numpy(dtype=np.int64)
    day = ts.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    seq = np.arange(len(order))
    if past is not None and len(past):
        user = np.concatenate([past["user_id"].to_numpy(dtype=np.int64), user])
        track = np.concatenate([past["track_id"].to_numpy(dtype=np.int64), track])
        past_day = np.asarray(past["date"], dtype="datetime64[D]").astype(np.int64)
        day = np.concatenate([past_day, day])
        seq = np.concatenate([np.full(len(past), -1), seq])
    by = np.lexsort((seq, day, track, user))
    user, track, day, seq = user[by], track[by], day[by], seq[by]
    same = np.zeros(len(by), dtype=bool)
    same[1:] = (user[1:] == user[:-1]) & (track[1:] == track[:-1])
    if window_days is not None:
        same[1:] &= day[1:] - day[:-1] <= window_days
    in_log = seq >= 0
    flags = np.zeros(len(order), dtype=bool)
    flags[seq[in_log]] = same[in_log]
    return pd.Series(flags, index=order).reindex(plays.index)


def summarize(world: World) -> dict[str, Any]:
    """Counts, events by action, skip rates, repeat share, users by kind, date range.

    ``repeat_share_regular``: share of regular users' plays that re-play a track the
    listener played in the previous ``world.history_window_days`` days, the listening
    before day 0 included (``repeat_share``); ``repeat_share_window_days`` is that window.

    ``skip_rate`` is skips / plays over every play; bots (always-on players that never
    skip) pull it down, so ``skip_rate_without_bots`` gives the same over the plays of
    everyone else (users of other kinds and anonymous visitors). Kinds come from the
    truth file ``truth/user_kinds.parquet``.
    """
    kinds = world.truth("user_kinds", columns=["user_id", "kind"])
    bots = kinds.loc[kinds["kind"] == "bot", "user_id"]
    by_action: dict[str, int] = dict.fromkeys(schema.ACTIONS, 0)
    bot_plays = bot_skips = 0
    plays = []
    for _, day in world.iter_event_days(columns=["ts", "user_id", "track_id", "action"]):
        for action, n in day["action"].value_counts().items():
            by_action[str(action)] += int(n)
        by_bot = day["user_id"].isin(bots)
        bot_plays += int((by_bot & (day["action"] == "play_start")).sum())
        bot_skips += int((by_bot & (day["action"] == "skip")).sum())
        plays.append(day.loc[day["action"] == "play_start", ["ts", "user_id", "track_id"]])
    all_plays = pd.concat(plays, ignore_index=True) if plays else pd.DataFrame(columns=["ts", "user_id", "track_id"])
    regular = kinds.loc[kinds["kind"] == "regular", "user_id"]
    human_plays = by_action["play_start"] - bot_plays
    counts = world.manifest.counts
    return {
        "path": str(world.path),
        "date_range": [world.dates[0], world.dates[-1]] if world.dates else [],
        "days": len(world.dates),
        "users": len(world.users),
        "users_by_kind": {k: int(n) for k, n in kinds["kind"].value_counts().sort_index().items()},
        "tracks": len(world.tracks),
        "artists": len(world.artists),
        "triples": len(world.triples),
        "events": counts.get("events", 0),
        "sessions": counts.get("sessions", 0),
        "anonymous_sessions": counts.get("anonymous_sessions", 0),
        "events_by_action": by_action,
        "skip_rate": by_action["skip"] / by_action["play_start"] if by_action["play_start"] else 0.0,
        "skip_rate_without_bots": (by_action["skip"] - bot_skips) / human_plays if human_plays else 0.0,
        "repeat_share_regular": repeat_share(all_plays[all_plays["user_id"].isin(regular)], world.past_plays(),
                                             world.manifest.config.history_window_days),
        "repeat_share_window_days": world.manifest.config.history_window_days,
        "repeat_share_band": list(world.manifest.config.repeat_share_band),
    }

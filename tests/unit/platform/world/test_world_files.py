"""The on-disk contract: layout, schemas, ordering, ids, determinism, load errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.contracts.sessions import sessionize_frame
from encore.platform.world import WorldSchemaError, generate_world, load_world
from encore.platform.world import schema
from encore.platform.checksums import sha256_file

EXPECTED_EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("user_id", pa.int64()),
    ("session_id", pa.string()), ("scenario", pa.string()), ("track_id", pa.int64()),
    ("action", pa.string()), ("played_ms", pa.int64()), ("position", pa.int32()),
    ("propensity", pa.float32()), ("request_id", pa.string()),
])


def test_layout_and_event_schema(small_world, small_world_path):
    for rel in schema.TABLES:
        assert (small_world_path / rel).is_file(), rel
    for day in small_world.dates:
        file = small_world_path / f"events/date={day}/part-00000.parquet"
        table = pq.read_table(file)
        assert table.schema.equals(EXPECTED_EVENT_SCHEMA)
        ts = table["ts"].cast(pa.int64()).to_numpy()
        assert (np.diff(ts) >= 0).all(), "rows sorted by ts within a partition"
        assert table["ts"].cast(pa.date32()).unique().to_pylist() == [np.datetime64(day).astype(object)]
    assert set(small_world.manifest.files) == {
        str(p.relative_to(small_world_path)) for p in small_world_path.rglob("*.parquet")}


def test_event_values(small_world, events):
    assert events["event_id"].is_unique
    assert set(events["action"]) == set(schema.ACTIONS)
    assert set(events["scenario"]) <= set(schema.SCENARIOS)
    exposures = events[events["action"] == "exposure"]
    assert exposures["position"].between(0, small_world.manifest.config.exposures_per_request - 1).all()
    assert exposures["propensity"].between(0, 1, inclusive="right").all()
    assert exposures["request_id"].notna().all()
    others = events[events["action"] != "exposure"]
    assert others["position"].isna().all() and others["propensity"].isna().all()
    timed = events["action"].isin(["play_end", "skip"])
    assert events.loc[timed, "played_ms"].ge(0).all()
    assert events.loc[~timed, "played_ms"].isna().all()
    assert events["track_id"].between(0, len(small_world.tracks) - 1).all()


def test_catalog_contents(small_world):
    tracks, cfg = small_world.tracks, small_world.manifest.config
    assert tracks["valence"].between(-1, 1).all() and tracks["arousal"].between(-1, 1).all()
    assert tracks["audio"].map(len).eq(cfg.audio_dim).all()
    assert tracks["lyrics"].map(len).eq(cfg.lyrics_len).all()
    assert np.concatenate(tracks["lyrics"].to_list()).max() < small_world.manifest.lyrics_vocab_size
    popularity = np.sort(tracks["popularity"].to_numpy())[::-1]
    assert popularity[: len(popularity) // 100].sum() > 5 * popularity[-len(popularity) // 100:].sum() * 10
    relations = set(small_world.triples["relation"])
    assert relations == {"in_album", "by_artist", "soundtrack_of", "appeared_in", "from_origin",
                         "has_genre", "in_language"}
    assert set(small_world.shows["kind"]) == set(schema.SHOW_KINDS)


def test_user_sessions_follow_the_sessionization_rule(small_world, events):
    sessions = small_world.manifest.sessions
    keyed = events[events["user_id"].notna()].astype({"user_id": "int64"})
    recomputed = sessionize_frame(
        keyed, key_col="user_id", max_session_ms=sessions.max_session_ms,
        inactivity_gap_ms=sessions.inactivity_gap_ms)
    assert recomputed.equals(keyed["session_id"].rename("session_id"))
    start_ms = (keyed.groupby("session_id")["ts"].transform("min") - pd.Timestamp(0, tz="UTC")) \
        // pd.Timedelta(milliseconds=1)
    assert (keyed["user_id"].astype(str) + "-" + start_ms.astype(str)).equals(keyed["session_id"])


def test_same_seed_same_bytes_other_seed_other_bytes(small_world, small_world_path, tmp_path,
                                                    world_config):
    again = tmp_path / "again"
    generate_world(world_config(), again, progress=False)
    for rel, digest in small_world.manifest.files.items():
        assert sha256_file(again / rel) == digest, rel
    assert (again / schema.MANIFEST).read_bytes() == (small_world_path / schema.MANIFEST).read_bytes()

    other_path = tmp_path / "other"
    generate_world(world_config(users=60, days=1, seed=12), other_path, progress=False)
    other = load_world(other_path)
    assert other.manifest.files["catalog/tracks.parquet"] != small_world.manifest.files["catalog/tracks.parquet"]
    assert other.manifest.files[f"events/date={other.dates[0]}/part-00000.parquet"] != \
        small_world.manifest.files[f"events/date={other.dates[0]}/part-00000.parquet"]


def test_load_world_names_the_file_at_fault(small_world_path, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_world_path, broken)
    (broken / "catalog/shows.parquet").unlink()
    with pytest.raises(WorldSchemaError, match="shows.parquet"):
        load_world(broken)

    shutil.copy(small_world_path / "catalog/shows.parquet", broken / "catalog/shows.parquet")
    pq.write_table(pa.table({"head": ["a"], "relation": [1]}), broken / "kg/triples.parquet")
    with pytest.raises(WorldSchemaError, match="triples.parquet.*tail"):
        load_world(broken)

    with pytest.raises(WorldSchemaError, match="manifest.json"):
        load_world(tmp_path / "nowhere")


def test_users_hold_no_planted_label_and_the_truth_does(small_world, small_world_path):
    """What models read (users/) carries no ground truth; the kind is in truth/."""
    assert "kind" not in pq.read_schema(small_world_path / "users/users.parquet").names
    assert "kind" not in small_world.users.columns
    kinds = small_world.truth("user_kinds")
    assert kinds["user_id"].tolist() == small_world.users["user_id"].tolist()
    assert set(kinds["kind"]) == set(schema.USER_KINDS)
    assert not kinds.loc[kinds["kind"] != "new", "never_active"].any()

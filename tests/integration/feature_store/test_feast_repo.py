"""The Feast repo against real stores: apply, push, materialize, point-in-time joins,
SQLite == Redis, and the serving FeatureClient on top.

One offline folder and one applied store per online store are shared by the module
(Feast start-up dominates the cost); every test uses its own entity ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast.data_source import PushMode

from encore.feature_store import schema
from encore.feature_store.client import FeatureClient
from encore.feature_store.definitions import REPO_DIR
from encore.feature_store.offline import historical_features

pytestmark = pytest.mark.integration

T1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T2 = datetime(2026, 1, 10, tzinfo=timezone.utc)
WINDOW = (datetime(2025, 12, 1, tzinfo=timezone.utc), datetime(2026, 2, 1, tzinfo=timezone.utc))

TRACK_AT_T1 = dict(artist_id=10, album_id=100, genre="rock", language="en", release_year=1999,
                   duration_ms=200_000, valence=0.25, arousal=0.5, popularity=0.125, play_count=3,
                   completion_rate=0.5, skip_rate=0.25, heart_rate=0.0,
                   predicted_valence=0.375, predicted_arousal=-0.625)
TRACK_AT_T2 = dict(TRACK_AT_T1, genre="pop", popularity=0.75, play_count=40, completion_rate=0.875)
ARTIST_10 = dict(genre="rock", language="en", track_count=12, play_count=300, listener_count=25,
                 completion_rate=0.5, skip_rate=0.25)
USER_5 = dict(age_bucket="25-34", region="eu", home_language="en", top_genres=["rock", "jazz"],
              top_artist_ids=[10, 11], plays_30d=120, skip_rate_30d=0.25, active_days_30d=20)


def _write(spec: schema.SourceSpec, offline_dir: Path, rows: list[tuple[int, datetime, dict]]) -> None:
    records = [{spec.join_key: key, schema.EVENT_TIMESTAMP: ts, **features} for key, ts, features in rows]
    table = pa.Table.from_pylist(records, schema=spec.arrow_schema)
    location = spec.location(offline_dir)
    location.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, location / "part-00000.parquet")


def _realtime(session: str, n: int) -> dict:
    """A user_realtime row whose every value depends on ``n`` (empty lists included)."""
    ids = list(range(n, n + 3))
    return dict(session_id=session, session_start_ms=1_700_000_000_000 + n, session_track_ids=ids,
                recent_play_track_ids=ids, recent_play_ts_ms=[n * 1000, n * 1000 + 1, n * 1000 + 2],
                recent_heart_track_ids=[], recent_heart_ts_ms=[], recent_skip_track_ids=[n],
                recent_skip_ts_ms=[n * 7], recent_skip_at_ms=[1500], recent_dislike_track_ids=[n + 1],
                recent_complete_track_ids=[n, n + 2], recent_complete_ts_ms=[n * 11, n * 13],
                counters_day="2026-01-10",
                plays_today=n, completes_today=n - 1, skips_today=1, hearts_today=0,
                plays_total=10 * n, stream_state='{"offsets": {"0": %d}, "recent": ["e%d"]}' % (n, n))


def _push(store, user_id: int, ts: datetime, features: dict, to: PushMode = PushMode.ONLINE) -> None:
    row = {schema.USER_ID: user_id, schema.EVENT_TIMESTAMP: ts, **features}
    store.push(schema.USER_REALTIME_PUSH_SOURCE, pd.DataFrame([row]), to=to)


def _online(store, spec: schema.SourceSpec, ids: list[int]) -> dict[str, list]:
    refs = [f"{spec.view}:{name}" for name in spec.feature_names]
    return store.get_online_features(features=refs, entity_rows={spec.join_key: ids}).to_dict()


@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("offline")
    _write(schema.TRACK_PROFILE, folder, [(1, T1, TRACK_AT_T1), (1, T2, TRACK_AT_T2), (2, T1, TRACK_AT_T1)])
    _write(schema.ARTIST_PROFILE, folder, [(10, T1, ARTIST_10)])
    _write(schema.USER_PROFILE, folder, [(5, T1, USER_5)])
    return folder


@pytest.fixture(scope="module")
def stores(offline_dir, make_store, redis_address):
    """{"sqlite": store, "redis": store}, both applied on the same offline data and materialized."""
    built = {
        "sqlite": make_store(offline_dir, "sqlite"),
        "redis": make_store(offline_dir, "redis", redis_address),
    }
    for store in built.values():
        store.materialize(*WINDOW)
    return built


@pytest.mark.slow
def test_feast_cli_apply_accepts_the_static_repo(tmp_path: Path) -> None:
    """`feast apply` on a copy of repo/ (its yaml paths resolve inside tmp_path)."""
    repo = tmp_path / "feature_store" / "repo"
    shutil.copytree(REPO_DIR, repo, ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, **{schema.OFFLINE_DIR_ENV: str(tmp_path / "offline")})
    feast = Path(sys.executable).with_name("feast")
    result = subprocess.run([str(feast), "-c", str(repo), "apply"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Created feature service ranking_v1" in result.stdout
    assert (tmp_path / ".runtime" / "features" / "registry.db").is_file()
    assert (tmp_path / "offline" / "user_realtime.parquet").is_file()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_push_then_online_read_returns_exactly_what_was_pushed(stores, kind: str) -> None:
    store = stores[kind]
    first, latest, other = _realtime("s-a", 3), _realtime("s-b", 4), _realtime("s-c", 9)
    _push(store, 101, T1, first)
    _push(store, 101, T2, latest)
    _push(store, 102, T1, other)
    got = _online(store, schema.USER_REALTIME, [101, 102, 999])
    for name in schema.USER_REALTIME.feature_names:
        assert got[name] == [latest[name], other[name], None], name


def test_sqlite_and_redis_give_the_same_answers(stores) -> None:
    for store in stores.values():
        _push(store, 201, T2, _realtime("s-same", 5))
    cases = [(schema.USER_REALTIME, [201, 5, 999]), (schema.USER_PROFILE, [5, 201, 999]),
             (schema.TRACK_PROFILE, [1, 2, 999]), (schema.ARTIST_PROFILE, [10, 999])]
    for spec, ids in cases:
        assert _online(stores["sqlite"], spec, ids) == _online(stores["redis"], spec, ids), spec.view


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_materialize_serves_the_latest_offline_row(stores, kind: str) -> None:
    got = _online(stores[kind], schema.TRACK_PROFILE, [1, 2])
    for name in schema.TRACK_PROFILE.feature_names:
        assert got[name] == [TRACK_AT_T2[name], TRACK_AT_T1[name]], name
    profile = _online(stores[kind], schema.USER_PROFILE, [5])
    assert {name: profile[name][0] for name in schema.USER_PROFILE.feature_names} == USER_5


def _pit_entity_df() -> pd.DataFrame:
    """Track 1 asked before t1, between t1 and t2, at t2 and after t2."""
    return pd.DataFrame({
        schema.TRACK_ID: [1, 1, 1, 1],
        schema.EVENT_TIMESTAMP: [T1 - timedelta(hours=1), T1 + timedelta(days=2), T2, T2 + timedelta(days=3)],
    })


TRACK_REFS = [f"track_profile:{name}" for name in schema.TRACK_PROFILE.feature_names]


def test_historical_retrieval_is_point_in_time_correct(stores) -> None:
    got = historical_features(stores["sqlite"], _pit_entity_df(), TRACK_REFS)
    assert list(got[schema.EVENT_TIMESTAMP]) == list(_pit_entity_df()[schema.EVENT_TIMESTAMP])
    for row, values in enumerate([None, TRACK_AT_T1, TRACK_AT_T2, TRACK_AT_T2]):
        for name in schema.TRACK_PROFILE.feature_names:
            value = got.loc[row, name]
            if values is None:
                assert pd.isna(value), (row, name, value)
            else:
                assert value == values[name], (row, name, value)


def test_raw_feast_still_drops_rows_before_the_first_value(stores) -> None:
    """Documents the Feast 0.67 quirk offline.historical_features works around; when
    this fails after an upgrade, the workaround can go."""
    raw = stores["sqlite"].get_historical_features(entity_df=_pit_entity_df(), features=TRACK_REFS).to_df()
    assert len(raw) == 3


def test_push_to_offline_appends_to_the_realtime_parquet_file(stores, offline_dir: Path) -> None:
    features = _realtime("s-off", 6)
    _push(stores["sqlite"], 301, T2, features, to=PushMode.ONLINE_AND_OFFLINE)
    table = pq.read_table(schema.USER_REALTIME.location(offline_dir))
    rows = [r for r in table.to_pylist() if r[schema.USER_ID] == 301]
    assert len(rows) == 1 and rows[0]["session_track_ids"] == features["session_track_ids"]
    assert table.schema.equals(schema.USER_REALTIME.arrow_schema)


class _CountingStore:
    def __init__(self, store) -> None:
        self.store, self.calls = store, 0

    def get_online_features(self, **kwargs):
        self.calls += 1
        return self.store.get_online_features(**kwargs)


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_feature_client_caches_items_and_reads_users_fresh(stores, kind: str) -> None:
    counting, clock = _CountingStore(stores[kind]), _Clock()
    client = FeatureClient(counting, item_cache_size=100, item_cache_ttl_s=60, clock=clock)

    tracks = client.track_features([1, 2, 999])
    assert counting.calls == 1
    assert tracks[1]["genre"] == "pop" and tracks[2]["genre"] == "rock"
    assert tracks[999] == {name: None for name in schema.TRACK_PROFILE.feature_names}
    assert client.track_features([2, 1]) == {2: tracks[2], 1: tracks[1]}
    assert counting.calls == 1
    clock.now = 61
    client.track_features([1])
    assert counting.calls == 2

    assert client.artist_features([10])[10] == ARTIST_10
    _push(stores[kind], 401, T1, _realtime("s-old", 2))
    assert client.user_features([401])[401]["session_id"] == "s-old"
    _push(stores[kind], 401, T2, _realtime("s-new", 7))
    users = client.user_features([401, 5, 998])
    assert users[401]["session_id"] == "s-new" and users[5]["region"] == "eu"
    assert all(value is None for value in users[998].values())

"""The Spark batch jobs against pandas references on one small simulated world."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from encore.platform.batch import batch_io as bio
from encore.platform.batch.activity_stats import Entity
from encore.platform.batch.job import STEPS, Step, make_context, with_options
from encore.platform.config import SampleBudget, default_config
from encore.platform.world.cli import world_config
from encore.platform.contracts.sampling import cap_samples_per_user
from testkit import batch_reference as ref


# Spark: slow, and longer than the 180 s default limit per test under load
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CAP = 40  # small, so the bot and hyperactive users hit it
# a small per-user budget, so it binds too (the bot from day 1, heavy users soon after)
BUDGET = SampleBudget(rate=5, burst=60, horizon_days=30)
WORLD_SEED = 3  # not the config's world.seed: the jobs must default to the world's own


def _run(spark, step: Step, world, out, dates=None, config=None):
    ctx = make_context(spark, world / "events", out, dates=dates, world_dir=world,
                       config=config or default_config())
    return step.run(ctx)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from encore.platform.world.generate import generate_world

    cfg = world_config(users=120, days=4, tracks=400, artists=40, seed=WORLD_SEED)
    assert cfg.seed != default_config().world.seed
    out = tmp_path_factory.mktemp("batch-world")
    generate_world(cfg, out, progress=False)
    return out


def _budget_config():
    cfg = default_config()
    return cfg.model_copy(update={"sampling": cfg.sampling.model_copy(update={"budget": BUDGET})})


@pytest.fixture(scope="module")
def built(spark, world, tmp_path_factory):
    """Every job over every date, once: (out dir, offline dir)."""
    out = tmp_path_factory.mktemp("batch-out")
    offline = out / "offline"
    for step in STEPS:
        config = default_config()
        if step.job == "recall_samples":
            config = with_options(_budget_config(), "recall_samples", cap=CAP)
        if step.job == "materialize_features":
            config = with_options(config, "materialize_features", offline_dir=offline)
        _run(spark, step, world, out, config=config)
    return out, offline


@pytest.fixture(scope="module")
def events(world):
    tracks = pd.read_parquet(world / "catalog/tracks.parquet")
    return ref.flags(ref.load_events(world), tracks)


def _table(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(out / name)
    df["date"] = pd.to_datetime(df["date"].astype(str)).dt.date
    return df


def _ms(series: pd.Series) -> pd.Series:
    if series.dt.tz is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.astype("datetime64[ms]").astype("int64")


def _dates(world):
    return bio.available_dates(world / "events")


def test_sessions_identical_to_python_rule(built, events):
    out, _ = built
    cfg = default_config()
    expected = ref.sessions(events, cfg.sessions.max_session_ms,
                            cfg.sessions.inactivity_gap_ms)
    got = _table(out, "sessions")
    got["start_ms"] = _ms(got.start_ts)
    got["end_ms"] = got.start_ms + got.duration_ms
    got["track_ids"] = got.track_ids.map(tuple)
    cols = ["session_id", "scenario", "start_ms", "end_ms", "n_events", "n_plays", "n_completes",
            "n_skips", "n_hearts", "track_ids"]
    a = got[cols].sort_values("session_id").reset_index(drop=True)
    b = expected[cols].sort_values("session_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    # max-duration splits really happened (the bot plays around the clock)
    assert (got.duration_ms <= cfg.sessions.max_session_ms).all()
    assert (got.groupby(["session_key", "date"]).session_index.max() + 1
            == got.groupby(["session_key", "date"]).size()).all()


@pytest.mark.parametrize("table,key", [("item_stats", "track_id"), ("artist_stats", "artist_id")])
def test_stats_equal_hand_count(built, events, world, table, key):
    out, _ = built
    got = _table(out, table)
    cols = ["exposures", "plays", "completes", "skips", "hearts", "listeners"]
    for day in _dates(world):
        exp = ref.item_stats(events, day, key)
        g = got[got.date == day].set_index(key).sort_index()
        pd.testing.assert_frame_equal(
            g[cols + [f"cum_{c}" for c in cols]].astype("int64"),
            exp[cols + [f"cum_{c}" for c in cols]], check_names=False)
        rate = np.where(g.cum_plays > 0, g.cum_completes / g.cum_plays.where(g.cum_plays > 0, 1), 0)
        np.testing.assert_allclose(g.cum_completion_rate, rate)


def test_item_graph_weights_equal_hand_count(built, events, world):
    out, _ = built
    days = _dates(world)
    listeners, co = ref.co_listening(events, days, default_config().sampling.max_samples_per_user_per_day)
    got = _table(out, "item_graph")
    last = got[got.date == days[-1]]
    assert len(last) > 0
    for row in last.itertuples():
        assert row.co_count == co[(row.src_track_id, row.dst_track_id)]
        assert row.src_listeners == listeners[row.src_track_id]
        assert row.weight == pytest.approx(row.co_count / listeners[row.src_track_id])
        assert row.co_count >= 2
    # every qualifying pair of a source with few neighbours is present
    expected = {k for k, v in co.items() if v >= 2}
    per_src = pd.Series([a for a, _ in expected]).value_counts()
    small = set(per_src[per_src <= 50].index)
    assert {(a, b) for a, b in expected if a in small} == {
        (r.src_track_id, r.dst_track_id) for r in last.itertuples() if r.src_track_id in small}


def test_recall_samples_point_in_time_and_capped(built, events, world):
    out, _ = built
    h = default_config().batch.recall_samples.history_length
    got = _table(out, "recall_samples").set_index("sample_id")
    plays = events[events.action == "play_start"].copy()
    plays["hist"] = [tuple() for _ in range(len(plays))]
    hist = {}
    for _, g in plays.groupby("key", sort=False):
        tracks = g.track_id.tolist()
        for i, eid in enumerate(g.event_id):
            hist[eid] = tuple(tracks[max(0, i - h):i])
    for sid, row in got.iterrows():
        assert tuple(row.history_track_ids) == hist[sid]
        assert len(row.negative_track_ids) == (default_config().batch.recall_samples.negatives_per_positive if row.label else 0)
        assert row.target_track_id not in set(row.negative_track_ids)
    # cap: exactly the rows cap_samples_per_user keeps, with the world's seed (not the
    # config's) and the per-user budget
    known = plays[plays.user_id.notna()]
    kept = cap_samples_per_user(known, CAP, WORLD_SEED, user_col="user_id", ts_col="ts", id_col="event_id",
                                rate=BUDGET.rate, burst=BUDGET.burst, horizon_days=BUDGET.horizon_days)
    assert set(got[got.user_id.notna()].index) == set(kept.event_id)
    per_day = got[got.user_id.notna()].groupby(["user_id", "date"]).size()
    assert per_day.max() == CAP  # some heavy user is capped by the day cap ...
    per_user = got[got.user_id.notna()].groupby("user_id").size()
    assert per_user.max() <= BUDGET.burst + BUDGET.rate * (len(_dates(world)) - 1)
    only_day_cap = cap_samples_per_user(known, CAP, WORLD_SEED, user_col="user_id", ts_col="ts", id_col="event_id")
    assert len(kept) < len(only_day_cap)  # ... and some by the budget
    # anonymous samples are session-only and uncapped
    anon = plays[plays.user_id.isna()]
    assert set(got[got.anonymous].index) == set(anon.event_id)


def test_ranking_samples_use_only_past_events(built, events, world):
    out, _ = built
    got = _table(out, "ranking_samples")
    exposures = events[events.action == "exposure"]
    assert len(got) == len(exposures)
    plays = events[events.is_play == 1]
    by_key = {k: g.ts_ms.to_numpy() for k, g in plays.groupby("key")}
    got["key"] = np.where(got.user_id.isna(), "anon:" + got.session_id, got.user_id.astype("Int64").astype(str))
    ts = _ms(got.ts)
    expected = [np.searchsorted(by_key.get(k, np.array([], dtype=np.int64)), t, side="left") for k, t in zip(got.key, ts)]
    np.testing.assert_array_equal(got.user_plays_30d.to_numpy(), np.asarray(expected))
    # track stats are the previous day's cumulative ones
    stats = _table(out, "item_stats")
    day = _dates(world)[1]
    prev = stats[stats.date == day - timedelta(days=1)].set_index("track_id").cum_plays
    g = got[got.date == day]
    np.testing.assert_array_equal(g.track_plays.to_numpy(), g.track_id.map(prev).fillna(0).to_numpy())
    assert (got[got.date == _dates(world)[0]].track_plays == 0).all()
    # labels: complete plays among exposures match play_ends that are complete
    assert got.complete_play.sum() > 0 and got.skip.sum() > 0
    assert got.skip_at_ms.notna().sum() == got.skip.sum()
    assert set(got.propensity.dropna().index) == set(got.index)


def test_rerunning_one_day_changes_only_that_day(spark, world, built, tmp_path):
    out, _ = built
    days = _dates(world)
    work = tmp_path / "out"
    for table in ("sessions", "ranking_samples"):
        shutil.copytree(out / table, work / table)
    shutil.copytree(out / "item_stats", work / "item_stats")
    def snapshot(table):
        return {p.relative_to(work / table): p.read_bytes() for p in (work / table).rglob("*.parquet")}
    before = {t: snapshot(t) for t in ("sessions", "ranking_samples")}
    day = days[1].isoformat()
    _run(spark, Step("sessionize"), world, work, dates=day)
    _run(spark, Step("ranking_samples"), world, work, dates=day)
    for table in ("sessions", "ranking_samples"):
        after = snapshot(table)
        untouched = {k: v for k, v in before[table].items() if f"date={day}" not in str(k)}
        assert {k: after[k] for k in untouched} == untouched
        old = pd.read_parquet(out / table / f"date={day}")
        new = pd.read_parquet(work / table / f"date={day}")
        key = "session_id" if table == "sessions" else "exposure_id"
        pd.testing.assert_frame_equal(old.sort_values(key).reset_index(drop=True),
                                      new.sort_values(key).reset_index(drop=True))


def _stream_style_log(world: Path, root: Path) -> Path:
    """The world's log laid out as the stream processor's offline log writes it: Kafka
    bookkeeping columns, and 30% of every day delivered twice (a replayed batch)."""
    import pyarrow as pa

    for day_dir in sorted((world / "events").glob("date=*")):
        table = pq.read_table(next(day_dir.glob("*.parquet")))
        table = table.append_column("kafka_partition", pa.array([0] * table.num_rows, pa.int32()))
        table = table.append_column("kafka_offset", pa.array(range(table.num_rows), pa.int64()))
        (root / day_dir.name).mkdir(parents=True)
        pq.write_table(table, root / day_dir.name / "part-p0-o0.parquet")
        pq.write_table(table.slice(0, int(table.num_rows * 0.3)),
                       root / day_dir.name / f"part-p0-o{table.num_rows}.parquet")
    return root


@pytest.mark.parametrize("step, table, key", [(Step("sessionize"), "sessions", "session_id"),
                                              (Step("activity_stats", Entity.TRACK), "item_stats", "track_id")])
def test_duplicated_deliveries_in_the_log_change_nothing(spark, world, built, tmp_path, step, table, key):
    out, _ = built
    log = _stream_style_log(world, tmp_path / "stream-log")
    work = tmp_path / "out"
    # a log outside any world (the stream processor's): the catalog comes from --catalog
    ctx = make_context(spark, log, work, catalog_dir=world / "catalog", config=default_config())
    step.run(ctx)
    expected = pd.read_parquet(out / table)
    got = pd.read_parquet(work / table)
    order = ["date", key]
    pd.testing.assert_frame_equal(
        got.sort_values(order).reset_index(drop=True)[expected.columns],
        expected.sort_values(order).reset_index(drop=True), check_categorical=False)


def test_feast_sources_follow_schema(built, world):
    from encore.feature_store import schema as fs
    from encore.platform.batch.materialize_features import snapshot_time

    _, offline = built
    for spec in (fs.USER_PROFILE, fs.TRACK_PROFILE, fs.ARTIST_PROFILE):
        table = pq.read_table(spec.location(offline))
        assert table.schema.equals(spec.arrow_schema), spec.view
        stamps = set(table.column(fs.EVENT_TIMESTAMP).to_pylist())
        assert stamps == {snapshot_time(d) for d in _dates(world)}
    users = pq.read_table(fs.USER_PROFILE.location(offline)).to_pandas()
    assert (users.plays_30d >= 0).all() and users.top_genres.map(len).max() <= 3


def test_feast_serves_the_materialised_snapshots(built, world, tmp_path):
    """Spark's feature sources, loaded by Feast: online = the last day's snapshot, and a
    training row between two snapshots gets the earlier one (point-in-time)."""
    from encore.feature_store import schema as fs
    from encore.feature_store.client import FeatureClient
    from encore.feature_store.offline import historical_features
    from encore.feature_store.store import apply_repo, open_store
    from encore.platform.batch.materialize_features import snapshot_time
    from encore.platform.config import FeatureStoreConfig

    _, offline = built
    store = open_store(FeatureStoreConfig().under(tmp_path, offline_dir=offline))
    apply_repo(store)
    days = _dates(world)
    store.materialize(start_date=snapshot_time(days[0]) - timedelta(days=1),
                      end_date=snapshot_time(days[-1]) + timedelta(seconds=1),
                      feature_views=[fs.TRACK_PROFILE.view])
    snapshots = pq.read_table(fs.TRACK_PROFILE.location(offline)).to_pandas()
    stamp = snapshots[fs.EVENT_TIMESTAMP].dt.tz_convert("UTC")
    last = snapshots[stamp == stamp.max()].set_index("track_id")
    played = last[last.play_count > 0].index[:20].tolist()
    assert played
    online = FeatureClient(store, item_cache_size=0, item_cache_ttl_s=0).track_features(played)
    for track in played:
        assert online[track]["play_count"] == last.loc[track, "play_count"]
        assert online[track]["skip_rate"] == pytest.approx(last.loc[track, "skip_rate"])

    between = snapshot_time(days[1]) + timedelta(hours=6)
    entity = pd.DataFrame({"track_id": played, fs.EVENT_TIMESTAMP: [between] * len(played)})
    past = historical_features(store, entity, [f"{fs.TRACK_PROFILE.view}:play_count"])
    expected = snapshots[stamp == snapshot_time(days[1])].set_index("track_id").play_count
    assert past.play_count.tolist() == expected.reindex(played).tolist()


def test_spark_submit_entry_point(spark, world, tmp_path):
    """``main()`` is what ``spark-submit platform/batch/submit.py <job> ...`` runs."""
    from encore.platform.batch import submit

    day = _dates(world)[0].isoformat()
    with pytest.raises(SystemExit) as done:
        submit.main(["activity-stats", "--entity", "track", "--events", str(world / "events"),
                     "--out", str(tmp_path), "--dates", day])
    assert done.value.code == 0
    assert bio.available_dates(tmp_path / "item_stats") == [date.fromisoformat(day)]


@pytest.mark.parametrize("use_world, args, message", [
    (True, ["--dates", "2026-13-01"], "not a YYYY-MM-DD date"),
    (False, [], "no event partitions"),
])
def test_cli_bad_input_is_a_one_line_error(spark, world, tmp_path, use_world, args, message):
    from typer.testing import CliRunner

    from encore.platform.batch.cli import app

    events = world / "events" if use_world else tmp_path / "empty"
    events.mkdir(exist_ok=True)
    result = CliRunner().invoke(app, ["activity-stats", "--entity", "track", "--events", str(events),
                                      "--world", str(world),
                                      "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 1
    assert "error: batch item_stats: " in result.output and message in result.output
    assert "Traceback" not in result.output

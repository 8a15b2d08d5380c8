"""``encore batch recall`` on real Spark (local mode) over a tiny world: the lists equal
those of the channels loaded from the registry answering the same listeners' Queries in
one process; a second run skips the written date; ``--push`` fills the online table
with the same lists; bad input is a one-line error naming the flag, before Spark."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from encore.platform.batch.batch_io import available_dates
from encore.platform.config import default_config

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CHANNELS = ["item_cf", "profile"]
K = 40


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from encore.platform.world.generate import generate_world
    from encore.platform.world.cli import world_config

    out = tmp_path_factory.mktemp("recall-world")
    generate_world(world_config(users=120, days=4, tracks=400, artists=40, seed=3), out, progress=False)
    return out


@pytest.fixture(scope="module")
def registry(world, tmp_path_factory) -> Path:
    from encore.recall.batch_bench import fit_and_publish

    root = tmp_path_factory.mktemp("recall-registry")
    fit_and_publish(world, root, default_config(), CHANNELS, _day(world))
    return root


def _day(world: Path):
    return available_dates(world / "events")[-1] + timedelta(days=1)  # the next serving day


def _expected(world: Path, registry: Path, listeners: np.ndarray) -> dict[str, list]:
    """The online path: each channel loaded from the registry answers the listeners'
    Queries built by the one point-in-time builder in this process."""
    from encore.platform.registry import Registry
    from encore.recall.batch import day_start_ms, window_days
    from encore.recall.queries import QueryParams, queries_from_log
    from encore.recall.registry import load_channel
    from encore.recall.tables import read_events

    day = _day(world)
    events = read_events(world, window_days(day, 30))
    users = pd.read_parquet(world / "users" / "users.parquet")
    at = pd.DataFrame({"user_id": pd.array(listeners, dtype="Int64"), "request_ms": day_start_ms(day),
                       "scenario": "daily_recommend"})
    queries = queries_from_log(events, at, tracks=pd.read_parquet(world / "catalog" / "tracks.parquet"),
                               users=users, params=QueryParams.from_config(default_config()))
    reg = Registry(registry)
    return {name: load_channel(reg.load_promoted(f"recall.{name}", lambda p: p).path).recall(queries, K)
            for name in CHANNELS}


def test_batch_recall_equals_the_online_channels_then_skips_the_written_date(spark, world, registry, tmp_path):
    from encore.feature_store.recall_store import RecallStore
    from encore.platform.batch.job import with_options
    from encore.recall.batch import read_written, run_batch_recall

    out, online = tmp_path / "out", tmp_path / "recall.db"
    config = with_options(default_config(), "recall", channels=CHANNELS, k=K, partitions=3, push=True,
                          online_path=online)
    day = _day(world)
    report = run_batch_recall(spark, config, events_dir=world / "events", out_dir=out, users_dir=world / "users",
                              catalog_dir=world / "catalog", dates=[day], registry_root=registry)
    assert report.computed == [day.isoformat()] and report.skipped == []
    users = pd.read_parquet(world / "users" / "users.parquet")
    listeners = np.sort(users.loc[pd.to_datetime(users["signup_date"]).dt.date < day, "user_id"].to_numpy(np.int64))
    assert report.listeners == len(listeners) > 100
    expected = _expected(world, registry, listeners)
    store = RecallStore(online)
    for name in CHANNELS:
        got = read_written(out, day, name).sort_values("user_id").reset_index(drop=True)
        assert got["user_id"].tolist() == listeners.tolist()
        assert (got["model_version"] == "v0001").all()
        for row, want in zip(got.itertuples(), expected[name]):
            assert row.track_ids.tolist() == want.track_ids.tolist(), (name, row.user_id)
            np.testing.assert_allclose(row.scores, want.scores, rtol=1e-6)
        assert sum(len(c) > 0 for c in expected[name]) > len(listeners) // 2  # real lists, not empty ones
        stored = store.get(name, listeners.tolist())
        assert stored[int(listeners[0])].track_ids.tolist() == expected[name][0].track_ids.tolist()
        assert len(stored) == len(listeners)
    assert report.pushed == len(CHANNELS) * len(listeners)

    # the same job through the spark-submit entry point (the `encore batch` app): written, so skipped
    from encore.cli import batch_submit

    stamp = {p: p.stat().st_mtime_ns for p in (out / "recall").rglob("*.parquet")}
    with pytest.raises(SystemExit) as done:
        batch_submit.main(["recall", "--events", str(world / "events"), "--out", str(out), "--registry",
                           str(registry), "--channels", ",".join(CHANNELS), "--k", str(K), "--json"])
    assert done.value.code in (0, None)
    assert {p: p.stat().st_mtime_ns for p in (out / "recall").rglob("*.parquet")} == stamp


@pytest.mark.slow
def test_spilled_window_gives_the_same_lists_and_is_removed(spark, world, registry, tmp_path):
    from encore.platform.batch.job import with_options
    from encore.recall.batch import SPILL_DIR, read_written, run_batch_recall

    out = tmp_path / "out"
    config = with_options(default_config(), "recall", channels=CHANNELS, k=K, partitions=2, spill_window=True)
    day = _day(world)
    run_batch_recall(spark, config, events_dir=world / "events", out_dir=out, users_dir=world / "users",
                     catalog_dir=world / "catalog", dates=[day], registry_root=registry)
    assert not (out / SPILL_DIR).exists()
    users = pd.read_parquet(world / "users" / "users.parquet")
    listeners = np.sort(users.loc[pd.to_datetime(users["signup_date"]).dt.date < day, "user_id"].to_numpy(np.int64))
    expected = _expected(world, registry, listeners)
    for name in CHANNELS:
        got = read_written(out, day, name).sort_values("user_id").reset_index(drop=True)
        assert got["user_id"].tolist() == listeners.tolist()
        assert [t.tolist() for t in got["track_ids"]] == [c.track_ids.tolist() for c in expected[name]]


@pytest.mark.parametrize("args, message", [
    (["--channels", "item_cf,nope"], "--channels: no recall channel 'nope'"),
    (["--date", "2026-13-01"], "--date: not a YYYY-MM-DD date: '2026-13-01'"),
    (["--k", "0"], "invalid batch.recall options: k"),
    (["--registry", "/no/such/registry"], "--registry: /no/such/registry is not a folder"),
])
def test_bad_input_is_a_one_line_error_naming_the_flag(world, registry, args, message):
    from encore.cli.main import app

    base = ["batch", "recall", "--events", str(world / "events")]
    if "--registry" not in args:
        base += ["--registry", str(registry)]
    result = CliRunner().invoke(app, base + args)
    assert result.exit_code == 1, result.output
    assert f"error: batch recall: {message}" in result.output
    assert "Traceback" not in result.output

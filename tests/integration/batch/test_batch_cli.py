"""The batch command line without Spark: one typer app for `encore batch` and
spark-submit, job options typed in the config and overridden by flags, and the input
folders a run resolves (no world folder needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore.platform.batch.cli import app
from encore.platform.batch.job import STEPS, JobContext, with_options
from encore.platform.config import ConfigError, default_config

pytestmark = pytest.mark.integration


def test_flags_override_the_config_for_one_run():
    config = default_config()
    changed = with_options(config, "item_graph", window_days=7, top_n=None)
    assert changed.batch.item_graph.window_days == 7
    assert changed.batch.item_graph.top_n == config.batch.item_graph.top_n  # None: not given
    assert config.batch.item_graph.window_days == 30  # the loaded config is untouched
    assert with_options(config, "recall_samples") is config
    with pytest.raises(ConfigError, match="batch.item_graph"):
        with_options(config, "item_graph", window_days=0)
    with pytest.raises(ConfigError, match="batch.item_graph"):
        with_options(config, "item_graph", no_such_option=1)


def test_bad_option_is_a_one_line_error_before_spark(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    result = CliRunner().invoke(app, ["item-graph", "--events", str(events), "--window-days", "0"])
    assert result.exit_code == 1
    assert "error: batch item_graph: invalid batch.item_graph options: window_days" in result.output
    assert "Traceback" not in result.output


def test_every_step_has_a_command_and_activity_stats_writes_both_tables():
    # `recall` lives in encore.recall and is mounted by the composition root (encore.cli.main)
    commands = {c.name for c in app.registered_commands if not c.hidden} - {"recall"}
    assert {step.job.replace("_", "-") for step in STEPS} | {"all"} == commands
    assert [s.name for s in STEPS if s.job == "activity_stats"] == ["item_stats", "artist_stats"]
    result = CliRunner().invoke(app, ["item-graph", "--help"])
    assert "batch.item_graph.window_days" in result.output


def test_inputs_need_no_world_folder(tmp_path: Path):
    config = default_config()
    log, catalog, users = tmp_path / "log", tmp_path / "cat", tmp_path / "people"
    ctx = JobContext(spark=None, events_dir=log, out_dir=None, dates=[], config=config,
                     catalog_dir=catalog, users_dir=users)
    assert (ctx.catalog_dir, ctx.users_dir, ctx.out_dir) == (catalog, users, config.batch.output_dir)
    world = tmp_path / "world"
    ctx = JobContext(spark=None, events_dir=log, out_dir=tmp_path, dates=[], config=config, world_dir=world)
    assert (ctx.catalog_dir, ctx.users_dir) == (world / "catalog", world / "users")
    ctx = JobContext(spark=None, events_dir=world / "events", out_dir=tmp_path, dates=[], config=config)
    assert ctx.catalog_dir == world.resolve() / "catalog"


def test_a_missing_catalog_names_its_flag(tmp_path: Path):
    from encore.platform.batch import batch_io as bio

    with pytest.raises(bio.BatchInputError, match="tracks.parquet does not exist.*--catalog"):
        bio.read_tracks(None, tmp_path / "no-catalog")
    with pytest.raises(bio.BatchInputError, match="users.parquet does not exist.*--users"):
        bio.read_users(None, tmp_path / "no-users")

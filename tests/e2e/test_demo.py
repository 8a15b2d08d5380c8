"""The main job, end to end: a small world through the real broker, the stream
processor and the Feast online store, and the command line around it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore.cli.main import app
from encore.platform.demo import run_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_counts_read_online_equal_the_raw_log(tmp_path: Path, capsys) -> None:
    result = run_demo(tmp_path, users=60, days=2)
    assert (tmp_path / "world" / "manifest.json").is_file()
    assert 0 < result.replayed_events < result.world_events  # one day of two
    assert result.log_counts["plays_today"] > 0
    assert result.online_counts == result.log_counts
    printed = capsys.readouterr().out
    assert "users_by_kind" in printed and "Feast online store vs. the raw event log" in printed

    # the serving end: channels and the ranker published, the Recommender answering over gRPC
    from encore.serving.demo import serve_demo

    served = serve_demo(result.config, result.world_dir, result.listener, count=10)
    assert set(served.channel_versions) >= {"popular", "item_cf", "session_knn", "profile"}
    # the ranker trained on the Spark ranking_samples of both days ranks the daily list
    assert served.ranker_version is not None
    assert served.model_version == f"ranker:{served.ranker_version}"
    assert (tmp_path / "batch" / "ranking_samples").is_dir()
    ids = [i.track_id for i in served.daily]
    assert len(ids) == 10 and len(set(ids)) == 10 and all(i.channels for i in served.daily)
    assert served.radio and not set(served.radio_seed) & {i.track_id for i in served.radio}
    printed = capsys.readouterr().out
    assert f"daily recommend, user {result.listener} (ranker:" in printed and "private radio after" in printed


def test_cli_rejects_a_bad_option_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--users", "0"])
    assert result.exit_code != 0
    assert "users" in result.output


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("demo", "world", "data", "stack", "bench", "protos", "features", "events",
                  "stream", "batch"):
        assert group in result.output

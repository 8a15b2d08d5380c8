"""The main job, end to end through the real command line (small world)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from encore.platform.cli import app


def test_demo_generates_loads_and_summarises_a_world(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--users", "60", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "world" / "manifest.json").is_file()
    assert "users_by_kind" in result.output
    assert "skip_rate" in result.output


def test_cli_rejects_a_bad_option_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--users", "0"])
    assert result.exit_code != 0
    assert "users" in result.output


def test_help_lists_every_command_group() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("demo", "world", "data", "stack", "bench", "protos", "features", "events", "stream", "batch"):
        assert group in result.output

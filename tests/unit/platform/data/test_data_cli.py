from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore.cli.main import app

runner = CliRunner()


def test_check_prints_counts_for_a_valid_folder(tiny_data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--dir", str(tiny_data_dir)])
    assert result.exit_code == 0, result.output
    assert "3 sessions" in result.output and "4 next-item pairs" in result.output
    assert "2 rated songs" in result.output


@pytest.mark.realdata
def test_check_on_the_real_data(shared_data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--dir", str(shared_data_dir)])
    assert result.exit_code == 0, result.output
    for figure in ("128,077 sessions", "825,304 next-item pairs", "9,025 tracks", "744 rated songs"):
        assert figure in result.output


def test_check_exits_1_naming_the_malformed_file(tiny_data_dir: Path) -> None:
    (tiny_data_dir / "lastfm-kg" / "kg.txt").write_text("1\tfilm.actor.film\n")
    result = runner.invoke(app, ["data", "check", "--dir", str(tiny_data_dir)])
    assert result.exit_code == 1
    assert "kg.txt" in result.output and "line 1" in result.output
    assert "Traceback" not in result.output


def test_check_exits_1_on_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--dir", str(tmp_path / "absent")])
    assert result.exit_code == 1
    assert "does not exist" in result.output

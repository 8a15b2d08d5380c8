"""`encore world ...` on the command line: errors are one line and a non-zero exit."""

from __future__ import annotations

from typer.testing import CliRunner

from encore.platform.world.cli import app


def test_generate_under_a_plain_file_is_a_one_line_error(tmp_path):
    plain = tmp_path / "somefile"
    plain.write_text("not a folder")
    result = CliRunner().invoke(app, ["generate", "--out", str(plain / "w"), "--users", "20",
                                      "--days", "1", "--no-progress"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(plain) in lines[0]
    assert "Traceback" not in result.output
    assert plain.read_text() == "not a folder"

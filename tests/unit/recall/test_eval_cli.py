"""`encore eval recall` end to end on the small world (in process, no services)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from encore.cli.main import app


def test_eval_recall_prints_and_writes_recall_at_k(recall_world, recall_batch, tmp_path):
    out = tmp_path / "recall.json"
    result = CliRunner().invoke(app, ["eval", "recall", "--world", str(recall_world.path), "--batch",
                                      str(recall_batch), "--ks", "10,50", "--max-queries", "60", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["listeners"] == 60 and report["test_day"] == recall_world.dates[-1]
    assert set(report["channels"]) == {"popular", "trending", "popular_at_hour", "item_cf", "session_knn", "profile"}
    for row in report["channels"].values():
        assert 0 <= row["recall@10"] <= row["recall@50"] <= 1 and row["queries"] == 60
    assert "recall@10" in result.output and "machine" in report

"""Metrics, and `encore train rank` -> registry -> `encore eval rank` on tiny tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from encore.platform import config as config_mod
from encore.platform.registry import Registry
from encore.ranking.metrics import auc, gauc, logloss


def test_metrics_known_values() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)  # ties count half
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    labels = np.array([1, 0, 1, 0, 1, 1])
    scores = np.array([0.9, 0.1, 0.2, 0.8, 0.5, 0.6])
    groups = np.array(["a", "a", "b", "b", "c", "c"])  # c has one class: left out
    assert gauc(labels, scores, groups) == pytest.approx(0.5)  # a: 1.0, b: 0.0, equal weights
    assert logloss(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))


@pytest.fixture
def tiny_config_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "encore.yaml"
    path.write_text(yaml.safe_dump({"ranking": {
        "embedding_dim": 4, "hidden_units": [16, 8], "epochs": 8, "batch_size": 64,
        "learning_rate": 0.01, "user_id_buckets": 64, "seed": 3}}))
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(path))
    config_mod.default_config.cache_clear()
    yield path
    config_mod.default_config.cache_clear()


@pytest.mark.slow
def test_train_publish_then_eval(tables, tiny_config_file, tmp_path: Path) -> None:
    from encore.cli.main import app

    world, batch = tables
    root = tmp_path / "models"
    runner = CliRunner()
    result = runner.invoke(app, ["train", "rank", "--model", "baseline", "--batch", str(batch),
                                 "--world", str(world), "--registry", str(root), "--promote",
                                 "--report", str(tmp_path / "train.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "train.json").read_text())
    assert report["data_window"] == {"train": ["2026-01-05", "2026-01-06"], "eval": ["2026-01-07", "2026-01-07"]}
    assert report["train_rows"] == 900 and report["eval_rows"] == 450
    assert len(report["training"]["history"]) == 8
    cp = report["evaluation"]["heads"]["complete_play"]
    assert cp["model"]["auc"] > cp["reference"]["auc"] + 0.1
    assert "epoch 8/8" in result.output

    reg = Registry(root)
    assert reg.versions("ranker") == ["v0001"] and reg.promoted("ranker") == "v0001"
    manifest = reg.manifest("ranker", "v0001")
    assert manifest.kind == "ranker/baseline" and manifest.data_window == report["data_window"]
    assert manifest.data_fingerprint == report["data_fingerprint"]
    assert manifest.metrics["complete_play"]["auc"] == pytest.approx(cp["model"]["auc"])
    assert "saved_model/saved_model.pb" in manifest.files

    result = runner.invoke(app, ["eval", "rank", "--batch", str(batch), "--world", str(world),
                                 "--registry", str(root), "--report", str(tmp_path / "eval.json")])
    assert result.exit_code == 0, result.output
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["source"] == "ranker v0001" and evaluated["dates"] == ["2026-01-07"]
    assert evaluated["heads"]["complete_play"]["model"]["auc"] == pytest.approx(cp["model"]["auc"])

    missing = runner.invoke(app, ["eval", "rank", "--batch", str(batch), "--world", str(world),
                                  "--registry", str(tmp_path / "empty")])
    assert missing.exit_code == 1 and "no version is promoted" in missing.output


@pytest.mark.slow
def test_bench_rank_times_every_model_in_one_run(tables, tiny_config_file, tmp_path: Path) -> None:
    from encore.cli.main import app

    out = tmp_path / "rank.json"
    train_report = tmp_path / "train.json"
    world, batch = tables
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "rank", "--model", "baseline", "--batch", str(batch), "--world", str(world),
                                  "--no-publish", "--epochs", "1", "--report", str(train_report)])
    assert trained.exit_code == 0, trained.output
    reward = {"mean": 3.5, "ci_low": 3.2, "ci_high": 3.8, "n": 40, "list_length": 10}
    pipeline_report = tmp_path / "pipeline.json"  # the fields `eval pipeline --report` writes that are read
    pipeline_report.write_text(json.dumps({
        "models": {"ranker": "v0002"}, "ranker": {"model": "dien"}, "held_out_days": ["2026-01-07"],
        "lists": {"pipeline": {"reward": reward, "hr@10": 0.2, "ndcg@10": 0.03, "repeat_share": 0.4},
                  "popularity": {"reward": {**reward, "mean": 2.0}}}}))
    result = runner.invoke(app, ["bench", "rank", "--models", "baseline,din", "--sizes", "3,7", "--repeats", "3",
                                 "--warmup", "1", "--sequence-length", "6", "--variant", "din-sum:din:pooling=sum",
                                 "--train-report", f"baseline={train_report}",
                                 "--pipeline-report", f"dien={pipeline_report}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [r["label"] for r in report["results"]] == ["baseline", "din", "din-sum"]
    for r in report["results"]:
        assert set(r["sizes"]) == {"3", "7"}
        row = r["sizes"]["7"]
        assert row["p50_ms"] > 0 and row["candidates_per_s"] > 0 and row["per_row_signature"]["p50_ms"] > 0
    assert report["results"][2]["overrides"] == {"pooling": "sum"}
    assert report["machine"]["cpu_count"] and report["machine"]["versions"]["tensorflow"]
    assert report["accuracy"]["baseline"]["heads"]["complete_play"]["auc"] > 0.5
    assert "load_average" in report and report["data"]["sequence_length"] == 6
    assert report["pipeline"]["dien"]["reward"]["mean"] == 3.5 and report["pipeline"]["dien"]["ranker_model"] == "dien"

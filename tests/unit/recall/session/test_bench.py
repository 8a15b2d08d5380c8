"""`encore bench session` on a tiny Nowplaying-format folder: a stored model is loaded
(its training read from the manifest), the other trained in the run; tuning and reported
pairs never share a session; every method and claim is written; a model that held out a
different tail is refused naming the option."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from typer.testing import CliRunner

from encore.cli.main import app


def tiny_nowplaying(root):
    """12 items in three cycles (1-4, 5-8, 9-12): each session walks one cycle in order."""
    rng = np.random.default_rng(0)
    sessions = []
    for s in range(120):
        start = int(rng.integers(0, 4))
        cycle = 4 * (s % 3)
        sessions.append([cycle + (start + i) % 4 + 1 for i in range(int(rng.integers(3, 6)))])
    (root / "nowplaying").mkdir(parents=True)
    with (root / "nowplaying" / "all_train_seq.txt").open("wb") as f:
        pickle.dump(sessions, f, protocol=3)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("np")
    data, reg = tiny_nowplaying(tmp / "data"), tmp / "reg"
    result = CliRunner().invoke(app, ["train", "session", "--data", "nowplaying", "--data-dir", str(data),
                                      "--valid-fraction", "0.25", "--epochs", "1", "--hidden", "8",
                                      "--registry", str(reg)])
    assert result.exit_code == 0, result.output
    return data, reg


@pytest.mark.slow
def test_bench_loads_a_stored_model_trains_the_other_and_tunes_apart_from_the_reported_pairs(trained, tmp_path):
    data, reg = trained
    out = tmp_path / "session.json"
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"command": "encore bench session --world w", "world": {"results": {}}}))
    result = CliRunner().invoke(app, ["bench", "session", "--data-dir", str(data), "--valid-fraction", "0.25",
                                      "--world-from", str(earlier),
                                      "--np-model", "session.nowplaying", "--registry", str(reg),
                                      "--np-hidden", "8", "--np-epochs", "1", "--np-grid-pairs", "30",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    now = json.loads(out.read_text())["nowplaying"]
    assert now["models"]["full"]["source"] == "session.nowplaying@v0001"
    assert now["models"]["full"]["command"].startswith("encore train session --data nowplaying")
    assert now["training"]["full"]["epochs"] == 1
    assert now["models"]["srgnn_style"]["source"] == "trained in this run"
    d = now["data"]
    assert d["tune_pairs"] + d["report_pairs"] == d["valid_pairs_sampled"] > 0
    for m in ("session_knn", "hybrid", "stan", "vsknn", "sr", "full", "srgnn_style", "ensemble_simple",
              "ensemble_full", "hybrid_plus_full"):
        assert now["results"][m]["pairs"] == d["report_pairs"], m
    chosen = now["tuning"]["ensemble_full"]["chosen"]
    assert len(chosen) == 4 and {"sr", "transition", "full", now["tuning"]["ensemble_knn_part"]} == set(chosen)
    assert now["tuning"]["stan"]["chosen"] in [p["params"] for p in now["tuning"]["stan"]["evaluated"]]
    # the planted cycles: the next item is always the cycle's next one, which the rules learn
    assert now["results"]["sr"]["P@20"] == 100.0
    assert json.loads(out.read_text())["world"]["carried_from"]["command"] == "encore bench session --world w"
    claims = json.loads(out.read_text())["claims"]
    assert "nowplaying_ensemble_full_beats_the_hybrid_on_this_split_on_both" in claims
    assert "ensemble_full_minus_hybrid" in now["paired_differences"]


def test_bench_refuses_a_model_that_held_out_another_tail(trained, tmp_path):
    data, reg = trained
    result = CliRunner().invoke(app, ["bench", "session", "--data-dir", str(data), "--valid-fraction", "0.2",
                                      "--np-model", "session.nowplaying", "--registry", str(reg),
                                      "--out", str(tmp_path / "x.json")])
    assert result.exit_code != 0
    assert "--np-model" in result.output and "valid_fraction=0.25" in result.output

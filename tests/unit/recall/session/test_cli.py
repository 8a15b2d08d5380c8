"""`encore train session` and `encore eval session` end to end on a tiny world folder:
train -> registry (with the command) -> eval in a fresh process gives the same scores;
a malformed pickle is refused naming the file; the restricted unpickler runs no code."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from encore.cli.main import app
from encore.platform.registry import Registry
from encore.recall.session.data import SessionPairs, load_pairs, write_pairs


def tiny_world(folder):
    """8 tracks, two moods (tracks 0-3 bright, 4-7 dark), 40 sessions of 4 plays."""
    (folder / "catalog").mkdir(parents=True)
    pd.DataFrame({"track_id": np.arange(8), "valence": np.r_[np.full(4, 0.8), np.full(4, -0.8)].astype(np.float32),
                  "arousal": np.r_[np.full(4, 0.5), np.full(4, -0.5)].astype(np.float32)}
                 ).to_parquet(folder / "catalog" / "tracks.parquet")
    rng = np.random.default_rng(0)
    rows = []
    for s in range(40):
        base = 0 if s % 2 else 4
        for i, t in enumerate(rng.permutation(4)[:4] + base):
            rows.append({"ts": pd.Timestamp("2026-01-05", tz="UTC") + pd.Timedelta(minutes=10 * s + i),
                         "user_id": float(s % 5), "session_id": f"s{s:03d}", "track_id": int(t),
                         "action": "play_start", "event_id": f"e{s:03d}{i}"})
    (folder / "events" / "date=2026-01-05").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "events" / "date=2026-01-05" / "part-0.parquet")
    return folder


@pytest.mark.slow
def test_train_publish_then_eval_in_a_fresh_process(tmp_path):
    world = tiny_world(tmp_path / "world")
    reg, valid = tmp_path / "models", tmp_path / "valid.pkl"
    args = ["train", "session", "--data", "world", "--world", str(world), "--epochs", "2", "--hidden", "8",
            "--batch-size", "16", "--valid-fraction", "0.25", "--registry", str(reg), "--valid-out", str(valid),
            "--negatives", "3", "--epoch-check-pairs", "5", "--name", "session.world_sampled"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    trained = json.loads(result.output[result.output.index("{"):])
    manifest = Registry(reg).manifest("session.world_sampled", trained["version"])
    assert manifest.extra["command"].startswith("encore train session --data world")
    assert "--negatives 3" in manifest.extra["command"]
    training = manifest.extra["training"]
    assert training["loss"] == "sampled softmax, 3 negatives" and training["steps_per_second"] > 0
    assert [e["epoch"] for e in training["per_epoch"]] == [1, 2] and training["per_epoch"][0]["pairs"] == 5
    assert manifest.kind == "recall/session_gnn" and manifest.metrics["pairs"] == load_pairs(valid).labels.size
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    proc = subprocess.run([sys.executable, "-m", "encore.cli.main", "eval", "session", "--test", str(valid),
                           "--model", "session.world_sampled", "--registry", str(reg)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = json.loads(proc.stdout[proc.stdout.index("{"):])
    for key in ("P@20", "MRR@20", "P@10", "MRR@10", "pairs"):
        assert fresh[key] == trained["held_out"][key]
    assert fresh["model"] == f"session.world_sampled@{trained['version']}"


def test_eval_refuses_a_malformed_pickle_naming_it(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(([[1, 2]], [0])))
    result = CliRunner().invoke(app, ["eval", "session", "--test", str(bad), "--model", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.pkl" in result.output and "label 0" in result.output


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_globals(tmp_path):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(([[1]], [Boom()])))
    with pytest.raises(ValueError, match="refused global"):
        load_pairs(evil)
    ok = write_pairs(SessionPairs([[1, 2], [3]], np.array([3, 4])), tmp_path / "ok.pkl")
    back = load_pairs(ok)
    assert back.sequences == [[1, 2], [3]] and back.labels.tolist() == [3, 4]


@pytest.mark.slow
def test_warm_start_continues_the_stored_weights_and_refuses_another_architecture(tmp_path):
    world = tiny_world(tmp_path / "world")
    reg = tmp_path / "models"
    common = ["train", "session", "--data", "world", "--world", str(world), "--batch-size", "16",
              "--valid-fraction", "0.25", "--registry", str(reg), "--name", "session.w"]
    first = CliRunner().invoke(app, [*common, "--epochs", "1", "--hidden", "8"])
    assert first.exit_code == 0, first.output
    parent = json.loads(first.output[first.output.index("{"):])
    # a 1e-20 learning rate moves no weight by more than ~1e-20 (Adam's step is about
    # the learning rate): the continued model ranks exactly as its parent
    again = CliRunner().invoke(app, [*common, "--epochs", "1", "--hidden", "8", "--learning-rate", "1e-20",
                                     "--init-from", f"session.w@{parent['version']}"])
    assert again.exit_code == 0, again.output
    child = json.loads(again.output[again.output.index("{"):])
    assert child["version"] != parent["version"]
    assert child["held_out"]["MRR@20"] == parent["held_out"]["MRR@20"]
    assert child["held_out"]["P@20"] == parent["held_out"]["P@20"]
    info = Registry(reg).manifest("session.w", child["version"]).extra["training"]["init_from"]
    assert info["model"] == f"session.w@{parent['version']}"
    assert info["command"].startswith("encore train session --data world") and "--init-from" not in info["command"]
    wider = CliRunner().invoke(app, [*common, "--epochs", "1", "--hidden", "4", "--init-from", "session.w"])
    assert wider.exit_code == 2
    assert "--init-from" in wider.output and "hidden" in wider.output


def test_train_refuses_a_bad_setting_before_training(tmp_path):
    world = tiny_world(tmp_path / "world")
    result = CliRunner().invoke(app, ["train", "session", "--data", "world", "--world", str(world), "--epochs", "1",
                                      "--hidden", "8", "--learning-rate", "0", "--registry", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "learning_rate" in result.output
    assert not (tmp_path / "m").exists()  # nothing trained or published

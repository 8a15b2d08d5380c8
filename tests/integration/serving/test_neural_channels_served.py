"""End to end: the neural recall channels trained by `encore train recall` into a
registry, loaded by `encore serve` in a fresh process and served over gRPC, switched on
by configuration alone (no change to the server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from encore.platform.world import generate_world
from encore.platform.world.cli import world_config
from encore.serving.client import RecommenderClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEURAL = ("youtube_dnn", "mind", "sdm")
TINY = {"epochs": 1, "max_train_samples": 3000, "embedding_dim": 16, "batch_size": 256}


def _encore(*args: str, config: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    # run from the config's folder: the repository root would shadow the standard library's platform
    return subprocess.run([sys.executable, "-m", "encore.cli.main", "--config", str(config), *args],
                          env=env, capture_output=True, text=True, timeout=900, cwd=config.parent, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("neural_e2e")
    world = root / "world"
    generate_world(world_config(users=150, days=5, tracks=600, artists=60, seed=3), world, progress=False)
    channels = [{"name": "popular", "kind": "popularity", "k": 100, "quota": 20}]
    channels += [{"name": kind, "kind": kind, "k": 100, "quota": 20, "deadline_ms": 2000, "params": TINY}
                 for kind in NEURAL]
    config = root / "encore.yaml"
    config.write_text(yaml.safe_dump({
        "paths": {"runtime_dir": str(root / "runtime")},
        "registry": {"root": str(root / "models")},
        "recall": {"channels": channels},
        "pipeline": {"next_track_channels": list(NEURAL)},
        "evaluation": {"fit_window_days": 4},
    }))
    done = _encore("train", "recall", *[x for c in channels for x in ("--channel", c["name"])],
                   "--world", str(world), "--report", str(root / "train.json"), config=config)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, world, config, done


def test_train_recall_publishes_every_channel_with_its_training_summary(trained):
    root, _, _, done = trained
    import json

    report = json.loads((root / "train.json").read_text())
    assert set(report["channels"]) == {"popular", *NEURAL}
    for kind in NEURAL:
        training = report["channels"][kind]["training"]
        assert training["epochs"] == 1 and training["samples"] > 100 and training["seconds"] > 0
        assert (root / "models" / f"recall.{kind}" / "PROMOTED").is_file()


def test_a_fresh_server_serves_daily_recommend_from_every_neural_channel(trained):
    root, world, config, _ = trained
    port = _free_port()
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "encore.cli.main", "--config", str(config), "serve", "--world", str(world),
         "--port", str(port), "--no-features"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=root)
    try:
        with RecommenderClient(f"127.0.0.1:{port}", timeout_s=30) as client:
            client.wait_ready(timeout_s=180)
            answer = client.daily_recommend(user_id=5, count=30)
            radio = client.next_track([int(i) for i in answer.ids[:3]], anonymous_id="e2e", session_id="e2e",
                                      count=10)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    assert len(answer.ids) == 30 and not answer.degraded_channels, out[-3000:]
    found_by = {c for item in answer.items for c in item.channels}
    assert set(NEURAL) <= found_by, (found_by, out[-2000:])
    assert radio.ids and {c for item in radio.items for c in item.channels} <= set(NEURAL)
    for kind in NEURAL:
        assert f"{kind}=v0001" in out

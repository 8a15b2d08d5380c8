"""Defect 9: `encore events replay` and `encore events serve` create (or verify) both
topics with their configured partitions before producing anything, on a real broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kafka.admin import KafkaAdminClient
from typer.testing import CliRunner

from encore.platform import config as config_mod
from encore.platform.config import KafkaConfig
from encore.platform.events.cli import app as events_cli
from encore.platform.events.reader import read_records
from encore.platform.events.topics import partition_counts
from encore.platform.contracts.event_log import EVENTS, event_partition
from encore.platform.world.schema import MANIFEST

pytestmark = pytest.mark.integration

ENCORE = Path(sys.executable).with_name("encore")


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="topics-tests")
    yield client
    client.close()


@pytest.fixture
def fresh_config(kafka_bootstrap: str) -> KafkaConfig:
    """Topic names nobody has created yet."""
    suffix = uuid.uuid4().hex[:8]
    return KafkaConfig(bootstrap_servers=kafka_bootstrap, events_topic=f"t-events-{suffix}",
                       dead_letter_topic=f"t-dlq-{suffix}", partitions=4)


@pytest.fixture
def tiny_world(tmp_path: Path) -> Path:
    """One day, two good rows and one the codec refuses (a dead letter)."""
    from datetime import datetime, timezone

    ts = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    rows = [{"event_id": f"e{i}", "ts": ts, "user_id": i, "session_id": "s",
             "scenario": "daily_recommend", "track_id": 3, "action": action,
             "played_ms": None, "position": None, "propensity": None, "request_id": None}
            for i, action in enumerate(["play_start", "heart", "no_such_action"])]
    path = tmp_path / "world" / event_partition("2026-01-05")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENTS), path)
    import hashlib

    (tmp_path / "world" / MANIFEST).write_text(json.dumps({"files": {
        event_partition("2026-01-05"): hashlib.sha256(path.read_bytes()).hexdigest()}}))
    return tmp_path / "world"


def _invoke(config: KafkaConfig, tmp_path: Path, monkeypatch, *args: str):
    config_file = tmp_path / "encore.yaml"
    config_file.write_text(json.dumps({"kafka": config.model_dump()}))
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(config_file))
    config_mod.default_config.cache_clear()
    try:
        return CliRunner().invoke(events_cli, list(args))
    finally:
        config_mod.default_config.cache_clear()


def test_replay_creates_the_missing_events_topic_with_its_partitions(
        fresh_config, tiny_world, admin, tmp_path, monkeypatch) -> None:
    """The issue's case: only the dead-letter topic exists."""
    admin.create_topics({fresh_config.dead_letter_topic: {"num_partitions": 1}})
    result = _invoke(fresh_config, tmp_path, monkeypatch,
                     "replay", "--world", str(tiny_world), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "replayed 2 events" in result.output
    counts = partition_counts(admin, [fresh_config.events_topic, fresh_config.dead_letter_topic])
    assert counts == {fresh_config.events_topic: 4, fresh_config.dead_letter_topic: 1}
    [letter] = read_records(fresh_config.bootstrap_servers, fresh_config.dead_letter_topic)
    assert b"no_such_action" in letter.value
    assert len(read_records(fresh_config.bootstrap_servers, fresh_config.events_topic)) == 2


def test_replay_refuses_an_events_topic_with_too_few_partitions(
        fresh_config, tiny_world, admin, tmp_path, monkeypatch) -> None:
    admin.create_topics({fresh_config.events_topic: {"num_partitions": 1}})
    result = _invoke(fresh_config, tmp_path, monkeypatch,
                     "replay", "--world", str(tiny_world), "--no-progress")
    assert result.exit_code == 1
    assert (f"topic {fresh_config.events_topic} has 1 partition(s) but kafka.partitions is 4"
            in result.output)
    assert read_records(fresh_config.bootstrap_servers, fresh_config.events_topic) == []


def test_serve_refuses_an_events_topic_with_too_few_partitions(
        fresh_config, admin, tmp_path) -> None:
    admin.create_topics({fresh_config.events_topic: {"num_partitions": 2}})
    config_file = tmp_path / "encore.yaml"
    config_file.write_text(json.dumps({"kafka": fresh_config.model_dump(),
                                       "serving": {"events_port": 0}}))
    proc = subprocess.run(
        [str(ENCORE), "events", "serve"], capture_output=True, text=True, timeout=60,
        env=os.environ | {"ENCORE_CONFIG": str(config_file)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "has 2 partition(s) but kafka.partitions is 4" in proc.stdout
    # the dead-letter topic it could create is there, with its configured partition
    assert partition_counts(admin, [fresh_config.dead_letter_topic]) == {
        fresh_config.dead_letter_topic: 1}


def test_topics_command_creates_both(fresh_config, admin, tmp_path, monkeypatch) -> None:
    result = _invoke(fresh_config, tmp_path, monkeypatch, "topics")
    assert result.exit_code == 0, result.output
    assert result.output.count("created") == 2
    assert partition_counts(admin, [fresh_config.events_topic, fresh_config.dead_letter_topic]) == {
        fresh_config.events_topic: 4, fresh_config.dead_letter_topic: 1}

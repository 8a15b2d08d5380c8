"""`encore events serve` as an operator runs it: a separate process that answers health
checks and Log calls, and on SIGTERM finishes and flushes so no accepted event is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from encore.platform.events.reader import read_records
from encore.protos.encore.v1 import events_pb2, events_pb2_grpc
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario

pytestmark = pytest.mark.integration

ENCORE = Path(sys.executable).with_name("encore")


def _event(event_id: str, **fields) -> Event:
    event = Event(event_id=event_id, user_id=7, session_id="s", track_id=3,
                  scenario=Scenario.DAILY_RECOMMEND, action=Action.PLAY_START, **fields)
    event.timestamp.GetCurrentTime()
    return event


def _read_port(proc: subprocess.Popen, lines: list[str]) -> int:
    """The port from the 'listening on host:port' line (read on a thread: no hang)."""
    found = threading.Event()

    def pump() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(60):
        proc.kill()
        pytest.fail("encore events serve did not start:\n" + "".join(lines))
    return int(next(line for line in lines if "listening on" in line).rsplit(":", 1)[1])


def test_serve_answers_health_and_log_then_stops_cleanly(kafka_config, tmp_path) -> None:
    config_file = tmp_path / "encore.yaml"
    config_file.write_text(yaml.safe_dump({
        "kafka": kafka_config.model_dump(),
        "serving": {"events_port": 0, "max_events_per_log_call": 5},
    }))
    proc = subprocess.Popen(
        [str(ENCORE), "events", "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=os.environ | {"ENCORE_CONFIG": str(config_file), "COLUMNS": "200"},
    )
    lines: list[str] = []
    try:
        port = _read_port(proc, lines)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="encore.v1.Events"), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stub = events_pb2_grpc.EventsStub(channel)
            good = [_event("serve-1"), _event("serve-2")]
            bad = _event("serve-3")
            bad.ClearField("track_id")
            response = stub.Log(events_pb2.LogEventsRequest(events=[*good, bad]), timeout=30)
            assert response.accepted == 2
            assert [(r.index, r.event_id, r.reason) for r in response.rejections] == [
                (2, "serve-3", "missing track_id")]
            with pytest.raises(grpc.RpcError) as too_many:  # the configured cap is 5
                stub.Log(events_pb2.LogEventsRequest(events=[_event(f"x{i}") for i in range(6)]),
                         timeout=30)
            assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "producer flushed" in "".join(lines)
    on_topic = {r.value for r in read_records(kafka_config.bootstrap_servers, kafka_config.events_topic)}
    assert {Event.FromString(v).event_id for v in on_topic} == {"serve-1", "serve-2"}

"""Events from the gRPC service, the producer and the world replay reach a real
Kafka-protocol broker: keyed by listener, in order per listener, the malformed ones in
the dead-letter topic with their reasons, and nothing lost."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from encore.platform import config as config_mod
from encore.platform.config import WorldConfig
from encore.platform.events.cli import app as events_cli
from encore.platform.events.codec import decode_event, record_key
from encore.platform.events.reader import read_records
from encore.platform.events.replay import replay_world
from encore.platform.world import generate_world
from encore.protos.encore.v1 import events_pb2, events_pb2_grpc
from encore.protos.encore.v1.event_pb2 import Action, Event, Scenario

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)


def listen(n: int, **subject: object) -> list[Event]:
    """n PLAY_END events of one listener, one second apart."""
    events = []
    for i in range(n):
        event = Event(event_id=f"{subject}-{i}", session_id="s", track_id=i,
                      scenario=Scenario.PRIVATE_RADIO, action=Action.PLAY_END,
                      played_ms=1000 + i, **subject)
        event.timestamp.FromDatetime(START + timedelta(seconds=i))
        events.append(event)
    return events


def log(channel: grpc.Channel, events: list[Event]) -> events_pb2.LogEventsResponse:
    return events_pb2_grpc.EventsStub(channel).Log(
        events_pb2.LogEventsRequest(events=events), timeout=30)


def dead_letters(kafka_config) -> list[dict]:
    records = read_records(kafka_config.bootstrap_servers, kafka_config.dead_letter_topic)
    return [json.loads(r.value) | {"key": r.key} for r in records]


def test_grpc_events_arrive_keyed_and_in_order(events_channel, kafka_config) -> None:
    streams = [listen(12, user_id=1), listen(12, user_id=2), listen(12, anonymous_id="dev-9")]
    for start in range(0, 12, 4):  # interleave listeners over several Log calls
        batch = [e for stream in streams for e in stream[start:start + 4]]
        response = log(events_channel, batch)
        assert (response.accepted, list(response.rejections)) == (len(batch), [])

    records = read_records(kafka_config.bootstrap_servers, kafka_config.events_topic)
    assert len(records) == 36
    by_key: dict[bytes, list] = defaultdict(list)
    for record in records:  # partition, offset order
        by_key[record.key].append(record)
    for stream in streams:
        got = by_key[record_key(stream[0])]
        assert len({r.partition for r in got}) == 1, "one listener's events share a partition"
        assert [decode_event(r.value) for r in got] == stream, "in the order they were sent"
    assert set(by_key) == {b"u:1", b"u:2", b"a:dev-9"}


def test_malformed_events_and_garbage_go_to_the_dlq(events_channel, producer, kafka_config) -> None:
    good = listen(1, user_id=5)[0]
    no_subject = Event(event_id="no-subject", track_id=1, scenario=Scenario.SEARCH,
                       action=Action.HEART)
    no_subject.timestamp.FromDatetime(START)
    bad_exposure = listen(1, user_id=6)[0]
    bad_exposure.event_id, bad_exposure.action, bad_exposure.propensity = "bad-exp", Action.EXPOSURE, 2.0

    response = log(events_channel, [no_subject, good, bad_exposure])
    assert response.accepted == 1
    assert [(r.index, r.event_id) for r in response.rejections] == [(0, "no-subject"), (2, "bad-exp")]
    assert "missing subject" in response.rejections[0].reason
    assert "missing timestamp" not in response.rejections[0].reason
    assert "propensity must be in (0, 1]" in response.rejections[1].reason

    garbage = b"\x00\xffthis is not an event"
    assert producer.send_raw(garbage)
    producer.flush()

    letters = {d["event_id"] or "garbage": d for d in dead_letters(kafka_config)}
    assert set(letters) == {"no-subject", "bad-exp", "garbage"}
    assert letters["no-subject"]["source"] == "grpc" and letters["no-subject"]["key"] is None
    assert any("missing subject" in r for r in letters["no-subject"]["reasons"])
    assert letters["bad-exp"]["key"] == b"u:6"
    assert decode_event(base64.b64decode(letters["bad-exp"]["payload_base64"])) == bad_exposure
    assert letters["garbage"]["source"] == "test"
    assert "not an encore.v1.Event" in letters["garbage"]["reasons"][0]
    assert base64.b64decode(letters["garbage"]["payload_base64"]) == garbage

    events = read_records(kafka_config.bootstrap_servers, kafka_config.events_topic)
    assert [decode_event(r.value) for r in events] == [good]


def test_oversized_request_is_invalid_argument(events_channel, kafka_config, max_events) -> None:
    with pytest.raises(grpc.RpcError) as err:
        log(events_channel, listen(max_events + 1, user_id=3))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {max_events}" in err.value.details()
    assert read_records(kafka_config.bootstrap_servers, kafka_config.events_topic) == []


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(users=60, days=2, tracks=400, artists=40), out, progress=False)
    return out


def test_replay_puts_every_event_on_the_topic(small_world, producer, kafka_config) -> None:
    logged = pq.read_table(small_world / "events").column("event_id").to_pylist()
    assert replay_world(small_world, producer, None, progress=False) == len(logged)

    records = read_records(kafka_config.bootstrap_servers, kafka_config.events_topic)
    replayed = [decode_event(r.value).event_id for r in records]
    assert len(replayed) == len(logged)
    assert set(replayed) == set(logged)
    assert dead_letters(kafka_config) == []


def test_cli_topics_replay_and_tail(small_world, kafka_config, tmp_path, monkeypatch) -> None:
    config_file = tmp_path / "encore.yaml"
    config_file.write_text(json.dumps({"kafka": kafka_config.model_dump()}))  # JSON is YAML
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(config_file))
    config_mod.default_config.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(events_cli, ["topics"])
        assert result.exit_code == 0, result.output
        assert "already there" in result.output

        result = runner.invoke(events_cli, ["replay", "--world", str(small_world),
                                            "--dates", "2026-01-06", "--rate", "50000",
                                            "--no-progress"])
        assert result.exit_code == 0, result.output
        day = pq.read_table(small_world / "events" / "date=2026-01-06").num_rows
        assert f"replayed {day:,} events" in result.output

        result = runner.invoke(events_cli, ["tail", "--n", "3"])
        assert result.exit_code == 0, result.output
        assert "last 3 of" in result.output and "action=" in result.output

        result = runner.invoke(events_cli, ["replay", "--world", str(small_world),
                                            "--dates", "1999-01-01", "--no-progress"])
        assert result.exit_code == 1 and "no events for 1999-01-01" in result.output
    finally:
        config_mod.default_config.cache_clear()


def test_huge_malformed_event_is_rejected_alone_on_a_real_broker(events_channel, kafka_config) -> None:
    """Defect 7: an event whose event_id is 0.8 MB made Log fail with UNAVAILABLE (its
    dead-letter record, payload base64-encoded, was over the broker's 1 MB limit), after
    the events before it had been written; a retry could never succeed."""
    before, huge, after = listen(3, user_id=21)
    huge.event_id = "x" * 800_000
    response = log(events_channel, [before, huge, after])
    assert response.accepted == 2
    assert [r.index for r in response.rejections] == [1]
    assert "event_id is 800000 characters long" in response.rejections[0].reason

    events = read_records(kafka_config.bootstrap_servers, kafka_config.events_topic)
    assert [decode_event(r.value).event_id for r in events] == [before.event_id, after.event_id]
    [letter] = dead_letters(kafka_config)
    assert letter["payload_truncated"] is True
    assert letter["payload_bytes"] == huge.ByteSize()
    assert letter["key"] == b"u:21"

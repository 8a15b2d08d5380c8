"""Replay of an event log (hand-written parquet) through the producer, and the token
bucket that paces it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.events.codec import decode_event
from encore.platform.events.producer import EventProducer
from encore.platform.events.replay import ReplayError, TokenBucket, event_files, replay_world
from encore.platform.contracts.event_log import EVENTS, event_partition
from encore.platform.world.schema import MANIFEST

START = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def write_manifest(world: Path) -> None:
    """The ``files`` part of a world manifest (what replay checks) for every event file."""
    files = {p.relative_to(world).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(world.glob("events/date=*/*.parquet"))}
    (world / MANIFEST).write_text(json.dumps({"files": files}))


def write_day(world: Path, day: str, rows: list[dict] | pa.Table, **options) -> Path:
    path = world / event_partition(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=EVENTS)
    pq.write_table(table, path, **options)
    write_manifest(world)
    return path


def row(i: int, *, user_id: int | None = 1, action: str = "play_start", **extra) -> dict:
    return {"event_id": f"e{i}", "ts": START + timedelta(seconds=i), "user_id": user_id,
            "session_id": f"s{user_id}", "scenario": "daily_recommend", "track_id": 10 + i,
            "action": action, "played_ms": None, "position": None, "propensity": None,
            "request_id": None, **extra}


@pytest.fixture
def world(tmp_path: Path) -> Path:
    # Written out of ts order on purpose: replay sends each day in timestamp order.
    write_day(tmp_path, "2026-01-05", [row(3), row(1, user_id=None), row(2, user_id=2)])
    write_day(tmp_path, "2026-01-06", [row(10), row(11, action="play_end")])
    return tmp_path


def test_replay_sends_every_event_in_order(world, kafka_config, fake_kafka) -> None:
    producer = EventProducer(kafka_config, client=fake_kafka)
    assert replay_world(world, producer, None, progress=False) == 4
    sent = [decode_event(v).event_id for _, v in fake_kafka.on("ev")]
    assert sent == ["e1", "e2", "e3", "e10"]
    assert [k for k, _ in fake_kafka.on("ev")][:2] == [b"a:sNone", b"u:2"]
    [(_, dead)] = fake_kafka.on("dlq")
    assert b"played_ms is required for PLAY_END" in dead


def test_replay_selected_dates(world, kafka_config, fake_kafka) -> None:
    producer = EventProducer(kafka_config, client=fake_kafka)
    assert replay_world(world, producer, None, dates=["2026-01-06"], progress=False) == 1


def test_rows_the_codec_refuses_go_to_the_dlq(tmp_path, kafka_config, fake_kafka) -> None:
    write_day(tmp_path, "2026-01-05", [row(1, user_id=None, session_id=None), row(2)])
    producer = EventProducer(kafka_config, client=fake_kafka)
    assert replay_world(tmp_path, producer, None, progress=False) == 1
    [(_, dead)] = fake_kafka.on("dlq")
    assert b"no session_id" in dead


def test_replay_is_paced_by_the_rate(world, kafka_config, fake_kafka) -> None:
    clock = FakeClock()
    producer = EventProducer(kafka_config, client=fake_kafka)
    replay_world(world, producer, 2.0, progress=False, clock=clock, sleep=clock.sleep)
    # 5 rows at 2/s with a burst of 1: the first is free, the other 4 wait 0.5 s each.
    assert clock.now == pytest.approx(2.0)


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100.0, 10, clock=clock, sleep=clock.sleep)
    bucket.acquire(10)
    assert clock.now == 0.0
    for _ in range(10):
        bucket.acquire(10)
    assert clock.now == pytest.approx(1.0)
    with pytest.raises(ValueError, match="burst"):
        bucket.acquire(11)


@pytest.mark.parametrize("dates", [["2026-02-01"], ["garbage"]])
def test_unknown_dates_are_a_clear_error(world, dates) -> None:
    with pytest.raises(ReplayError, match="no events for"):
        event_files(world, dates)


def test_world_without_events(tmp_path, kafka_config, fake_kafka) -> None:
    write_manifest(tmp_path)
    with pytest.raises(ReplayError, match="no date=YYYY-MM-DD"):
        replay_world(tmp_path, EventProducer(kafka_config, client=fake_kafka), None)


def test_rate_must_be_positive(world, kafka_config, fake_kafka) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        replay_world(world, EventProducer(kafka_config, client=fake_kafka), 0.0)


# -- corrupt event files: checked before anything is sent (defect 8) ------------------

def _replay_fails(world: Path, kafka_config, fake_kafka, match: str) -> None:
    producer = EventProducer(kafka_config, client=fake_kafka)
    with pytest.raises(ReplayError, match=match):
        replay_world(world, producer, None, progress=False)
    assert fake_kafka.records == [], "nothing is sent when a file is bad"


def _big_day(world: Path) -> Path:
    rows = [row(i, user_id=i % 50) for i in range(6000)]
    return write_day(world, "2026-01-07", rows, compression="none", use_dictionary=False)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_or_empty_file_is_named(world, kafka_config, fake_kafka, keep) -> None:
    path = world / event_partition("2026-01-06")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _replay_fails(world, kafka_config, fake_kafka, f"{path} is not a readable parquet file")


def test_truncated_file_with_a_matching_checksum_is_still_refused(world, kafka_config, fake_kafka) -> None:
    path = world / event_partition("2026-01-06")
    path.write_bytes(path.read_bytes()[:100])
    write_manifest(world)
    _replay_fails(world, kafka_config, fake_kafka, "not a readable parquet file")


def test_missing_action_column_is_named(world, kafka_config, fake_kafka) -> None:
    table = pa.Table.from_pylist([row(20)], schema=EVENTS).drop_columns(["action"])
    path = write_day(world, "2026-01-06", table)
    _replay_fails(world, kafka_config, fake_kafka, f"{path} .*missing column action")


def test_ts_stored_as_text_is_named(world, kafka_config, fake_kafka) -> None:
    table = pa.Table.from_pylist([row(20)], schema=EVENTS)
    table = table.set_column(1, "ts", pa.array([str(START)]))
    path = write_day(world, "2026-01-06", table)
    _replay_fails(world, kafka_config, fake_kafka, f"{path} .*ts: expected timestamp.*found string")


def test_flipped_bytes_in_a_data_page_are_caught_by_the_checksum(
        world, kafka_config, fake_kafka) -> None:
    """The issue's case: 600 flipped bytes inside a data page still parse (event ids
    change silently), so only the manifest's sha256 can tell."""
    path = _big_day(world)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    for i in range(middle, middle + 600):
        data[i] ^= 0x01
    path.write_bytes(bytes(data))
    assert pq.read_table(path).num_rows == 6000  # still a readable file
    _replay_fails(world, kafka_config, fake_kafka, f"{path} does not match its sha256")


def test_a_world_without_manifest_is_refused(world, kafka_config, fake_kafka) -> None:
    (world / MANIFEST).unlink()
    _replay_fails(world, kafka_config, fake_kafka, "manifest.json not found")


def test_an_unlisted_file_is_refused(world, kafka_config, fake_kafka) -> None:
    extra = world / "events" / "date=2026-01-06" / "part-00001.parquet"
    pq.write_table(pa.Table.from_pylist([row(30)], schema=EVENTS), extra)
    _replay_fails(world, kafka_config, fake_kafka, f"{extra} is not listed")


def test_a_listed_file_that_is_gone_is_refused(world, kafka_config, fake_kafka) -> None:
    path = world / event_partition("2026-01-06")
    path.unlink()
    _replay_fails(world, kafka_config, fake_kafka, f"{path} is listed .* but missing")
    # a day not selected does not matter
    producer = EventProducer(kafka_config, client=fake_kafka)
    assert replay_world(world, producer, None, dates=["2026-01-05"], progress=False) == 3


def test_cli_bad_file_is_one_line_and_exit_1(world, tmp_path_factory, monkeypatch) -> None:
    from typer.testing import CliRunner

    from encore.platform import config as config_mod
    from encore.platform.events.cli import app
    from encore.platform.stack import free_port

    path = world / event_partition("2026-01-06")
    path.write_bytes(b"")
    config_file = tmp_path_factory.mktemp("cfg") / "encore.yaml"  # a broker nobody runs
    config_file.write_text(json.dumps({"kafka": {"bootstrap_servers": f"127.0.0.1:{free_port()}"}}))
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(config_file))
    monkeypatch.setenv("COLUMNS", "60")
    config_mod.default_config.cache_clear()
    try:
        result = CliRunner().invoke(app, ["replay", "--world", str(world), "--no-progress"])
    finally:
        config_mod.default_config.cache_clear()
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: ") and str(path) in line

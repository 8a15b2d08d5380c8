"""Replay of an event log (hand-written parquet) through the producer, and the token
bucket that paces it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.events.codec import decode_event
from encore.platform.events.producer import EventProducer
from encore.platform.events.replay import ReplayError, TokenBucket, event_files, replay_world
from encore.platform.world.schema import EVENTS, event_partition

START = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def write_day(world: Path, day: str, rows: list[dict]) -> None:
    path = world / event_partition(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENTS), path)


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
    with pytest.raises(ReplayError, match="no date=YYYY-MM-DD"):
        replay_world(tmp_path, EventProducer(kafka_config, client=fake_kafka), None)


def test_rate_must_be_positive(world, kafka_config, fake_kafka) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        replay_world(world, EventProducer(kafka_config, client=fake_kafka), 0.0)

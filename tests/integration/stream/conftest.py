"""Fixtures for the stream processor's integration tests: per-test topics, consumer
group, offline log and a Feast store with a SQLite online store in tmp dirs, on the
session's broker (tests/integration/conftest.py ``kafka_bootstrap``)."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from testkit.stream_worker import TRACK_DURATIONS

from encore.platform.config import (
    EncoreConfig,
    FeatureStoreConfig,
    KafkaConfig,
    StreamConfig,
)
from encore.platform.stream.state import FEATURE_NAMES
from encore.protos.encore.v1 import event_pb2

USERS = (101, 102, 103)
# every user_realtime feature but the processor's own bookkeeping
FEATURES = tuple(f for f in FEATURE_NAMES if f != "stream_state")


@dataclass
class StreamEnv:
    config: EncoreConfig
    store: Any

    @property
    def kafka(self) -> KafkaConfig:
        return self.config.kafka

    def processor(self, **kwargs):
        from encore.platform.stream.processor import StreamProcessor

        return StreamProcessor.from_config(
            self.config, store=self.store, durations=TRACK_DURATIONS,
            consumer_options={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
            **kwargs,
        )

    def produce(self, events) -> None:
        from encore.platform.events.producer import EventProducer

        with EventProducer(self.kafka, source="test") as producer:
            result = producer.send_many(events)
        assert result.accepted == len(events), result.rejections

    def online(self, user_ids) -> dict[int, dict[str, Any]]:
        rows = self.store.get_online_features(
            features=[f"user_realtime:{f}" for f in FEATURES],
            entity_rows=[{"user_id": u} for u in user_ids],
        ).to_dict()
        return {u: {f: rows[f][i] for f in FEATURES} for i, u in enumerate(rows["user_id"])}

    def wait_for(self, expected: dict[int, dict[str, Any]], deadline_s: float = 30.0):
        """Poll the online store until it shows ``expected`` (or the deadline passes)."""
        end = time.monotonic() + deadline_s
        got = None
        while time.monotonic() < end:
            got = self.online(list(expected))
            if got == expected:
                return got
            time.sleep(0.2)
        return got


@pytest.fixture
def stream_env(kafka_bootstrap: str, tmp_path: Path) -> StreamEnv:
    from encore.feature_store.store import apply_repo, open_store
    from encore.platform.events.producer import setup_topics

    tag = uuid.uuid4().hex[:8]
    config = EncoreConfig(
        kafka=KafkaConfig(bootstrap_servers=kafka_bootstrap, events_topic=f"events-{tag}",
                          dead_letter_topic=f"dlq-{tag}", partitions=2),
        stream=StreamConfig(consumer_group=f"stream-{tag}", recent_sequence_length=8,
                            max_batch_events=40, poll_timeout_ms=100,
                            offline_log_dir=tmp_path / "events"),
        feature_store=FeatureStoreConfig().under(tmp_path / "features"),
    )
    store = open_store(config.feature_store)
    apply_repo(store)
    setup_topics(config.kafka)
    return StreamEnv(config=config, store=store)


def make_events(n_per_user: int = 60, seed: int = 3, anonymous: int = 5) -> list[event_pb2.Event]:
    """A plausible interleaved stream for USERS, crossing a UTC midnight and a session
    gap, with every action kind, ts close to now (inside the view's 30-day TTL)."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    day_ms = 86_400_000
    base = (now_ms // day_ms - 2) * day_ms + 23 * 3_600_000  # 23:00 UTC two days ago: all past
    events = []
    for user in USERS:
        ts = base + rng.randrange(60_000)
        scenario = event_pb2.PRIVATE_RADIO
        for i in range(n_per_user):
            ts += rng.choice([20_000, 60_000, 120_000]) + (31 * 60_000 if i == n_per_user // 2 else 0)
            if rng.random() < 0.1:
                scenario = rng.choice([event_pb2.DAILY_RECOMMEND, event_pb2.PRIVATE_RADIO,
                                       event_pb2.SEARCH])
            track = rng.randrange(1, 21)
            action = rng.choice([
                event_pb2.PLAY_START, event_pb2.PLAY_START, event_pb2.PLAY_END, event_pb2.SKIP,
                event_pb2.HEART, event_pb2.UNHEART, event_pb2.EXPOSURE, event_pb2.SHARE,
            ])
            e = event_pb2.Event(event_id=str(uuid.UUID(int=rng.getrandbits(128))), user_id=user,
                                session_id=f"c-{user}", track_id=track, scenario=scenario,
                                action=action)
            if action == event_pb2.PLAY_END:
                e.played_ms = rng.choice([TRACK_DURATIONS[track], TRACK_DURATIONS[track] // 2])
            elif action == event_pb2.SKIP:
                e.played_ms = rng.randrange(0, 30_000)
            elif action == event_pb2.EXPOSURE:
                e.propensity, e.position = 0.5, 1
            e.timestamp.FromMilliseconds(ts)
            events.append(e)
    for i in range(anonymous):
        e = event_pb2.Event(event_id=f"anon-{seed}-{i}", anonymous_id=f"dev-{i}",
                            session_id=f"dev-{i}", track_id=1, scenario=event_pb2.PRIVATE_RADIO,
                            action=event_pb2.PLAY_START)
        e.timestamp.FromMilliseconds(base + i)
        events.append(e)
    # interleave users, keeping each user's order (as many clients would)
    by_user: dict[Any, list] = {}
    for e in events:
        by_user.setdefault(e.WhichOneof("subject") + str(getattr(e, e.WhichOneof("subject"))), []).append(e)
    queues = list(by_user.values())
    mixed = []
    while queues:
        q = rng.choice(queues)
        mixed.append(q.pop(0))
        if not q:
            queues.remove(q)
    return mixed


def expected_features(config: EncoreConfig, events) -> dict[int, dict[str, Any]]:
    """The features a pure-Python replay of ``events`` (each event id once) gives."""
    from encore.platform.stream.state import StateParams, StreamEvent, replay

    params = StateParams.from_config(config, TRACK_DURATIONS)
    views = [StreamEvent.from_proto(e) for e in events]
    out = {}
    for user in USERS:
        state = replay(user, [v for v in views if v.user_id == user], params)
        out[user] = {f: getattr(state, f) for f in FEATURES}
    return out

"""Reading a topic back, outside any consumer group: ``encore events tail`` and tests.

It assigns every partition by hand and reads up to the end offsets seen at the start,
so it returns a definite snapshot (never waits for new records), commits nothing and
does not disturb the stream processor's consumer group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError


class TopicReadError(RuntimeError):
    """The topic does not exist or could not be read to its end in time."""


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes


def read_records(
    bootstrap_servers: str, topic: str, *, last_n: int | None = None, timeout_s: float = 15.0
) -> list[Record]:
    """Every record of ``topic`` (or the last ``last_n`` of each partition), in
    partition then offset order."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
            client_id="encore-events-reader",
        )
    except KafkaError as err:
        raise TopicReadError(f"cannot connect to Kafka at {bootstrap_servers}: {err}") from err
    try:
        return _read(consumer, topic, last_n, timeout_s)
    except KafkaError as err:
        raise TopicReadError(f"cannot read topic {topic}: {err}") from err
    finally:
        consumer.close()


def _read(consumer: KafkaConsumer, topic: str, last_n: int | None, timeout_s: float) -> list[Record]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise TopicReadError(f"topic {topic} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    remaining = {}
    for tp in tps:
        start = begin[tp] if last_n is None else max(begin[tp], end[tp] - last_n)
        if start < end[tp]:
            consumer.seek(tp, start)
            remaining[tp] = end[tp]
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while remaining:
        if time.monotonic() > deadline:
            raise TopicReadError(f"timed out reading {topic} up to offsets {remaining}")
        for tp, batch in consumer.poll(timeout_ms=200).items():
            for msg in batch:
                if msg.offset < remaining.get(tp, -1):
                    records.append(Record(
                        topic, msg.partition, msg.offset, msg.timestamp, msg.key, msg.value,
                    ))
            if consumer.position(tp) >= remaining.get(tp, 0):
                remaining.pop(tp, None)
    records.sort(key=lambda r: (r.partition, r.offset))
    return records

"""Benchmark of the stream processor: event-to-online-feature latency and consumer lag
at several sustained produce rates, in one run.

One run, one machine, its own broker (noida-db on a free port) and, per rate, a fresh
topic, consumer group and Feast store (SQLite online store) in a temporary folder. The
events are those of a small generated world (``users`` users, one day), sent again and
again with fresh event ids and stamped with their send time (a live stream):

- the **producer** runs in a process of its own (as clients do; no GIL shared with the
  processor) and sends ``rate`` events/s for ``seconds`` s (paced in 2 ms steps);
- the **processor** (``StreamProcessor.from_config``, as ``encore stream run`` builds it)
  runs in a thread of the benchmark process;
- **latency** of every event = the end of the online-store write that applied it (the
  batch's push has returned, so readers see it) minus the Kafka record's CreateTime,
  which the producer set at ``send()``; p50/p90/p99/max over all user events;
- **lag** = events sent - events processed, sampled every second (max and the series).
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from encore.platform.stack import free_port

DEFAULT_RATES = (500.0, 2000.0, 5000.0)


def _world_events(tmp: Path, users: int) -> tuple[list[bytes], dict[int, int], dict]:
    """Serialized Events of one day of a small world, in time order, and durations."""
    import pyarrow.parquet as pq

    from encore.platform.config import default_config
    from encore.platform.events.codec import row_to_event
    from encore.platform.events.replay import event_files
    from encore.platform.stream.catalog import load_track_durations
    from encore.platform.world import generate_world

    cfg = default_config().world.model_copy(
        update={"users": users, "days": 1, "tracks": 1000, "artists": 100})
    world = tmp / "world"
    manifest = generate_world(cfg, world, progress=False)
    table = pq.read_table(event_files(world)).sort_by([("ts", "ascending")])
    events = [row_to_event(row).SerializeToString() for row in table.to_pylist()]
    info = {"world_users": users, "world_days": 1, "world_events": manifest.counts["events"],
            "tracks": cfg.tracks}
    return events, load_track_durations(world), info


def _produce(bootstrap: str, topic: str, events: list[bytes], rate: float, seconds: float,
             tag: str, sent, done) -> None:
    """Producer process: ``rate`` events/s for ``seconds`` s; ``sent`` counts them."""
    from kafka import KafkaProducer

    from encore.protos.encore.v1.event_pb2 import Event

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=2,
                             max_in_flight_requests_per_connection=5)
    total = int(rate * seconds)
    n = len(events)
    event = Event()
    started = time.monotonic()
    i = 0
    while i < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        while i < due:
            event.ParseFromString(events[i % n])
            event.event_id = f"{event.event_id}~{tag}{i // n}"
            event.timestamp.FromMilliseconds(int(time.time() * 1000))
            subject = event.WhichOneof("subject")
            key = (f"u:{event.user_id}" if subject == "user_id" else f"a:{event.anonymous_id}")
            producer.send(topic, key=key.encode(), value=event.SerializeToString())
            i += 1
        sent.value = i
        time.sleep(0.002)
    producer.flush(60)
    producer.close(10)
    done.value = time.monotonic() - started


def _config(tmp: Path, bootstrap: str, tag: str):
    from encore.platform.config import EncoreConfig, FeatureStoreConfig, KafkaConfig, StreamConfig

    return EncoreConfig(
        kafka=KafkaConfig(bootstrap_servers=bootstrap, events_topic=f"bench-events-{tag}",
                          dead_letter_topic=f"bench-dlq-{tag}", partitions=4),
        stream=StreamConfig(consumer_group=f"bench-stream-{tag}",
                            offline_log_dir=tmp / f"events-{tag}"),
        feature_store=FeatureStoreConfig().under(tmp / f"features-{tag}"),
    )


def _percentiles(values_ms: np.ndarray) -> dict[str, float] | None:
    if not len(values_ms):
        return None
    return {name: round(float(np.percentile(values_ms, q)), 1)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99))} | {
        "max": round(float(values_ms.max()), 1)}


def _rate_phase(tmp: Path, bootstrap: str, events: list[bytes], durations: dict[int, int],
                rate: float, seconds: float) -> dict[str, Any]:
    from encore.feature_store.store import open_store
    from encore.platform.stream.admin import prepare_stream
    from encore.platform.stream.processor import StreamProcessor

    tag = f"r{int(rate)}"
    config = _config(tmp, bootstrap, tag)
    store = open_store(config.feature_store)
    prepare_stream(config, store)
    processor = StreamProcessor.from_config(config, store=store, durations=durations,
                                            log_interval_s=1e9)
    latencies: list[float] = []
    timestamp_types: set[int] = set()
    original = processor.process_batch

    def timed(records):
        stats = original(records)
        visible = time.time() * 1000
        latencies.extend(visible - r.timestamp for r in records)
        if not timestamp_types and records:
            timestamp_types.add(records[0].timestamp_type)
        return stats

    processor.process_batch = timed  # type: ignore[method-assign]
    gc.collect()
    gc.freeze()  # as `encore stream run` does before it starts consuming
    stop = threading.Event()
    worker = threading.Thread(target=processor.run,
                              kwargs=dict(stop_event=stop, install_signal_handlers=False))
    worker.start()
    deadline = time.monotonic() + 30  # the group join is not part of the measurement
    assert processor.consumer is not None  # from_config connects one
    while not processor.consumer.assignment() and time.monotonic() < deadline:
        time.sleep(0.05)

    ctx = mp.get_context("spawn")
    sent, done = ctx.Value("q", 0), ctx.Value("d", 0.0)
    producer = ctx.Process(target=_produce, args=(bootstrap, config.kafka.events_topic, events,
                                                  rate, seconds, tag, sent, done))
    started = time.monotonic()
    producer.start()
    lag_series: list[tuple[float, int]] = []
    total = int(rate * seconds)
    while True:
        time.sleep(1.0)
        now = time.monotonic() - started
        lag_series.append((round(now, 1), max(sent.value - processor.stats.records, 0)))
        if processor.stats.records >= total or (not producer.is_alive() and now > seconds + 120):
            break
    producer.join(60)
    stop.set()
    worker.join(60)
    lat = np.array(latencies)
    half = lat[len(lat) // 2:]  # the second half of the run: is it keeping up?
    return {
        "target_rate_events_per_s": rate,
        "seconds": seconds,
        "events": total,
        "achieved_produce_rate_events_per_s": round(total / done.value, 1) if done.value else None,
        "records_processed": processor.stats.records,
        "latency_ms": _percentiles(lat),
        "latency_ms_second_half": _percentiles(half),
        "max_lag_events": max((lag for _, lag in lag_series), default=0),
        "lag_events_per_second": [lag for _, lag in lag_series],
        "processor": {"batches": processor.stats.batches,
                      "mean_batch_records": round(processor.stats.records
                                                  / max(processor.stats.batches, 1), 1),
                      "users_pushed": processor.stats.users_pushed,
                      "applied": processor.stats.applied,
                      "dead_lettered": processor.stats.dead_lettered,
                      "future_skewed": processor.stats.future_skewed},
        "kafka_timestamp_type": sorted(timestamp_types),
    }


def run(out_json: Path, rates: tuple[float, ...] = DEFAULT_RATES, seconds: float = 60.0, *,
        users: int = 300) -> dict[str, Any]:
    """Every rate of ``rates`` for ``seconds`` s, one after the other on one broker (a
    fresh topic, group and SQLite online store each); writes the result with the
    machine's facts (and its load average) to ``out_json``."""
    import os

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import StackConfig
    from encore.platform.stack.services import kafka_service

    with tempfile.TemporaryDirectory(prefix="encore-bench-stream-") as tmp_name:
        tmp = Path(tmp_name)
        events, durations, world_info = _world_events(tmp, users)
        broker = kafka_service(StackConfig(kafka_port=free_port()), tmp / "kafka")
        broker.start(30.0)
        phases = []
        try:
            bootstrap = f"127.0.0.1:{broker.port}"
            for rate in rates:
                load_before = os.getloadavg()
                phase = _rate_phase(tmp, bootstrap, events, durations, rate, seconds)
                phase["load_average_1m_before_after"] = [round(load_before[0], 2),
                                                         round(os.getloadavg()[0], 2)]
                phases.append(phase)
        finally:
            broker.stop(15.0)
    result = {
        "benchmark": "stream.processor",
        "comparison": "same run, same broker: event-to-online-feature latency and consumer lag "
                      "at each sustained produce rate (producer in its own process)",
        "data": {**world_info, "events_per_rate": {str(p["target_rate_events_per_s"]): p["events"]
                                                   for p in phases}},
        "setup": {"broker": "noida-db (Kafka protocol) on 127.0.0.1", "online_store": "sqlite",
                  "partitions": 4, "consumers": 1,
                  "latency": "end of the online write of the event's batch - Kafka record "
                             "CreateTime (set at send)"},
        "rates": phases,
        "machine": machine_info(),
    }
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result

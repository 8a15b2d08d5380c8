"""Benchmark of the stream processor: event-to-online-feature latency and throughput.

One run, one machine, its own broker (noida-db on a free port) and Feast store (SQLite
online store) in a temporary folder, events from a small generated world (timestamps
shifted to end now, so they are inside the ``user_realtime`` TTL):

1. **latency**: the processor runs in a thread; a producer sends events at ``rate``
   events/s; for every ``sample_every``-th user event the time from just before
   ``send`` to the moment ``get_online_features`` shows it applied (its id is in the
   user's pushed ``stream_state`` dedupe window) is recorded; p50/p90/p99/max reported.
2. **throughput**: a fresh topic and group; the producer sends ``n_events`` as fast
   as it can (unthrottled, in a thread) while the processor consumes; events/s =
   records / (last batch end - first batch start), plus the producer's own rate.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from encore.platform.stack import free_port


def _world_events(tmp: Path, n_events: int, users: int) -> tuple[list[Any], dict[int, int], dict]:
    """``n_events`` Events of a small world, ts shifted so the last one is now."""
    import pyarrow.parquet as pq

    from encore.platform.config import default_config
    from encore.platform.events.codec import row_to_event
    from encore.platform.events.replay import event_files
    from encore.platform.stream.processor import load_track_durations
    from encore.platform.world import generate_world

    base = default_config().world
    days = 1
    while True:
        cfg = base.model_copy(update={"users": users, "days": days, "tracks": 1000, "artists": 100})
        world = tmp / f"world-{days}"
        manifest = generate_world(cfg, world, progress=False)
        if manifest.counts["events"] >= n_events or days >= 14:
            break
        days *= 2
    table = pq.read_table(event_files(world)).sort_by([("ts", "ascending")]).slice(0, n_events)
    rows = table.to_pylist()
    shift_ms = int(time.time() * 1000) - int(rows[-1]["ts"].timestamp() * 1000) - 1000
    events = []
    for row in rows:
        event = row_to_event(row)
        ms = event.timestamp.ToMilliseconds() + shift_ms
        event.timestamp.FromMilliseconds(ms)
        events.append(event)
    info = {"world_users": users, "world_days": days, "world_events": manifest.counts["events"],
            "tracks": cfg.tracks}
    return events, load_track_durations(world), info


def _config(tmp: Path, bootstrap: str, tag: str):
    from encore.platform.config import EncoreConfig, FeatureStoreConfig, KafkaConfig, StreamConfig

    return EncoreConfig(
        kafka=KafkaConfig(bootstrap_servers=bootstrap, events_topic=f"bench-events-{tag}",
                          dead_letter_topic=f"bench-dlq-{tag}", partitions=4),
        stream=StreamConfig(consumer_group=f"bench-stream-{tag}",
                            offline_log_dir=tmp / f"events-{tag}"),
        feature_store=FeatureStoreConfig().under(tmp / f"features-{tag}"),
    )


def _latency_phase(tmp, bootstrap, events, durations, rate, sample_every) -> dict:
    from encore.platform.events.producer import EventProducer
    from encore.platform.stream.processor import StreamProcessor
    from encore.platform.stream.state import event_key

    config = _config(tmp, bootstrap, "latency")
    from encore.feature_store.store import open_store
    from encore.platform.stream.admin import prepare_stream

    store = open_store(config.feature_store)  # the phase's fresh store
    prepare_stream(config, store)
    processor = StreamProcessor.from_config(config, store=store, durations=durations,
                                            log_interval_s=1e9)
    store = processor.state_store.store
    stop = threading.Event()
    worker = threading.Thread(target=processor.run,
                              kwargs=dict(stop_event=stop, install_signal_handlers=False))
    worker.start()
    # wait for the group assignment so the first samples do not measure the join
    deadline = time.monotonic() + 30
    while not processor.consumer.assignment() and time.monotonic() < deadline:
        time.sleep(0.05)

    pending: dict[str, tuple[int, float]] = {}  # event key -> (user, produce time)
    lock = threading.Lock()
    latencies: list[float] = []
    done = threading.Event()

    def poll_visible() -> None:
        while not (done.is_set() and not pending):
            with lock:
                items = list(pending.items())
            if not items:
                time.sleep(0.002)
                continue
            users = sorted({u for _, (u, _) in items})
            rows = store.get_online_features(
                features=["user_realtime:stream_state"],
                entity_rows=[{"user_id": u} for u in users],
            ).to_dict()
            now = time.time()
            seen = {}
            for user, state in zip(rows["user_id"], rows["stream_state"]):
                seen[user] = set(json.loads(state)["ids"]) if state else set()
            with lock:
                for key, (user, sent) in items:
                    if key in seen.get(user, ()):
                        latencies.append(now - sent)
                        del pending[key]
            time.sleep(0.002)

    poller = threading.Thread(target=poll_visible)
    poller.start()
    producer = EventProducer(config.kafka, source="bench", linger_ms=0)
    started = time.monotonic()
    user_events = 0
    for i, event in enumerate(events):
        target = started + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        is_user = event.WhichOneof("subject") == "user_id"
        if is_user:
            user_events += 1
            if user_events % sample_every == 0:
                with lock:
                    pending[event_key(event.event_id)] = (event.user_id, time.time())
        producer.send(event)
    producer.flush()
    achieved_rate = len(events) / (time.monotonic() - started)
    done.set()
    poller.join(60)
    stop.set()
    worker.join(60)
    producer.close()
    lat_ms = np.array(latencies) * 1000
    return {
        "events": len(events),
        "target_rate_events_per_s": rate,
        "achieved_produce_rate_events_per_s": round(achieved_rate, 1),
        "samples": int(len(lat_ms)),
        "samples_not_seen": len(pending),
        "latency_ms": {
            "p50": round(float(np.percentile(lat_ms, 50)), 1),
            "p90": round(float(np.percentile(lat_ms, 90)), 1),
            "p99": round(float(np.percentile(lat_ms, 99)), 1),
            "max": round(float(lat_ms.max()), 1),
        } if len(lat_ms) else None,
        "processor": {"records": processor.stats.records, "batches": processor.stats.batches,
                      "users_pushed": processor.stats.users_pushed},
    }


def _throughput_phase(tmp, bootstrap, events, durations) -> dict:
    from encore.platform.events.producer import EventProducer
    from encore.platform.stream.processor import StreamProcessor

    config = _config(tmp, bootstrap, "throughput")
    from encore.feature_store.store import open_store
    from encore.platform.stream.admin import prepare_stream

    store = open_store(config.feature_store)  # a fresh online store: the events are new to it
    prepare_stream(config, store)
    processor = StreamProcessor.from_config(config, store=store, durations=durations,
                                            log_interval_s=1e9)
    produce_seconds: list[float] = []

    def produce() -> None:
        with EventProducer(config.kafka, source="bench") as producer:
            t0 = time.perf_counter()
            for start in range(0, len(events), 5000):
                producer.send_many(events[start:start + 5000])
            produce_seconds.append(time.perf_counter() - t0)

    batch_times: list[tuple[float, float, int]] = []
    original = processor.process_batch

    def timed(records):
        t0 = time.perf_counter()
        stats = original(records)
        batch_times.append((t0, time.perf_counter(), stats.records))
        return stats

    processor.process_batch = timed  # type: ignore[method-assign]
    producer = threading.Thread(target=produce)
    producer.start()
    stats = processor.run(max_events=len(events), max_idle_s=30, install_signal_handlers=False)
    producer.join(120)
    first, last = batch_times[0][0], batch_times[-1][1]
    busy = sum(end - start for start, end, _ in batch_times)
    return {
        "events": len(events),
        "records_processed": stats.records,
        "batches": stats.batches,
        "mean_batch_records": round(stats.records / max(stats.batches, 1), 1),
        "consumer_events_per_s": round(stats.records / (last - first), 1),
        "consumer_events_per_s_busy_only": round(stats.records / busy, 1),
        "producer_events_per_s": round(len(events) / produce_seconds[0], 1) if produce_seconds else None,
        "users_pushed": stats.users_pushed,
    }


def run(out_json: Path, rate: float = 500.0, n_events: int = 20_000, *,
        sample_every: int = 25, users: int = 300) -> dict[str, Any]:
    """Run both phases in one process (same broker, same machine; a fresh SQLite online
    store per phase) and write
    the result with the machine's facts to ``out_json``. The latency phase sends
    ``min(n_events, 30 s * rate)`` events at ``rate``; the throughput phase sends
    ``n_events`` unthrottled."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.config import StackConfig
    from encore.platform.stack.services import kafka_service

    with tempfile.TemporaryDirectory(prefix="encore-bench-stream-") as tmp_name:
        tmp = Path(tmp_name)
        events, durations, world_info = _world_events(tmp, n_events, users)
        broker = kafka_service(StackConfig(kafka_port=free_port()), tmp / "kafka")
        broker.start(30.0)
        try:
            bootstrap = f"127.0.0.1:{broker.port}"
            n_latency = int(min(len(events), 30 * rate))
            latency = _latency_phase(tmp, bootstrap, events[:n_latency], durations,
                                     rate, sample_every)
            throughput = _throughput_phase(tmp, bootstrap, events, durations)
        finally:
            broker.stop(15.0)
    result = {
        "benchmark": "stream.processor",
        "comparison": "same run, same broker, a fresh SQLite online store per phase: (1) event-to-online-"
                      "feature latency at a fixed produce rate, (2) consumer throughput "
                      "with the producer unthrottled",
        "data": {**world_info, "events_used": len(events)},
        "setup": {"broker": "noida-db (Kafka protocol) on 127.0.0.1", "online_store": "sqlite",
                  "partitions": 4, "max_batch_events": 2000, "consumers": 1},
        "latency": latency,
        "throughput": throughput,
        "machine": machine_info(),
    }
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
